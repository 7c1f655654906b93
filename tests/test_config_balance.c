/* The configuration of balancing and health in an upstream group: the algorithm and its
 * hash, passive health and outlier ejection, panic mode, slow start, retries, active health
 * checks, and backup and down servers. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shoal/config/config.h"

#include "check_run.h"
#include "config_fixture.h"

/* body on line 3, in the one upstream group. */
#define UPSTREAM_WITH(body) \
	"upstreams = (\n  { name = \"app\"; servers = ( { address = \"127.0.0.1:9001\"; } );\n" body \
	"\n  }\n);\n" MIN_SERVERS
/* body on line 3, in a hash group. */
#define HASH_WITH(body) UPSTREAM_WITH("    balance = \"hash\"; " body)
/* body on line 4, in the health_check of the one upstream group (on line 3). */
#define CHECK_WITH(body) UPSTREAM_WITH("    health_check = {\n      " body "\n    };")
/* body on line 4, in the one server of the one upstream group. */
#define PEER(body) \
	"upstreams = (\n  { name = \"app\";\n    servers = (\n      { " body " }\n    ); }\n);\n" \
	MIN_SERVERS

/* Loads text, which must load; free with shoal_config_free. */
static void load(struct shoal_config *cfg, const char *text)
{
	char path[PATH_MAX];
	struct shoal_err err = { "" };

	write_conf(path, sizeof(path), "shoal.conf", text);
	ck_assert_msg(shoal_config_load(cfg, path, &err) == 0, "%s\n%s", err.msg, text);
}

/* Dumps cfg, which must load again the same and print each of lines; frees both. */
static void expect_round_trip(struct shoal_config *cfg, const char *const *lines, size_t n)
{
	struct shoal_config again;
	char *text = dump_and_reload(cfg, &again);

	assert_same_config(cfg, &again);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(strstr(text, lines[i]), "dump lacks '%s':\n%s", lines[i], text);
	free(text);
	shoal_config_free(cfg);
	shoal_config_free(&again);
}

START_TEST(test_defaults)
{
	struct shoal_config cfg;
	const struct shoal_upstream_conf *u;
	const struct shoal_upstream_policy *p;

	load(&cfg, UPSTREAM_WITH(""));
	u = &cfg.upstreams[0];
	p = &u->policy;
	ck_assert(!u->servers[0].backup);
	ck_assert(!u->servers[0].down);
	ck_assert(!u->servers[0].resolve);
	ck_assert_ptr_null(u->servers[0].host);
	ck_assert_ptr_null(u->servers[0].resolved);
	ck_assert_str_eq(shoal_config_server_label(&u->servers[0]), "127.0.0.1:9001");
	ck_assert_int_eq(u->resolve_interval_ms, 10000);
	ck_assert_int_eq(p->balance, SHOAL_BALANCE_ROUND_ROBIN);
	ck_assert_int_eq(p->hash_key, SHOAL_HASH_CLIENT_IP);
	ck_assert_ptr_null(p->hash_name);
	ck_assert_int_eq(p->hash_balance_factor, 0);
	ck_assert_int_eq(p->max_fails, 1);
	ck_assert_int_eq(p->fail_timeout_ms, 10000);
	ck_assert_int_eq(p->max_ejection_percent, 50);
	ck_assert_ptr_null(p->fail_status);
	ck_assert_uint_eq(p->nfail_status, 0);
	ck_assert_int_eq(p->panic_threshold, 0);
	ck_assert_int_eq(p->slow_start_ms, 0);
	ck_assert_int_eq(p->retries, 2);
	ck_assert_int_eq(p->retry_timeout_ms, 0);
	ck_assert_int_eq(p->stall_timeout_ms, 0);
	ck_assert(!p->retry_non_idempotent);
	ck_assert_int_eq(u->health_check.type, SHOAL_CHECK_NONE);
	ck_assert_ptr_null(u->health_check.path);
	ck_assert_ptr_null(u->health_check.host);
	shoal_config_free(&cfg);
}
END_TEST

/* Every key set to something other than its default; hash_key before balance in the file. */
static const char every_key[] =
	"upstreams = (\n"
	"  { name = \"app\";\n"
	"    servers = ( { address = \"127.0.0.1:9001\"; weight = 2; },\n"
	"                { address = \"127.0.0.1:9002\"; backup = true; },\n"
	"                { address = \"127.0.0.1:9003\"; down = true; } );\n"
	"    hash_key = \"cookie:session_id\"; balance = \"hash\"; hash_balance_factor = 150;\n"
	"    max_fails = 0; fail_timeout = 2.5; max_ejection_percent = 100;\n"
	"    fail_status = [ 503, 502, 504 ]; panic_threshold = 30; slow_start = 60;\n"
	"    retries = 15; retry_timeout = 0.25; retry_non_idempotent = true;\n"
	"    stall_timeout = 0.3;\n"
	"    health_check = { type = \"http\"; path = \"/health?deep=1\"; host = \"app.internal:8080\";\n"
	"                     interval = 5; timeout = 0.5; rise = 1; fall = 10; status = [ 204, 204 ]; };\n"
	"  }\n"
	");\n" MIN_SERVERS;

