/* The configuration of the reverse proxy: upstream groups, the locations of a server, the
 * window size, and durations in seconds. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shoal/config/config.h"

#include "check_run.h"
#include "config_fixture.h"

/* Upstreams after the servers whose locations name them; integer and fractional seconds. */
static const char proxy_conf[] =
	"proxy_buffer_size = 16384;\n"
	"servers = (\n"
	"  { listen = [ \"127.0.0.1:8080\" ]; root = \"www\";\n"
	"    locations = (\n"
	"      { path = \"/api/\"; proxy = \"api\"; proxy_host = \"api.internal:8080\";\n"
	"        x_forwarded = false; forwarded = true; },\n"
	"      { path = \"/app/\"; proxy = \"app\"; },\n"
	"      { path = \"/\";\n"
	"        root = \"site\"; }\n"
	"    ); }\n"
	");\n"
	"upstreams = (\n"
	"  { name = \"app\"; servers = ( { address = \"127.0.0.1:9001\"; } ); },\n"
	"  { name = \"api\";\n"
	"    servers = ( { address = \"127.0.0.1:9002\"; weight = 3; },\n"
	"                { address = \"[::1]:9003\"; } );\n"
	"    keepalive = 0;\n"
	"    connect_timeout = 2; send_timeout = 1.25; read_timeout = 0.5;\n"
	"    tunnel_timeout = 0.0015; send_proxy_protocol = \"v2\"; }\n"
	");\n";

static void expect_proxy_upstreams(const struct shoal_config *cfg)
{
	const struct shoal_upstream_conf *u;

	ck_assert_uint_eq(cfg->nupstreams, 2);
	u = &cfg->upstreams[0];
	ck_assert_str_eq(u->name, "app");
	ck_assert_uint_eq(u->nservers, 1);
	ck_assert_str_eq(u->servers[0].address.text, "127.0.0.1:9001");
	ck_assert_int_eq(u->servers[0].weight, 1);
	ck_assert_int_eq(u->keepalive, 32);
	ck_assert_int_eq(u->connect_timeout_ms, 5000);
	ck_assert_int_eq(u->send_timeout_ms, 60000);
	ck_assert_int_eq(u->read_timeout_ms, 60000);
	ck_assert_int_eq(u->tunnel_timeout_ms, 3600000);
	ck_assert_int_eq(u->send_proxy_protocol, 0);
	u = &cfg->upstreams[1];
	ck_assert_str_eq(u->name, "api");
	ck_assert_uint_eq(u->nservers, 2);
	ck_assert_str_eq(u->servers[0].address.text, "127.0.0.1:9002");
	ck_assert_int_eq(u->servers[0].weight, 3);
	ck_assert_str_eq(u->servers[1].address.text, "[::1]:9003");
	ck_assert_int_eq(u->servers[1].weight, 1);
	ck_assert_int_eq(u->keepalive, 0);
	ck_assert_int_eq(u->connect_timeout_ms, 2000);
	ck_assert_int_eq(u->send_timeout_ms, 1250);
	ck_assert_int_eq(u->read_timeout_ms, 500);
	ck_assert_int_eq(u->tunnel_timeout_ms, 2);
	ck_assert_int_eq(u->send_proxy_protocol, 2);
}

static void expect_proxy_locations(const struct shoal_server_conf *s)
{
	const struct shoal_location_conf *l;

	ck_assert_uint_eq(s->nlocations, 3);
	l = &s->locations[0];
	ck_assert_str_eq(l->path, "/api/");
	ck_assert_str_eq(l->proxy, "api");
	ck_assert_uint_eq(l->upstream, 1);
	ck_assert_ptr_null(l->root);
	ck_assert_str_eq(l->proxy_host, "api.internal:8080");
	ck_assert(!l->x_forwarded);
	ck_assert(l->forwarded);
	l = &s->locations[1];
	ck_assert_str_eq(l->proxy, "app");
	ck_assert_uint_eq(l->upstream, 0);
	ck_assert_ptr_null(l->proxy_host);
	ck_assert(l->x_forwarded);
	ck_assert(!l->forwarded);
	l = &s->locations[2];
	ck_assert_str_eq(l->path, "/");
	ck_assert_ptr_null(l->proxy);
	expect_str(l->root, "site");
	ck_assert_uint_eq(l->root_line, 9);
}