static void expect_every_key(const struct shoal_upstream_conf *u)
{
	const struct shoal_upstream_policy *p = &u->policy;
	const struct shoal_health_check_conf *hc = &u->health_check;

	ck_assert_uint_eq(u->nservers, 3);
	ck_assert(!u->servers[0].backup && !u->servers[0].down);
	ck_assert(u->servers[1].backup && !u->servers[1].down);
	ck_assert(!u->servers[2].backup && u->servers[2].down);
	ck_assert_int_eq(p->balance, SHOAL_BALANCE_HASH);
	ck_assert_int_eq(p->hash_key, SHOAL_HASH_COOKIE);
	ck_assert_str_eq(p->hash_name, "session_id");
	ck_assert_int_eq(p->hash_balance_factor, 150);
	ck_assert_int_eq(p->max_fails, 0);
	ck_assert_int_eq(p->fail_timeout_ms, 2500);
	ck_assert_int_eq(p->max_ejection_percent, 100);
	ck_assert_uint_eq(p->nfail_status, 3);
	ck_assert_int_eq(p->fail_status[0], 503);
	ck_assert_int_eq(p->fail_status[1], 502);
	ck_assert_int_eq(p->fail_status[2], 504);
	ck_assert_int_eq(p->panic_threshold, 30);
	ck_assert_int_eq(p->slow_start_ms, 60000);
	ck_assert_int_eq(p->retries, 15);
	ck_assert_int_eq(p->retry_timeout_ms, 250);
	ck_assert_int_eq(p->stall_timeout_ms, 300);
	ck_assert(p->retry_non_idempotent);
	ck_assert_int_eq(hc->type, SHOAL_CHECK_HTTP);
	ck_assert_str_eq(hc->path, "/health?deep=1");
	ck_assert_str_eq(hc->host, "app.internal:8080");
	ck_assert_int_eq(hc->interval_ms, 5000);
	ck_assert_int_eq(hc->timeout_ms, 500);
	ck_assert_int_eq(hc->rise, 1);
	ck_assert_int_eq(hc->fall, 10);
	ck_assert_int_eq(hc->status_min, 204);
	ck_assert_int_eq(hc->status_max, 204);
}

START_TEST(test_every_key)
{
	static const char *const lines[] = {
		"\n        backup = true;\n        down = false;\n",
		"\n        backup = false;\n        down = true;\n",
		"\n    balance = \"hash\";\n    hash_key = \"cookie:session_id\";\n"
		"    hash_balance_factor = 150;\n    max_fails = 0;\n    fail_timeout = 2.5;\n"
		"    max_ejection_percent = 100;\n    fail_status = [ 503, 502, 504 ];\n"
		"    panic_threshold = 30;\n    slow_start = 60;\n    retries = 15;\n"
		"    retry_timeout = 0.25;\n    retry_non_idempotent = true;\n    stall_timeout = 0.3;\n",
		"\n    health_check = {\n      type = \"http\";\n      path = \"/health?deep=1\";\n"
		"      host = \"app.internal:8080\";\n      interval = 5;\n      timeout = 0.5;\n"
		"      rise = 1;\n      fall = 10;\n      status = [ 204, 204 ];\n    };\n",
	};
	struct shoal_config cfg;

	load(&cfg, every_key);
	expect_every_key(&cfg.upstreams[0]);
	expect_round_trip(&cfg, lines, sizeof(lines) / sizeof(lines[0]));
}
END_TEST

/* The dump of the defaults: every key but the hash ones, which a group that does not hash
 * may not set; no health check. */
START_TEST(test_dump_of_defaults)
{
	static const char *const lines[] = {
		"\n        weight = 1;\n        backup = false;\n        down = false;\n",
		"\n    tunnel_timeout = 3600;\n    balance = \"round_robin\";\n    max_fails = 1;\n"
		"    fail_timeout = 10;\n    max_ejection_percent = 50;\n    fail_status = [ ];\n"
		"    panic_threshold = 0;\n    slow_start = 0;\n    retries = 2;\n"
		"    retry_timeout = 0;\n    retry_non_idempotent = false;\n    stall_timeout = 0;\n"
		"    # health_check is unset\n  }\n",
	};
	struct shoal_config cfg;

	load(&cfg, UPSTREAM_WITH(""));
	expect_round_trip(&cfg, lines, sizeof(lines) / sizeof(lines[0]));
}
END_TEST