START_TEST(test_upstreams_and_locations)
{
	char path[PATH_MAX];
	struct shoal_config cfg;
	struct shoal_err err = { "" };

	write_conf(path, sizeof(path), "shoal.conf", proxy_conf);
	ck_assert_msg(shoal_config_load(&cfg, path, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(cfg.proxy_buffer_size, 16384);
	expect_proxy_upstreams(&cfg);
	expect_proxy_locations(&cfg.servers[0]);
	shoal_config_free(&cfg);
}
END_TEST

#define UPSTREAM "upstreams = ({ name = \"app\"; servers = ({ address = \"127.0.0.1:9001\"; }); });\n"
/* body on line 3, in the one upstream group. */
#define UPSTREAM_WITH(body) \
	"upstreams = (\n  { name = \"app\"; servers = ( { address = \"127.0.0.1:9001\"; } );\n" body \
	"\n  }\n);\n" MIN_SERVERS
/* body on line 4, in the one server of the one upstream group. */
#define PEER(body) \
	"upstreams = (\n  { name = \"app\";\n    servers = (\n      { " body " }\n    ); }\n);\n" \
	MIN_SERVERS
/* body from line 5, in the locations of the one server; "app" is an upstream. */
#define LOCATIONS(body) \
	UPSTREAM "servers = (\n  { listen = [\"127.0.0.1:8080\"]; root = \"www\";\n    locations = (\n" \
	body "\n    ); }\n);\n"
#define SECONDS_RANGE "must be a number of seconds from 0.001 to 3600"
#define NORMALISED "must be a normalised path: no \"//\", \".\" or \"..\" segments"
#define NO_QUERY "must be a path without query, fragment, spaces or control characters"

static const struct error_case error_cases[] = {
	/* proxy_buffer_size */
	{ "proxy_buffer_size = 4095;\n" MIN_SERVERS, 1, "proxy_buffer_size",
	  "must be an integer from 4096 to 16777216" },
	{ "proxy_buffer_size = 16777217;\n" MIN_SERVERS, 1, "proxy_buffer_size", "to 16777216" },
	{ "proxy_buffer_size = 65536.0;\n" MIN_SERVERS, 1, "proxy_buffer_size", "not a float" },
	/* upstream groups */
	{ "upstreams = 5;\n" MIN_SERVERS, 1, "upstreams", "must be a list of groups" },
	{ "upstreams = (\n 5 );\n" MIN_SERVERS, 2, "upstreams[0]", "must be a group" },
	{ "upstreams = (\n  { servers = ( { address = \"127.0.0.1:9001\"; } ); }\n);\n" MIN_SERVERS,
	  2, "upstreams[0].name", "required key is missing" },
	{ "upstreams = (\n  { name = \"\"; servers = ( { address = \"127.0.0.1:1\"; } ); }\n);\n"
	  MIN_SERVERS, 2, "upstreams[0].name", "must not be empty" },
	{ "upstreams = (\n  { name = \"a/b\"; servers = ( { address = \"127.0.0.1:1\"; } ); }\n);\n"
	  MIN_SERVERS, 2, "upstreams[0].name", "'a/b' must be letters, digits, '_', '.' and '-' only" },
	{ "upstreams = (\n  { name = \"a b\"; servers = ( { address = \"127.0.0.1:1\"; } ); }\n);\n"
	  MIN_SERVERS, 2, "upstreams[0].name", "must be letters, digits" },
	{ "upstreams = (\n  { name = \"app\"; servers = ( { address = \"127.0.0.1:9001\"; } ); },\n"
	  "  { servers = ( { address = \"127.0.0.1:9002\"; } );\n    name = \"app\"; }\n);\n"
	  MIN_SERVERS, 4, "upstreams[1].name", "\"app\" is already the name of upstreams[0]" },
	{ "upstreams = (\n  { name = \"app\"; }\n);\n" MIN_SERVERS, 2, "upstreams[0].servers",
	  "required key is missing" },
	{ "upstreams = (\n  { name = \"app\"; servers = ( ); }\n);\n" MIN_SERVERS, 2,
	  "upstreams[0].servers", "must not be empty" },
	{ "upstreams = (\n  { name = \"app\"; servers = [ \"127.0.0.1:1\" ]; }\n);\n" MIN_SERVERS, 2,
	  "upstreams[0].servers", "must be a list of groups" },
	{ UPSTREAM_WITH("    keepalive = -1;"), 3, "upstreams[0].keepalive", "from 0 to 10000" },
	{ UPSTREAM_WITH("    keepalive = 10001;"), 3, "upstreams[0].keepalive", "from 0 to 10000" },
	{ UPSTREAM_WITH("    keepalive = \"32\";"), 3, "upstreams[0].keepalive", "not a string" },
	{ UPSTREAM_WITH("    address = \"127.0.0.1:1\";"), 3, "", "unknown key 'upstreams[0].address'" },
	{ UPSTREAM_WITH("    send_proxy_protocol = \"v3\";"), 3, "upstreams[0].send_proxy_protocol",
	  "must be one of v1, v2" },
	{ UPSTREAM_WITH("    send_proxy_protocol = \"V1\";"), 3, "upstreams[0].send_proxy_protocol",
	  "must be one of v1, v2" },
	{ UPSTREAM_WITH("    send_proxy_protocol = 2;"), 3, "upstreams[0].send_proxy_protocol",
	  "must be a string, not an integer" },
	{ UPSTREAM_WITH("    send_proxy_protocol = true;"), 3, "upstreams[0].send_proxy_protocol",
	  "must be a string, not a boolean" },
	{ UPSTREAM_WITH("    send_proxy_protocol = \"\";"), 3, "upstreams[0].send_proxy_protocol",
	  "must not be empty" },
	/* an upstream group's servers */
	{ PEER("weight = 2;"), 4, "upstreams[0].servers[0].address", "required key is missing" },
	{ PEER("address = \"*:9001\";"), 4, "upstreams[0].servers[0].address",
	  "'*:9001' is a wildcard: name the server's own address" },
	{ PEER("address = \"0.0.0.0:9001\";"), 4, "upstreams[0].servers[0].address",
	  "'0.0.0.0:9001' is a wildcard" },
	{ PEER("address = \"[::]:9001\";"), 4, "upstreams[0].servers[0].address",
	  "'[::]:9001' is a wildcard" },
	{ PEER("address = \"127.0.0.1:0\";"), 4, "upstreams[0].servers[0].address",
	  "'127.0.0.1:0': port must be a number from 1 to 65535" },
	{ PEER("address = \"[::1]:0\";"), 4, "upstreams[0].servers[0].address",
	  "port must be a number from 1 to 65535" },
	{ PEER("address = \"localhost:9001\";"), 4, "upstreams[0].servers[0].address",
	  "'localhost:9001' is not an IPv4 address" },
	{ PEER("address = \"127.0.0.1\";"), 4, "upstreams[0].servers[0].address",
	  "expected \"IPv4:port\"" },
	{ PEER("address = 9001;"), 4, "upstreams[0].servers[0].address",
	  "must be a string, not an integer" },
	{ PEER("address = \"\";"), 4, "upstreams[0].servers[0].address", "must not be empty" },
	{ PEER("address = \"127.0.0.1:1\"; weight = 0;"), 4, "upstreams[0].servers[0].weight",
	  "must be an integer from 1 to 1000" },
	{ PEER("address = \"127.0.0.1:1\"; weight = 1001;"), 4, "upstreams[0].servers[0].weight",
	  "from 1 to 1000" },
	{ PEER("address = \"127.0.0.1:1\"; port = 1;"), 4, "",
	  "unknown key 'upstreams[0].servers[0].port'" },
	{ PEER("address = \"[::1]:1\"; },\n      { weight = 2;\n        address = \"[0::1]:1\";"), 6,
	  "upstreams[0].servers[1].address", "'[::1]:1' is listed twice (also at servers[0])" },
	/* durations */
	{ UPSTREAM_WITH("    connect_timeout = 0;"), 3, "upstreams[0].connect_timeout",
	  SECONDS_RANGE },
	{ UPSTREAM_WITH("    connect_timeout = 0.0004;"), 3, "upstreams[0].connect_timeout",
	  SECONDS_RANGE },
	{ UPSTREAM_WITH("    send_timeout = 3601;"), 3, "upstreams[0].send_timeout", SECONDS_RANGE },
	{ UPSTREAM_WITH("    send_timeout = 3600.001;"), 3, "upstreams[0].send_timeout",
	  SECONDS_RANGE },
	{ UPSTREAM_WITH("    read_timeout = -1.0;"), 3, "upstreams[0].read_timeout", SECONDS_RANGE },
	{ UPSTREAM_WITH("    read_timeout = 99999999999L;"), 3, "upstreams[0].read_timeout",
	  SECONDS_RANGE },
	{ UPSTREAM_WITH("    read_timeout = \"5\";"), 3, "upstreams[0].read_timeout",
	  SECONDS_RANGE ", not a string" },
	{ UPSTREAM_WITH("    read_timeout = true;"), 3, "upstreams[0].read_timeout",
	  "not a boolean" },
	{ UPSTREAM_WITH("    tunnel_timeout = 86400.5;"), 3, "upstreams[0].tunnel_timeout",
	  "must be a number of seconds from 0.001 to 86400" },
	/* locations */
	{ "servers = (\n  { listen = [\"127.0.0.1:8080\"]; root = \"www\";\n    locations = (\n"
	  "      { path = \"/\"; root = \"www\"; },\n      { path = \"/api/\";\n        proxy = \"ap\"; }\n"
	  "    ); }\n);\n" UPSTREAM, 6, "servers[0].locations[1].proxy", "no upstream named \"ap\"" },
	{ "servers = (\n  { listen = [\"127.0.0.1:8080\"]; root = \"www\"; },\n"
	  "  { listen = [\"127.0.0.1:8081\"]; root = \"www\";\n"
	  "    locations = ( { path = \"/\"; proxy = \"app\"; } ); }\n);\n", 4,
	  "servers[1].locations[0].proxy", "no upstream named \"app\"" },
	{ LOCATIONS("      { path = \"/\"; proxy = \"app\";\n        root = \"www\"; }"), 6,
	  "servers[0].locations[0].root", "a location has proxy or root, not both" },
	{ LOCATIONS("      { path = \"/\"; root = \"www\"; },\n      { path = \"/a/\"; }"), 6,
	  "servers[0].locations[1]", "needs proxy (an upstream's name) or root (a directory)" },
	{ LOCATIONS("      { path = \"/\"; root = \"www\";\n        proxy_host = \"a\"; }"), 6,
	  "servers[0].locations[0].proxy_host", "applies only to a location with proxy" },
	{ LOCATIONS("      { path = \"/\"; root = \"www\";\n        x_forwarded = true; }"), 6,
	  "servers[0].locations[0].x_forwarded", "applies only to a location with proxy" },
	{ LOCATIONS("      { path = \"/\"; root = \"www\";\n        forwarded = false; }"), 6,
	  "servers[0].locations[0].forwarded", "applies only to a location with proxy" },
	{ LOCATIONS("      { path = \"/a/\"; proxy = \"app\"; },\n      { root = \"www\";\n"
		    "        path = \"/a/\"; }"), 7,
	  "servers[0].locations[1].path", "'/a/' is also the path of locations[0]" },
	{ LOCATIONS("      { proxy = \"app\"; }"), 5, "servers[0].locations[0].path",
	  "required key is missing" },
	{ LOCATIONS("      { path = \"\"; proxy = \"app\"; }"), 5, "servers[0].locations[0].path",
	  "must not be empty" },
	{ LOCATIONS("      { path = \"api/\"; proxy = \"app\"; }"), 5,
	  "servers[0].locations[0].path", "'api/' must start with '/'" },
	{ LOCATIONS("      { path = \"/a?b\"; proxy = \"app\"; }"), 5,
	  "servers[0].locations[0].path", NO_QUERY },
	{ LOCATIONS("      { path = \"/a#b\"; proxy = \"app\"; }"), 5,
	  "servers[0].locations[0].path", NO_QUERY },
	{ LOCATIONS("      { path = \"/a b\"; proxy = \"app\"; }"), 5,
	  "servers[0].locations[0].path", NO_QUERY },
	{ LOCATIONS("      { path = \"//a\"; proxy = \"app\"; }"), 5,
	  "servers[0].locations[0].path", NORMALISED },
	{ LOCATIONS("      { path = \"/a/./b\"; proxy = \"app\"; }"), 5,
	  "servers[0].locations[0].path", NORMALISED },
	{ LOCATIONS("      { path = \"/a/..\"; proxy = \"app\"; }"), 5,
	  "servers[0].locations[0].path", NORMALISED },
	{ LOCATIONS("      { path = \"/\"; proxy = \"\"; }"), 5, "servers[0].locations[0].proxy",
	  "must not be empty" },
	{ LOCATIONS("      { path = \"/\"; proxy = \"a p\"; }"), 5,
	  "servers[0].locations[0].proxy", "'a p' must be letters, digits" },
	{ LOCATIONS("      { path = \"/\"; root = \"\"; }"), 5, "servers[0].locations[0].root",
	  "must not be empty" },
	{ LOCATIONS("      { path = \"/\"; proxy = \"app\"; proxy_host = \"a b\"; }"), 5,
	  "servers[0].locations[0].proxy_host", "'a b' must be a host name or address" },
	{ LOCATIONS("      { path = \"/\"; proxy = \"app\"; forwarded = 1; }"), 5,
	  "servers[0].locations[0].forwarded", "must be true or false, not an integer" },
	{ LOCATIONS("      { path = \"/\"; proxy = \"app\"; upstream = \"app\"; }"), 5, "",
	  "unknown key 'servers[0].locations[0].upstream'" },
	{ SERVER("    locations = 5;"), 3, "servers[0].locations", "must be a list of groups" },
};

START_TEST(test_errors)
{
	expect_load_error(&error_cases[_i], _i);
}
END_TEST

START_TEST(test_dump_round_trip_proxy)
{
	static const char *const lines[] = {
		"\nproxy_buffer_size = 16384;\n", "\n    name = \"api\";\n",
		"\n        address = \"[::1]:9003\";\n", "\n        weight = 3;\n",
		"\n    keepalive = 0;\n", "\n    connect_timeout = 2;\n",
		"\n    send_timeout = 1.25;\n", "\n    read_timeout = 0.5;\n",
		"\n    tunnel_timeout = 0.002;\n", "\n    tunnel_timeout = 3600;\n",
		"\n    send_proxy_protocol = \"v2\";\n", "\n    # send_proxy_protocol is unset\n",
		"\n        path = \"/api/\";\n", "\n        proxy = \"api\";\n",
		"\n        proxy_host = \"api.internal:8080\";\n", "\n        forwarded = true;\n",
	};
	char path[PATH_MAX];
	struct shoal_config cfg, again;
	struct shoal_err err = { "" };
	char *text;

	write_conf(path, sizeof(path), "shoal.conf", proxy_conf);
	ck_assert_msg(shoal_config_load(&cfg, path, &err) == 0, "%s", err.msg);
	text = dump_and_reload(&cfg, &again);
	assert_same_config(&cfg, &again);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		ck_assert_msg(strstr(text, lines[i]), "dump lacks '%s':\n%s", lines[i], text);
	/* The upstream groups come first, so that a reader meets a name before its use. */
	ck_assert_ptr_nonnull(strstr(text, "\nupstreams = (\n  {\n    name = \"app\";"));
	ck_assert(strstr(text, "\nupstreams = (") < strstr(text, "\nservers = ("));
	free(text);
	shoal_config_free(&cfg);
	shoal_config_free(&again);
}
END_TEST

struct duration_case {
	const char *value; /* as written in the file */
	int ms;
	const char *dumped;
};

static const struct duration_case duration_cases[] = {
	{ "0.001", 1, "0.001" },   { "0.0015", 2, "0.002" }, { "1e-3", 1, "0.001" },
	{ "0.1", 100, "0.1" },     { "2", 2000, "2" },      { "2L", 2000, "2" },
	{ "2.0", 2000, "2" },      { "10.25", 10250, "10.25" }, { "100", 100000, "100" },
	{ "3600", 3600000, "3600" }, { "3600.0", 3600000, "3600" },
};

START_TEST(test_duration_values)
{
	const struct duration_case *c = &duration_cases[_i];
	char path[PATH_MAX], conf[512], line[64];
	struct shoal_config cfg, again;
	struct shoal_err err = { "" };
	char *text;

	snprintf(conf, sizeof(conf),
		 "upstreams = ({ name = \"a\"; servers = ({ address = \"127.0.0.1:1\"; });\n"
		 "  read_timeout = %s; });\n" MIN_SERVERS, c->value);
	write_conf(path, sizeof(path), "shoal.conf", conf);
	ck_assert_msg(shoal_config_load(&cfg, path, &err) == 0, "%s: %s", c->value, err.msg);
	ck_assert_int_eq(cfg.upstreams[0].read_timeout_ms, c->ms);
	text = dump_and_reload(&cfg, &again);
	snprintf(line, sizeof(line), "\n    read_timeout = %s;\n", c->dumped);
	ck_assert_msg(strstr(text, line), "dump lacks '%s':\n%s", line, text);
	ck_assert_int_eq(again.upstreams[0].read_timeout_ms, c->ms);
	free(text);
	shoal_config_free(&cfg);
	shoal_config_free(&again);
}
END_TEST

/* Each version as written, and back from the dump. */
START_TEST(test_send_proxy_protocol)
{
	char path[PATH_MAX], conf[512], line[64];
	struct shoal_config cfg, again;
	struct shoal_err err = { "" };
	int version = _i + 1;
	char *text;

	snprintf(conf, sizeof(conf),
		 UPSTREAM_WITH("    send_proxy_protocol = \"v%d\";"), version);
	write_conf(path, sizeof(path), "shoal.conf", conf);
	ck_assert_msg(shoal_config_load(&cfg, path, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(cfg.upstreams[0].send_proxy_protocol, version);
	text = dump_and_reload(&cfg, &again);
	snprintf(line, sizeof(line), "\n    send_proxy_protocol = \"v%d\";\n", version);
	ck_assert_msg(strstr(text, line), "dump lacks '%s':\n%s", line, text);
	ck_assert_int_eq(again.upstreams[0].send_proxy_protocol, version);
	free(text);
	shoal_config_free(&cfg);
	shoal_config_free(&again);
}
END_TEST

static Suite *config_proxy_suite(void)
{
	Suite *s = suite_create("config_proxy");
	TCase *tc = tcase_create("load");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_upstreams_and_locations);
	tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(error_cases) / sizeof(error_cases[0])));
	tcase_add_test(tc, test_dump_round_trip_proxy);
	tcase_add_loop_test(tc, test_duration_values, 0,
			    (int)(sizeof(duration_cases) / sizeof(duration_cases[0])));
	tcase_add_loop_test(tc, test_send_proxy_protocol, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return shoal_check_run(config_proxy_suite());
}