struct balance_case {
	const char *text; /* in an upstream group */
	enum shoal_balance balance;
	enum shoal_hash_key hash_key;
	const char *hash_name;
	const char *dumped; /* after tunnel_timeout */
};

static const struct balance_case balance_cases[] = {
	{ "balance = \"round_robin\";", SHOAL_BALANCE_ROUND_ROBIN, SHOAL_HASH_CLIENT_IP, NULL,
	  "balance = \"round_robin\";\n    max_fails = 1;" },
	{ "balance = \"least_conn\";", SHOAL_BALANCE_LEAST_CONN, SHOAL_HASH_CLIENT_IP, NULL,
	  "balance = \"least_conn\";\n    max_fails = 1;" },
	{ "balance = \"random\";", SHOAL_BALANCE_RANDOM, SHOAL_HASH_CLIENT_IP, NULL,
	  "balance = \"random\";\n    max_fails = 1;" },
	{ "balance = \"hash\";", SHOAL_BALANCE_HASH, SHOAL_HASH_CLIENT_IP, NULL,
	  "balance = \"hash\";\n    hash_key = \"client_ip\";\n    hash_balance_factor = 0;" },
	{ "balance = \"hash\"; hash_key = \"client_ip\";", SHOAL_BALANCE_HASH, SHOAL_HASH_CLIENT_IP,
	  NULL, "hash_key = \"client_ip\";" },
	{ "balance = \"hash\"; hash_key = \"uri\";", SHOAL_BALANCE_HASH, SHOAL_HASH_URI, NULL,
	  "hash_key = \"uri\";" },
	{ "balance = \"hash\"; hash_key = \"header:X-User\";", SHOAL_BALANCE_HASH,
	  SHOAL_HASH_HEADER, "X-User", "hash_key = \"header:X-User\";" },
	{ "balance = \"hash\"; hash_key = \"header:!#$%&'*+-.^_`|~09az\";", SHOAL_BALANCE_HASH,
	  SHOAL_HASH_HEADER, "!#$%&'*+-.^_`|~09az", "hash_key = \"header:!#$%&'*+-.^_`|~09az\";" },
	{ "balance = \"hash\"; hash_key = \"cookie:sid\";", SHOAL_BALANCE_HASH, SHOAL_HASH_COOKIE,
	  "sid", "hash_key = \"cookie:sid\";" },
	{ "hash_key = \"uri\"; balance = \"hash\";", SHOAL_BALANCE_HASH, SHOAL_HASH_URI, NULL,
	  "hash_key = \"uri\";" },
};

START_TEST(test_balance_values)
{
	const struct balance_case *c = &balance_cases[_i];
	char conf[1024];
	const char *lines[1] = { c->dumped };
	struct shoal_config cfg;

	snprintf(conf, sizeof(conf), UPSTREAM_WITH("    %s"), c->text);
	load(&cfg, conf);
	ck_assert_int_eq(cfg.upstreams[0].policy.balance, c->balance);
	ck_assert_int_eq(cfg.upstreams[0].policy.hash_key, c->hash_key);
	ck_assert_pstr_eq(cfg.upstreams[0].policy.hash_name, c->hash_name);
	expect_round_trip(&cfg, lines, 1);
}
END_TEST

/* The least and greatest values of each range load. */
static const char *const accepted[] = {
	"balance = \"hash\"; hash_balance_factor = 101;",
	"balance = \"hash\"; hash_balance_factor = 10000;",
	"max_fails = 1000;",
	"fail_timeout = 0.001;",
	"fail_timeout = 3600;",
	"max_ejection_percent = 0;",
	"fail_status = [ 500, 599 ];",
	"fail_status = ( 502 );",
	"panic_threshold = 100;",
	"slow_start = 3600;",
	"retries = 0;",
	"retry_timeout = 3600;",
	"resolve_interval = 3600;",
	"health_check = { type = \"tcp\"; interval = 0.1; timeout = 0.001; };",
	"health_check = { type = \"tcp\"; interval = 3600; timeout = 3600; rise = 100; "
	"fall = 100; };",
	"health_check = { type = \"http\"; status = [ 100, 599 ]; host = \"10.0.0.1\"; };",
	"health_check = { type = \"http\"; host = \"[::1]:65535\"; path = \"/\"; };",
	"health_check = { type = \"http\"; host = \"a-b.c_d:1\"; };",
};

START_TEST(test_accepted)
{
	char conf[1024];
	struct shoal_config cfg;

	snprintf(conf, sizeof(conf), UPSTREAM_WITH("    %s"), accepted[_i]);
	load(&cfg, conf);
	expect_round_trip(&cfg, NULL, 0);
}
END_TEST

START_TEST(test_check_defaults)
{
	struct shoal_config cfg;
	const struct shoal_health_check_conf *hc;

	load(&cfg, UPSTREAM_WITH("    health_check = { type = \"http\"; };"));
	hc = &cfg.upstreams[0].health_check;
	ck_assert_int_eq(hc->type, SHOAL_CHECK_HTTP);
	ck_assert_str_eq(hc->path, "/");
	ck_assert_ptr_null(hc->host);
	ck_assert_int_eq(hc->interval_ms, 2000);
	ck_assert_int_eq(hc->timeout_ms, 1000);
	ck_assert_int_eq(hc->rise, 2);
	ck_assert_int_eq(hc->fall, 3);
	ck_assert_int_eq(hc->status_min, 200);
	ck_assert_int_eq(hc->status_max, 399);
	expect_round_trip(&cfg, (const char *const[]){ "\n      path = \"/\";\n"
						      "      # host is unset\n" }, 1);
}
END_TEST

/* A tcp check prints none of the keys it may not have, so that its dump loads. */
START_TEST(test_tcp_check)
{
	static const char *const lines[] = {
		"\n    health_check = {\n      type = \"tcp\";\n      interval = 2;\n"
		"      timeout = 1;\n      rise = 2;\n      fall = 3;\n    };\n",
	};
	struct shoal_config cfg;

	load(&cfg, UPSTREAM_WITH("    health_check = { type = \"tcp\"; };"));
	ck_assert_int_eq(cfg.upstreams[0].health_check.type, SHOAL_CHECK_TCP);
	expect_round_trip(&cfg, lines, 1);
}
END_TEST

/* A timeout left to its default is cut to a shorter interval; one set to it is kept. */
START_TEST(test_check_timeout_fits_the_interval)
{
	struct shoal_config cfg;

	load(&cfg, UPSTREAM_WITH("    health_check = { type = \"tcp\"; interval = 0.5; };"));
	ck_assert_int_eq(cfg.upstreams[0].health_check.interval_ms, 500);
	ck_assert_int_eq(cfg.upstreams[0].health_check.timeout_ms, 500);
	expect_round_trip(&cfg, (const char *const[]){ "\n      timeout = 0.5;\n" }, 1);
	load(&cfg, UPSTREAM_WITH("    health_check = { type = \"tcp\"; interval = 0.5; "
				 "timeout = 0.5; };"));
	ck_assert_int_eq(cfg.upstreams[0].health_check.timeout_ms, 500);
	shoal_config_free(&cfg);
	load(&cfg, UPSTREAM_WITH("    health_check = { type = \"tcp\"; interval = 0.5; "
				 "timeout = 0.2; };"));
	ck_assert_int_eq(cfg.upstreams[0].health_check.timeout_ms, 200);
	shoal_config_free(&cfg);
}
END_TEST

/* A name is looked up at load: its first address stands in until the checker looks again,
 * and the name as written names the server and is what the dump prints. */
START_TEST(test_resolve_name)
{
	static const char *const lines[] = {
		"\n        resolve = true;\n        address = \"localhost:9001\";\n",
		"\n        resolve = true;\n        address = \"127.0.0.1:9001\";\n",
		"\n    resolve_interval = 1;\n",
	};
	struct shoal_config cfg;
	const struct shoal_upstream_server_conf *sv;

	load(&cfg, "upstreams = (\n  { name = \"app\"; resolve_interval = 1;\n"
		   "    servers = ( { resolve = true; address = \"localhost:9001\"; },\n"
		   "                { address = \"127.0.0.1:9001\"; resolve = true; } ); }\n);\n"
		   MIN_SERVERS);
	sv = cfg.upstreams[0].servers;
	ck_assert_int_eq(cfg.upstreams[0].resolve_interval_ms, 1000);
	ck_assert(sv[0].resolve);
	ck_assert_str_eq(sv[0].host, "localhost:9001");
	ck_assert_str_eq(shoal_config_server_label(&sv[0]), "localhost:9001");
	ck_assert_uint_ge(sv[0].nresolved, 1);
	ck_assert(shoal_addr_equal(&sv[0].address, &sv[0].resolved[0]));
	for (size_t i = 0; i < sv[0].nresolved; i++)
		ck_assert_msg(strcmp(sv[0].resolved[i].text, "127.0.0.1:9001") == 0 ||
			      strcmp(sv[0].resolved[i].text, "[::1]:9001") == 0,
			      "localhost resolved to %s", sv[0].resolved[i].text);
	/* A numeric address has nothing to look up; it is a server apart from the name. */
	ck_assert(sv[1].resolve);
	ck_assert_ptr_null(sv[1].host);
	ck_assert_uint_eq(sv[1].nresolved, 0);
	ck_assert_str_eq(shoal_config_server_label(&sv[1]), "127.0.0.1:9001");
	expect_round_trip(&cfg, lines, sizeof(lines) / sizeof(lines[0]));
}
END_TEST

/* Taking every server out by configuration is allowed (requests then get 503). */
START_TEST(test_all_down)
{
	struct shoal_config cfg;

	load(&cfg, PEER("address = \"127.0.0.1:1\"; down = true; },\n"
			"      { address = \"127.0.0.1:2\"; down = true; backup = true;"));
	ck_assert(cfg.upstreams[0].servers[0].down);
	ck_assert(cfg.upstreams[0].servers[1].down);
	ck_assert(cfg.upstreams[0].servers[1].backup);
	shoal_config_free(&cfg);
}
END_TEST

#define HASH_ONLY "applies only to balance = \"hash\""
#define HASH_KEY_FORM "must be \"client_ip\", \"uri\", \"header:NAME\" or \"cookie:NAME\""
#define FACTOR_RANGE "must be 0 (unbounded) or an integer from 101 to 10000"
#define PROBE_PATH "must be a path and query of visible ASCII characters"
#define PROBE_HOST "must be a host name or address with an optional port"
#define STATUS_PAIR "must be the least and the greatest status that pass, such as [ 200, 399 ]"

static const struct error_case error_cases[] = {
	/* balance */
	{ UPSTREAM_WITH("    balance = \"weighted\";"), 3, "upstreams[0].balance",
	  "must be one of round_robin, least_conn, random, hash" },
	{ UPSTREAM_WITH("    balance = \"\";"), 3, "upstreams[0].balance", "must not be empty" },
	{ UPSTREAM_WITH("    balance = 1;"), 3, "upstreams[0].balance",
	  "must be a string, not an integer" },
	/* hash_key */
	{ UPSTREAM_WITH("    hash_key = \"uri\";"), 3, "upstreams[0].hash_key",
	  HASH_ONLY " (this group's is \"round_robin\")" },
	{ UPSTREAM_WITH("    balance = \"least_conn\";\n    hash_key = \"client_ip\";"), 4,
	  "upstreams[0].hash_key", HASH_ONLY " (this group's is \"least_conn\")" },
	{ HASH_WITH("hash_key = \"url\";"), 3, "upstreams[0].hash_key",
	  HASH_KEY_FORM ", not \"url\"" },
	{ HASH_WITH("hash_key = \"Client_IP\";"), 3, "upstreams[0].hash_key", HASH_KEY_FORM },
	{ HASH_WITH("hash_key = \"header\";"), 3, "upstreams[0].hash_key", HASH_KEY_FORM },
	{ HASH_WITH("hash_key = \"header:\";"), 3, "upstreams[0].hash_key",
	  "'header:': NAME must be a header field name of letters, digits and "
	  "!#$%&'*+-.^_`|~ only" },
	{ HASH_WITH("hash_key = \"header:X User\";"), 3, "upstreams[0].hash_key",
	  "must be a header field name" },
	{ HASH_WITH("hash_key = \"header:X:Y\";"), 3, "upstreams[0].hash_key",
	  "must be a header field name" },
	{ HASH_WITH("hash_key = \"cookie:a=b\";"), 3, "upstreams[0].hash_key",
	  "'cookie:a=b': NAME must be a cookie name" },
	{ HASH_WITH("hash_key = \"cookie:\";"), 3, "upstreams[0].hash_key",
	  "must be a cookie name" },
	{ HASH_WITH("hash_key = \"\";"), 3, "upstreams[0].hash_key", "must not be empty" },
	{ HASH_WITH("hash_key = 5;"), 3, "upstreams[0].hash_key",
	  "must be a string, not an integer" },
	/* hash_balance_factor */
	{ UPSTREAM_WITH("    hash_balance_factor = 150;"), 3, "upstreams[0].hash_balance_factor",
	  HASH_ONLY " (this group's is \"round_robin\")" },
	{ UPSTREAM_WITH("    hash_balance_factor = 0;"), 3, "upstreams[0].hash_balance_factor",
	  HASH_ONLY },
	{ HASH_WITH("hash_balance_factor = 100;"), 3, "upstreams[0].hash_balance_factor",
	  FACTOR_RANGE },
	{ HASH_WITH("hash_balance_factor = 10001;"), 3, "upstreams[0].hash_balance_factor",
	  FACTOR_RANGE },
	{ HASH_WITH("hash_balance_factor = -1;"), 3, "upstreams[0].hash_balance_factor",
	  FACTOR_RANGE },
	{ HASH_WITH("hash_balance_factor = 150.0;"), 3, "upstreams[0].hash_balance_factor",
	  FACTOR_RANGE },
	{ HASH_WITH("hash_balance_factor = \"150\";"), 3, "upstreams[0].hash_balance_factor",
	  FACTOR_RANGE },
	/* passive health */
	{ UPSTREAM_WITH("    max_fails = -1;"), 3, "upstreams[0].max_fails",
	  "must be an integer from 0 to 1000" },
	{ UPSTREAM_WITH("    max_fails = 1001;"), 3, "upstreams[0].max_fails", "from 0 to 1000" },
	{ UPSTREAM_WITH("    fail_timeout = 0;"), 3, "upstreams[0].fail_timeout",
	  "must be a number of seconds from 0.001 to 3600" },
	{ UPSTREAM_WITH("    fail_timeout = 3600.001;"), 3, "upstreams[0].fail_timeout",
	  "from 0.001 to 3600" },
	{ UPSTREAM_WITH("    max_ejection_percent = -1;"), 3, "upstreams[0].max_ejection_percent",
	  "must be an integer from 0 to 100" },
	{ UPSTREAM_WITH("    max_ejection_percent = 101;"), 3,
	  "upstreams[0].max_ejection_percent", "from 0 to 100" },
	{ UPSTREAM_WITH("    fail_status = 502;"), 3, "upstreams[0].fail_status",
	  "must be an array of statuses, such as [ 502, 503 ]" },
	{ UPSTREAM_WITH("    fail_status = [ 499 ];"), 3, "upstreams[0].fail_status[0]",
	  "must be a status from 500 to 599" },
	{ UPSTREAM_WITH("    fail_status = [ 502, 600 ];"), 3, "upstreams[0].fail_status[1]",
	  "must be a status from 500 to 599" },
	{ UPSTREAM_WITH("    fail_status = [ \"502\" ];"), 3, "upstreams[0].fail_status[0]",
	  "must be a status from 500 to 599" },
	{ UPSTREAM_WITH("    fail_status = [ 502.0 ];"), 3, "upstreams[0].fail_status[0]",
	  "must be a status from 500 to 599" },
	{ UPSTREAM_WITH("    fail_status = [ 502, 503, 502 ];"), 3, "upstreams[0].fail_status[2]",
	  "502 is listed twice (also at index 0)" },
	{ UPSTREAM_WITH("    panic_threshold = -1;"), 3, "upstreams[0].panic_threshold",
	  "must be an integer from 0 to 100" },
	{ UPSTREAM_WITH("    panic_threshold = 101;"), 3, "upstreams[0].panic_threshold",
	  "from 0 to 100" },
	{ UPSTREAM_WITH("    slow_start = -0.001;"), 3, "upstreams[0].slow_start",
	  "must be a number of seconds from 0 to 3600" },
	{ UPSTREAM_WITH("    slow_start = 3601;"), 3, "upstreams[0].slow_start", "from 0 to 3600" },
	/* retries */
	{ UPSTREAM_WITH("    retries = -1;"), 3, "upstreams[0].retries",
	  "must be an integer from 0 to 15" },
	{ UPSTREAM_WITH("    retries = 16;"), 3, "upstreams[0].retries", "from 0 to 15" },
	{ UPSTREAM_WITH("    stall_timeout = -1;"), 3, "upstreams[0].stall_timeout",
	  "must be a number of seconds from 0 to 3600" },
	{ UPSTREAM_WITH("    retry_timeout = -1;"), 3, "upstreams[0].retry_timeout",
	  "must be a number of seconds from 0 to 3600" },
	{ UPSTREAM_WITH("    retry_timeout = 3600.5;"), 3, "upstreams[0].retry_timeout",
	  "from 0 to 3600" },
	{ UPSTREAM_WITH("    retry_non_idempotent = 1;"), 3, "upstreams[0].retry_non_idempotent",
	  "must be true or false, not an integer" },
	/* servers */
	{ PEER("address = \"127.0.0.1:1\"; backup = \"yes\";"), 4,
	  "upstreams[0].servers[0].backup", "must be true or false, not a string" },
	{ PEER("address = \"127.0.0.1:1\"; down = 1;"), 4, "upstreams[0].servers[0].down",
	  "must be true or false, not an integer" },
	{ PEER("address = \"127.0.0.1:1\"; backup = true;"), 3, "upstreams[0].servers",
	  "a group needs at least one server that is not backup" },
	{ PEER("address = \"127.0.0.1:1\"; backup = true; down = false; },\n"
	       "      { address = \"127.0.0.1:2\"; backup = true;"), 3, "upstreams[0].servers",
	  "a group needs at least one server that is not backup" },
	/* resolve */
	{ PEER("address = \"localhost:9001\";"), 4, "upstreams[0].servers[0].address",
	  "'localhost:9001' is not an IPv4 address (a host name needs resolve = true)" },
	{ PEER("resolve = true; address = \"nonexistent.invalid:80\";"), 4,
	  "upstreams[0].servers[0].address", "cannot resolve 'nonexistent.invalid:80': " },
	{ PEER("resolve = true; address = \"localhost\";"), 4, "upstreams[0].servers[0].address",
	  "'localhost' must be IPv4:PORT, [IPv6]:PORT or NAME:PORT, with a port from 1 to 65535" },
	{ PEER("resolve = true; address = \"localhost:0\";"), 4,
	  "upstreams[0].servers[0].address", "must be IPv4:PORT, [IPv6]:PORT or NAME:PORT" },
	{ PEER("resolve = true; address = \"local host:80\";"), 4,
	  "upstreams[0].servers[0].address", "must be IPv4:PORT, [IPv6]:PORT or NAME:PORT" },
	{ PEER("resolve = true; address = \"0.0.0.0:80\";"), 4,
	  "upstreams[0].servers[0].address", "'0.0.0.0:80' is a wildcard" },
	{ PEER("resolve = \"yes\"; address = \"localhost:80\";"), 4,
	  "upstreams[0].servers[0].resolve", "must be true or false, not a string" },
	{ PEER("resolve = true; address = \"localhost:9001\"; },\n"
	       "      { resolve = true; address = \"localhost:9001\";"), 5,
	  "upstreams[0].servers[1].address", "'localhost:9001' is listed twice (also at servers[0])" },
	{ UPSTREAM_WITH("    resolve_interval = 0.999;"), 3, "upstreams[0].resolve_interval",
	  "must be a number of seconds from 1 to 3600" },
	{ UPSTREAM_WITH("    resolve_interval = 3601;"), 3, "upstreams[0].resolve_interval",
	  "from 1 to 3600" },
	/* health_check */
	{ UPSTREAM_WITH("    health_check = 5;"), 3, "upstreams[0].health_check",
	  "must be a group { type = ...; }" },
	{ UPSTREAM_WITH("    health_check = ( { type = \"tcp\"; } );"), 3,
	  "upstreams[0].health_check", "must be a group" },
	{ CHECK_WITH("path = \"/\";"), 3, "upstreams[0].health_check.type",
	  "required key is missing" },
	{ CHECK_WITH("type = \"icmp\";"), 4, "upstreams[0].health_check.type",
	  "must be one of http, tcp" },
	{ CHECK_WITH("type = \"HTTP\";"), 4, "upstreams[0].health_check.type",
	  "must be one of http, tcp" },
	{ CHECK_WITH("type = true;"), 4, "upstreams[0].health_check.type",
	  "must be a string, not a boolean" },
	{ CHECK_WITH("type = \"tcp\"; port = 80;"), 4, "",
	  "unknown key 'upstreams[0].health_check.port'" },
	{ CHECK_WITH("type = \"http\"; path = \"health\";"), 4, "upstreams[0].health_check.path",
	  "'health' must start with '/'" },
	{ CHECK_WITH("type = \"http\"; path = \"/a b\";"), 4, "upstreams[0].health_check.path",
	  PROBE_PATH },
	{ CHECK_WITH("type = \"http\"; path = \"/a\\tb\";"), 4, "upstreams[0].health_check.path",
	  PROBE_PATH },
	{ CHECK_WITH("type = \"http\"; path = \"/a#b\";"), 4, "upstreams[0].health_check.path",
	  PROBE_PATH },
	{ CHECK_WITH("type = \"http\"; path = \"/\\xc3\\xa9\";"), 4,
	  "upstreams[0].health_check.path", PROBE_PATH },
	{ CHECK_WITH("type = \"http\"; path = \"\";"), 4, "upstreams[0].health_check.path",
	  "must not be empty" },
	{ CHECK_WITH("type = \"http\"; host = \"a b\";"), 4, "upstreams[0].health_check.host",
	  "'a b' " PROBE_HOST },
	{ CHECK_WITH("type = \"http\"; host = \"a/b\";"), 4, "upstreams[0].health_check.host",
	  PROBE_HOST },
	{ CHECK_WITH("type = \"http\"; host = \":80\";"), 4, "upstreams[0].health_check.host",
	  PROBE_HOST },
	{ CHECK_WITH("type = \"http\"; host = \"a:\";"), 4, "upstreams[0].health_check.host",
	  PROBE_HOST },
	{ CHECK_WITH("type = \"http\"; host = \"a:0\";"), 4, "upstreams[0].health_check.host",
	  PROBE_HOST },
	{ CHECK_WITH("type = \"http\"; host = \"a:65536\";"), 4, "upstreams[0].health_check.host",
	  PROBE_HOST },
	{ CHECK_WITH("type = \"http\"; host = \"a:8x\";"), 4, "upstreams[0].health_check.host",
	  PROBE_HOST },
	{ CHECK_WITH("type = \"http\"; host = \"[::1\";"), 4, "upstreams[0].health_check.host",
	  PROBE_HOST },
	{ CHECK_WITH("type = \"http\"; host = \"[]\";"), 4, "upstreams[0].health_check.host",
	  PROBE_HOST },
	{ CHECK_WITH("type = \"http\"; host = \"[::1]x\";"), 4, "upstreams[0].health_check.host",
	  PROBE_HOST },
	{ CHECK_WITH("type = \"tcp\"; interval = 0.099;"), 4,
	  "upstreams[0].health_check.interval", "must be a number of seconds from 0.1 to 3600" },
	{ CHECK_WITH("type = \"tcp\"; interval = 3601;"), 4, "upstreams[0].health_check.interval",
	  "from 0.1 to 3600" },
	{ CHECK_WITH("type = \"tcp\"; timeout = 0;"), 4, "upstreams[0].health_check.timeout",
	  "must be a number of seconds from 0.001 to 3600" },
	{ CHECK_WITH("type = \"tcp\";\n      timeout = 3;"), 5, "upstreams[0].health_check.timeout",
	  "must not exceed interval (2 s)" },
	{ CHECK_WITH("type = \"tcp\"; interval = 0.5;\n      timeout = 1;"), 5,
	  "upstreams[0].health_check.timeout", "must not exceed interval (0.5 s)" },
	{ CHECK_WITH("type = \"tcp\"; rise = 0;"), 4, "upstreams[0].health_check.rise",
	  "must be an integer from 1 to 100" },
	{ CHECK_WITH("type = \"tcp\"; rise = 101;"), 4, "upstreams[0].health_check.rise",
	  "from 1 to 100" },
	{ CHECK_WITH("type = \"tcp\"; fall = 0;"), 4, "upstreams[0].health_check.fall",
	  "must be an integer from 1 to 100" },
	{ CHECK_WITH("type = \"tcp\"; fall = 101;"), 4, "upstreams[0].health_check.fall",
	  "from 1 to 100" },
	{ CHECK_WITH("type = \"http\"; status = 200;"), 4, "upstreams[0].health_check.status",
	  STATUS_PAIR },
	{ CHECK_WITH("type = \"http\"; status = [ 200 ];"), 4, "upstreams[0].health_check.status",
	  STATUS_PAIR },
	{ CHECK_WITH("type = \"http\"; status = [ 200, 300, 400 ];"), 4,
	  "upstreams[0].health_check.status", STATUS_PAIR },
	{ CHECK_WITH("type = \"http\"; status = [ 99, 399 ];"), 4,
	  "upstreams[0].health_check.status[0]", "must be a status from 100 to 599" },
	{ CHECK_WITH("type = \"http\"; status = [ 200, 600 ];"), 4,
	  "upstreams[0].health_check.status[1]", "must be a status from 100 to 599" },
	{ CHECK_WITH("type = \"http\"; status = [ \"200\", \"399\" ];"), 4,
	  "upstreams[0].health_check.status[0]", "must be a status from 100 to 599" },
	{ CHECK_WITH("type = \"http\"; status = [ 400, 200 ];"), 4,
	  "upstreams[0].health_check.status",
	  "the least status, 400, is greater than the greatest, 200" },
	{ CHECK_WITH("type = \"tcp\";\n      path = \"/\";"), 5, "upstreams[0].health_check.path",
	  "applies only to type = \"http\"" },
	{ CHECK_WITH("type = \"tcp\";\n      host = \"a\";"), 5, "upstreams[0].health_check.host",
	  "applies only to type = \"http\"" },
	{ CHECK_WITH("type = \"tcp\";\n      status = [ 200, 299 ];"), 5,
	  "upstreams[0].health_check.status", "applies only to type = \"http\"" },
};

START_TEST(test_errors)
{
	expect_load_error(&error_cases[_i], _i);
}
END_TEST

static Suite *config_balance_suite(void)
{
	Suite *s = suite_create("config_balance");
	TCase *tc = tcase_create("load");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_every_key);
	tcase_add_test(tc, test_dump_of_defaults);
	tcase_add_loop_test(tc, test_balance_values, 0,
			    (int)(sizeof(balance_cases) / sizeof(balance_cases[0])));
	tcase_add_loop_test(tc, test_accepted, 0, (int)(sizeof(accepted) / sizeof(accepted[0])));
	tcase_add_test(tc, test_check_defaults);
	tcase_add_test(tc, test_tcp_check);
	tcase_add_test(tc, test_check_timeout_fits_the_interval);
	tcase_add_test(tc, test_all_down);
	tcase_add_test(tc, test_resolve_name);
	tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(error_cases) / sizeof(error_cases[0])));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return shoal_check_run(config_balance_suite());
}
