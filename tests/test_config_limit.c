/* The configuration of limits: the zones (rate or concurrency, keyed by parts), the clients
 * no zone applies to, the zones of a location, and an upstream server's max_conns with its
 * group's queue. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shoal/config/config.h"

#include "check_run.h"
#include "config_fixture.h"

/* body on line 3, in the one zone: "z", keyed by client_ip, with neither rate nor conn. */
#define ZONE_WITH(body) \
	"limit_zones = (\n  { name = \"z\"; key = \"client_ip\";\n" body "\n  }\n);\n" MIN_SERVERS
/* A rate zone whose key is text, on line 2. */
#define KEYED(text) \
	"limit_zones = (\n  { name = \"z\"; rate = 1.0; key = " text "; }\n);\n" MIN_SERVERS
/* Zones "a" (rate) and "b" (conn), and a static location whose limit is list, on line 6. */
#define LIMIT(list)                                                                    \
	"limit_zones = ( { name = \"a\"; key = \"client_ip\"; rate = 1.0; },\n"        \
	"                { name = \"b\"; key = \"uri\"; conn = 1; } );\n"               \
	"servers = (\n"                                                                \
	"  { listen = [ \"127.0.0.1:8080\" ]; root = \"www\";\n"                        \
	"    locations = ( { path = \"/\"; root = \"www\";\n"                           \
	"                    limit = " list "; } ); }\n"                                \
	");\n"
/* body on line 3, in the one upstream group, whose one server has no max_conns. */
#define UPSTREAM_WITH(body) \
	"upstreams = (\n  { name = \"app\"; servers = ( { address = \"127.0.0.1:9001\"; } );\n" body \
	"\n  }\n);\n" MIN_SERVERS
/* body on line 3, in the one upstream group, whose one server has max_conns = 1. */
#define QUEUED(body)                                                                        \
	"upstreams = (\n  { name = \"app\";"                                                 \
	" servers = ( { address = \"127.0.0.1:9001\"; max_conns = 1; } );\n" body "\n  }\n);\n" \
	MIN_SERVERS
/* body on line 4, in the one server of the one upstream group. */
#define PEER(body) \
	"upstreams = (\n  { name = \"app\";\n    servers = (\n      { " body " }\n    ); }\n);\n" \
	MIN_SERVERS
#define UPSTREAM \
	"upstreams = ( { name = \"app\"; servers = ( { address = \"127.0.0.1:9001\"; } ); } );\n"

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
	static const char *const lines[] = {
		"\nstatus_allow = [ ];\nlimit_allow = [ ];\n",
		"\nlimit_zones = (\n);\nupstreams = (\n",
		"\n        down = false;\n        max_conns = 0;\n      }\n",
		"\n    keepalive = 32;\n    queue = 0;\n    queue_timeout = 5;\n",
		"\n        forwarded = false;\n        limit = [ ];\n      }\n",
	};
	struct shoal_config cfg;
	const struct shoal_location_conf *loc;

	load(&cfg, UPSTREAM SERVER("    locations = ( { path = \"/\"; proxy = \"app\"; } );"));
	ck_assert_uint_eq(cfg.nlimit_zones, 0);
	ck_assert_ptr_null(cfg.limit_zones);
	ck_assert_uint_eq(cfg.nlimit_allow, 0);
	ck_assert_ptr_null(cfg.limit_allow);
	loc = &cfg.servers[0].locations[0];
	ck_assert_uint_eq(loc->nlimit, 0);
	ck_assert_ptr_null(loc->limit);
	ck_assert_ptr_null(loc->limit_zone);
	ck_assert_int_eq(cfg.upstreams[0].servers[0].max_conns, 0);
	ck_assert_int_eq(cfg.upstreams[0].queue, 0);
	ck_assert_int_eq(cfg.upstreams[0].queue_timeout_ms, 5000);
	expect_round_trip(&cfg, lines, sizeof(lines) / sizeof(lines[0]));
}
END_TEST

/* A rate zone prints no conn; a conn zone neither rate nor burst, so that each loads again. */
START_TEST(test_zone_defaults)
{
	static const char *const rate_lines[] = {
		"\n    name = \"z\";\n    key = \"client_ip\";\n    rate = 2.0;\n    burst = 0;\n"
		"    size = 65536;\n    dry_run = false;\n  }\n",
	};
	static const char *const conn_lines[] = {
		"\n    key = \"client_ip\";\n    conn = 3;\n    size = 65536;\n    dry_run = false;\n"
		"  }\n",
	};
	struct shoal_config cfg;
	const struct shoal_limit_zone_conf *z;

	load(&cfg, ZONE_WITH("    rate = 2;"));
	ck_assert_uint_eq(cfg.nlimit_zones, 1);
	z = &cfg.limit_zones[0];
	ck_assert_str_eq(z->name, "z");
	ck_assert_str_eq(z->key, "client_ip");
	ck_assert_uint_eq(z->nparts, 1);
	ck_assert_int_eq(z->parts[0].kind, SHOAL_LIMIT_KEY_CLIENT_IP);
	ck_assert_ptr_null(z->parts[0].name);
	ck_assert(z->rate == 2.0);
	ck_assert_int_eq(z->burst, 0);
	ck_assert_int_eq(z->conn, 0);
	ck_assert_int_eq(z->size, 65536);
	ck_assert(!z->dry_run);
	expect_round_trip(&cfg, rate_lines, 1);
	load(&cfg, ZONE_WITH("    conn = 3;"));
	z = &cfg.limit_zones[0];
	ck_assert(z->rate == 0.0);
	ck_assert_int_eq(z->burst, 0);
	ck_assert_int_eq(z->conn, 3);
	ck_assert_int_eq(z->size, 65536);
	ck_assert(!z->dry_run);
	expect_round_trip(&cfg, conn_lines, 1);
}
END_TEST

/* Every key set to something other than its default; the zones after the servers naming
 * them, a zone named by a static location and a forwarding one. */
static const char every_key[] =
	"servers = (\n"
	"  { listen = [ \"127.0.0.1:8080\" ]; root = \"www\";\n"
	"    locations = (\n"
	"      { path = \"/api/\"; proxy = \"app\"; limit = [ \"conns\", \"perip\" ]; },\n"
	"      { path = \"/\"; root = \"www\"; limit = [ \"perip\" ]; }\n"
	"    ); }\n"
	");\n"
	"limit_allow = [ \"10.0.0.0/8\", \"127.0.0.1\", \"2001:db8::/32\" ];\n"
	"limit_zones = (\n"
	"  { name = \"perip\"; key = \"client_ip\"; rate = 10.0; burst = 20; size = 1024;\n"
	"    dry_run = true; },\n"
	"  { name = \"conns\"; key = \"client_ip+header:X-Api-Key+uri\"; conn = 10; size = 16384; },\n"
	"  { name = \"slow\"; key = \"uri\"; rate = 0.5; }\n"
	");\n"
	"upstreams = (\n"
	"  { name = \"app\";\n"
	"    servers = ( { address = \"127.0.0.1:9001\"; max_conns = 2; },\n"
	"                { address = \"127.0.0.1:9002\"; } );\n"
	"    queue = 4; queue_timeout = 0.25; }\n"
	");\n";

static void expect_zones(const struct shoal_config *cfg)
{
	const struct shoal_limit_zone_conf *z = cfg->limit_zones;

	ck_assert_uint_eq(cfg->nlimit_zones, 3);
	ck_assert_str_eq(z[0].name, "perip");
	ck_assert(z[0].rate == 10.0);
	ck_assert_int_eq(z[0].burst, 20);
	ck_assert_int_eq(z[0].conn, 0);
	ck_assert_int_eq(z[0].size, 1024);
	ck_assert(z[0].dry_run);
	ck_assert_str_eq(z[1].name, "conns");
	ck_assert_str_eq(z[1].key, "client_ip+header:X-Api-Key+uri");
	ck_assert_uint_eq(z[1].nparts, 3);
	ck_assert_int_eq(z[1].parts[0].kind, SHOAL_LIMIT_KEY_CLIENT_IP);
	ck_assert_int_eq(z[1].parts[1].kind, SHOAL_LIMIT_KEY_HEADER);
	ck_assert_str_eq(z[1].parts[1].name, "X-Api-Key");
	ck_assert_int_eq(z[1].parts[2].kind, SHOAL_LIMIT_KEY_URI);
	ck_assert(z[1].rate == 0.0);
	ck_assert_int_eq(z[1].conn, 10);
	ck_assert_int_eq(z[1].size, 16384);
	ck_assert(!z[1].dry_run);
	ck_assert_str_eq(z[2].name, "slow");
	ck_assert(z[2].rate == 0.5);
	ck_assert_int_eq(z[2].size, 65536);
}

START_TEST(test_every_key)
{
	static const char *const lines[] = {
		"\nlimit_allow = [ \"10.0.0.0/8\", \"127.0.0.1\", \"2001:db8::/32\" ];\n",
		"\n    name = \"perip\";\n    key = \"client_ip\";\n    rate = 10.0;\n"
		"    burst = 20;\n    size = 1024;\n    dry_run = true;\n",
		"\n    name = \"conns\";\n    key = \"client_ip+header:X-Api-Key+uri\";\n"
		"    conn = 10;\n    size = 16384;\n    dry_run = false;\n",
		"\n    rate = 0.5;\n    burst = 0;\n    size = 65536;\n",
		"\n        max_conns = 2;\n", "\n        max_conns = 0;\n",
		"\n    queue = 4;\n    queue_timeout = 0.25;\n",
		"\n        limit = [ \"conns\", \"perip\" ];\n", "\n        limit = [ \"perip\" ];\n",
	};
	struct shoal_config cfg;
	const struct shoal_location_conf *loc;

	load(&cfg, every_key);
	expect_zones(&cfg);
	ck_assert_uint_eq(cfg.nlimit_allow, 3);
	ck_assert_str_eq(cfg.limit_allow[0], "10.0.0.0/8");
	ck_assert_str_eq(cfg.limit_allow[1], "127.0.0.1");
	ck_assert_str_eq(cfg.limit_allow[2], "2001:db8::/32");
	loc = cfg.servers[0].locations;
	ck_assert_uint_eq(loc[0].nlimit, 2);
	ck_assert_str_eq(loc[0].limit[0], "conns");
	ck_assert_str_eq(loc[0].limit[1], "perip");
	ck_assert_uint_eq(loc[0].limit_zone[0], 1);
	ck_assert_uint_eq(loc[0].limit_zone[1], 0);
	ck_assert_uint_eq(loc[1].nlimit, 1);
	ck_assert_uint_eq(loc[1].limit_zone[0], 0);
	ck_assert_int_eq(cfg.upstreams[0].servers[0].max_conns, 2);
	ck_assert_int_eq(cfg.upstreams[0].servers[1].max_conns, 0);
	ck_assert_int_eq(cfg.upstreams[0].queue, 4);
	ck_assert_int_eq(cfg.upstreams[0].queue_timeout_ms, 250);
	expect_round_trip(&cfg, lines, sizeof(lines) / sizeof(lines[0]));
}
END_TEST

struct key_case {
	const char *text; /* the value of key, as written */
	size_t nparts;
	enum shoal_limit_part_kind kinds[3];
	const char *names[3];
};

static const struct key_case key_cases[] = {
	{ "client_ip", 1, { SHOAL_LIMIT_KEY_CLIENT_IP }, { NULL } },
	{ "uri", 1, { SHOAL_LIMIT_KEY_URI }, { NULL } },
	{ "header:X-Api-Key", 1, { SHOAL_LIMIT_KEY_HEADER }, { "X-Api-Key" } },
	{ "header:!#$%&'*-.^_`|~09az", 1, { SHOAL_LIMIT_KEY_HEADER }, { "!#$%&'*-.^_`|~09az" } },
	{ "client_ip+uri", 2, { SHOAL_LIMIT_KEY_CLIENT_IP, SHOAL_LIMIT_KEY_URI }, { NULL, NULL } },
	{ "uri+client_ip", 2, { SHOAL_LIMIT_KEY_URI, SHOAL_LIMIT_KEY_CLIENT_IP }, { NULL, NULL } },
	{ "header:a+uri", 2, { SHOAL_LIMIT_KEY_HEADER, SHOAL_LIMIT_KEY_URI }, { "a", NULL } },
	{ "client_ip+header:X-A+header:X-B", 3,
	  { SHOAL_LIMIT_KEY_CLIENT_IP, SHOAL_LIMIT_KEY_HEADER, SHOAL_LIMIT_KEY_HEADER },
	  { NULL, "X-A", "X-B" } },
};

START_TEST(test_keys)
{
	const struct key_case *c = &key_cases[_i];
	char conf[1024], dumped[256];
	const char *lines[1] = { dumped };
	const struct shoal_limit_zone_conf *z;
	struct shoal_config cfg;

	snprintf(conf, sizeof(conf), KEYED("\"%s\""), c->text);
	snprintf(dumped, sizeof(dumped), "\n    key = \"%s\";\n", c->text);
	load(&cfg, conf);
	z = &cfg.limit_zones[0];
	ck_assert_str_eq(z->key, c->text);
	ck_assert_uint_eq(z->nparts, c->nparts);
	for (size_t i = 0; i < c->nparts; i++) {
		ck_assert_int_eq(z->parts[i].kind, c->kinds[i]);
		ck_assert_pstr_eq(z->parts[i].name, c->names[i]);
	}
	expect_round_trip(&cfg, lines, 1);
}
END_TEST

struct rate_case {
	const char *text;
	double rate;
	const char *dumped;
};

/* The dump prints the shortest decimal that reads back as the same double. */
static const struct rate_case rate_cases[] = {
	{ "10", 10.0, "rate = 10.0;" },
	{ "10.0", 10.0, "rate = 10.0;" },
	{ "0.5", 0.5, "rate = 0.5;" },
	{ "0.1", 0.1, "rate = 0.1;" },
	{ "33.3", 33.3, "rate = 33.3;" },
	{ "123456.789", 123456.789, "rate = 123456.789;" },
	{ "1000000", 1000000.0, "rate = 1000000.0;" },
	{ "1e6", 1000000.0, "rate = 1000000.0;" },
	{ "2.5e-3", 0.0025, "rate = 0.0025;" },
	{ "0.000001", 0.000001, "rate = 1e-06;" },
	{ "1e-9", 1e-9, "rate = 1e-09;" },
};

START_TEST(test_rates)
{
	const struct rate_case *c = &rate_cases[_i];
	char conf[1024];
	const char *lines[1] = { c->dumped };
	struct shoal_config cfg;

	snprintf(conf, sizeof(conf), ZONE_WITH("    rate = %s;"), c->text);
	load(&cfg, conf);
	ck_assert_msg(cfg.limit_zones[0].rate == c->rate, "%s read as %.17g", c->text,
		      cfg.limit_zones[0].rate);
	expect_round_trip(&cfg, lines, 1);
}
END_TEST

/* The least and greatest values of each range, and the forms a list may take, load. */
static const char *const accepted[] = {
	ZONE_WITH("    rate = 1000000;"),
	ZONE_WITH("    rate = 1; burst = 0;"),
	ZONE_WITH("    rate = 1; burst = 1000000;"),
	ZONE_WITH("    conn = 1;"),
	ZONE_WITH("    conn = 1000000;"),
	ZONE_WITH("    rate = 1; size = 16;"),
	ZONE_WITH("    conn = 1; size = 16777216;"),
	ZONE_WITH("    conn = 1; dry_run = true;"),
	PEER("address = \"127.0.0.1:1\"; max_conns = 1000000;"),
	QUEUED("    queue = 1000000;"),
	QUEUED("    queue = 1; queue_timeout = 0.001;"),
	QUEUED("    queue_timeout = 3600;"),
	UPSTREAM_WITH("    queue = 0; queue_timeout = 1;"),
	"upstreams = (\n  { name = \"app\"; queue = 1;\n"
	"    servers = ( { address = \"127.0.0.1:1\"; },\n"
	"                { address = \"127.0.0.1:2\"; backup = true; max_conns = 1; } ); }\n);\n"
	MIN_SERVERS,
	LIMIT("[ ]"),
	LIMIT("( \"a\" )"),
	LIMIT("[ \"b\", \"a\" ]"),
	"limit_allow = [ \"::1\", \"0.0.0.0/0\" ];\n" MIN_SERVERS,
	"limit_allow = [ ];\n" MIN_SERVERS,
	"limit_zones = ( );\n" MIN_SERVERS,
};

START_TEST(test_accepted)
{
	struct shoal_config cfg;

	load(&cfg, accepted[_i]);
	expect_round_trip(&cfg, NULL, 0);
}
END_TEST

/* Indexes follow the location's order, not the zones'; a location without limit has none. */
START_TEST(test_limit_indexes)
{
	struct shoal_config cfg;
	const struct shoal_location_conf *loc;

	load(&cfg, LIMIT("[ \"b\", \"a\" ]"));
	loc = &cfg.servers[0].locations[0];
	ck_assert_ptr_null(loc->proxy);
	ck_assert_uint_eq(loc->nlimit, 2);
	ck_assert_uint_eq(loc->limit_zone[0], 1);
	ck_assert_uint_eq(loc->limit_zone[1], 0);
	shoal_config_free(&cfg);
	load(&cfg, LIMIT("[ ]"));
	ck_assert_uint_eq(cfg.servers[0].locations[0].nlimit, 0);
	ck_assert_ptr_null(cfg.servers[0].locations[0].limit_zone);
	shoal_config_free(&cfg);
}
END_TEST

#define RATE_RANGE \
	"must be a number of requests per second greater than 0 and at most 1000000, such as 10 or 0.5"
#define KEY_FORM "must be \"client_ip\", \"uri\" or \"header:NAME\" (parts joined by \"+\")"
#define NAME_FORM "NAME must be a header field name of letters, digits and !#$%&'*-.^_`|~ only"
#define EMPTY_PART "has an empty part (parts are joined by one \"+\")"
#define NEITHER "zone \"z\" needs rate (requests per second) or conn (requests in flight per key)"
#define ACL_FORM "must be an address or a network such as \"10.0.0.0/8\" or \"::1\""
#define NAME_CHARS "must be letters, digits, '_', '.' and '-' only"
#define NO_QUEUE "queue needs max_conns on a server of the group"

static const struct error_case error_cases[] = {
	/* limit_zones */
	{ "limit_zones = 5;\n" MIN_SERVERS, 1, "limit_zones",
	  "must be a list of groups ( { ... } ), not an integer" },
	{ "limit_zones = { name = \"z\"; };\n" MIN_SERVERS, 1, "limit_zones",
	  "must be a list of groups" },
	{ "limit_zones = ( 5 );\n" MIN_SERVERS, 1, "limit_zones[0]",
	  "must be a group { ... }, not an integer" },
	{ ZONE_WITH("    rate = 1; delay = true;"), 3, "", "unknown key 'limit_zones[0].delay'" },
	/* name */
	{ "limit_zones = (\n  { key = \"uri\"; rate = 1.0; }\n);\n" MIN_SERVERS, 2,
	  "limit_zones[0].name", "required key is missing" },
	{ "limit_zones = (\n  { name = \"per ip\"; key = \"uri\"; rate = 1.0; }\n);\n" MIN_SERVERS,
	  2, "limit_zones[0].name", "'per ip' " NAME_CHARS },
	{ "limit_zones = (\n  { name = \"\"; key = \"uri\"; rate = 1.0; }\n);\n" MIN_SERVERS, 2,
	  "limit_zones[0].name", "must not be empty" },
	{ "limit_zones = (\n  { name = 1; key = \"uri\"; rate = 1.0; }\n);\n" MIN_SERVERS, 2,
	  "limit_zones[0].name", "must be a string, not an integer" },
	{ "limit_zones = (\n  { name = \"z\"; key = \"uri\"; rate = 1.0; },\n"
	  "  { name = \"z\"; key = \"client_ip\"; conn = 1; }\n);\n" MIN_SERVERS, 3,
	  "limit_zones[1].name", "\"z\" is already the name of limit_zones[0]" },
	/* key */
	{ "limit_zones = (\n  { name = \"z\"; rate = 1.0; }\n);\n" MIN_SERVERS, 2,
	  "limit_zones[0].key", "required key is missing" },
	{ KEYED("5"), 2, "limit_zones[0].key", "must be a string, not an integer" },
	{ KEYED("\"\""), 2, "limit_zones[0].key", "must not be empty" },
	{ KEYED("\"ip\""), 2, "limit_zones[0].key", "'ip': \"ip\" " KEY_FORM },
	{ KEYED("\"Client_IP\""), 2, "limit_zones[0].key", KEY_FORM },
	{ KEYED("\"cookie:sid\""), 2, "limit_zones[0].key", KEY_FORM },
	{ KEYED("\"header\""), 2, "limit_zones[0].key", KEY_FORM },
	{ KEYED("\"client_ip uri\""), 2, "limit_zones[0].key", "\"client_ip uri\" " KEY_FORM },
	{ KEYED("\"uri+url\""), 2, "limit_zones[0].key", "'uri+url': \"url\" " KEY_FORM },
	{ KEYED("\"header:\""), 2, "limit_zones[0].key",
	  "'header:': \"header:\" needs the NAME of a header field" },
	{ KEYED("\"uri+header:\""), 2, "limit_zones[0].key", "needs the NAME of a header field" },
	{ KEYED("\"header:X Y\""), 2, "limit_zones[0].key", "'header:X Y': \"header:X Y\" " NAME_FORM },
	{ KEYED("\"header:X:Y\""), 2, "limit_zones[0].key", NAME_FORM },
	{ KEYED("\"header:X\\\"\""), 2, "limit_zones[0].key", NAME_FORM },
	{ KEYED("\"client_ip+\""), 2, "limit_zones[0].key", "'client_ip+' " EMPTY_PART },
	{ KEYED("\"+uri\""), 2, "limit_zones[0].key", "'+uri' " EMPTY_PART },
	{ KEYED("\"client_ip++uri\""), 2, "limit_zones[0].key", EMPTY_PART },
	{ KEYED("\"+\""), 2, "limit_zones[0].key", EMPTY_PART },
	{ KEYED("\"uri+uri\""), 2, "limit_zones[0].key", "'uri+uri': \"uri\" is named twice" },
	{ KEYED("\"client_ip+uri+client_ip\""), 2, "limit_zones[0].key",
	  "\"client_ip\" is named twice" },
	{ KEYED("\"header:X-A+header:x-a\""), 2, "limit_zones[0].key",
	  "\"header:x-a\" is named twice" },
	/* rate, conn, burst */
	{ ZONE_WITH("    size = 16;"), 2, "limit_zones[0]", NEITHER },
	{ ZONE_WITH("    dry_run = true;"), 2, "limit_zones[0]", NEITHER },
	{ ZONE_WITH("    rate = 1;\n    conn = 1;"), 4, "limit_zones[0].conn",
	  "zone \"z\" has both rate and conn: a zone limits one or the other" },
	{ ZONE_WITH("    conn = 1;\n    burst = 0;"), 4, "limit_zones[0].burst",
	  "zone \"z\" has conn: burst applies only to a zone with rate" },
	{ ZONE_WITH("    rate = 0;"), 3, "limit_zones[0].rate", RATE_RANGE },
	{ ZONE_WITH("    rate = 0.0;"), 3, "limit_zones[0].rate", RATE_RANGE },
	{ ZONE_WITH("    rate = -1;"), 3, "limit_zones[0].rate", RATE_RANGE },
	{ ZONE_WITH("    rate = 1000000.5;"), 3, "limit_zones[0].rate", RATE_RANGE },
	{ ZONE_WITH("    rate = 1000001;"), 3, "limit_zones[0].rate", RATE_RANGE },
	{ ZONE_WITH("    rate = \"10\";"), 3, "limit_zones[0].rate", RATE_RANGE },
	{ ZONE_WITH("    rate = true;"), 3, "limit_zones[0].rate", RATE_RANGE },
	{ ZONE_WITH("    conn = 0;"), 3, "limit_zones[0].conn", "must be an integer from 1 to 1000000" },
	{ ZONE_WITH("    conn = -1;"), 3, "limit_zones[0].conn", "from 1 to 1000000" },
	{ ZONE_WITH("    conn = 1000001;"), 3, "limit_zones[0].conn", "from 1 to 1000000" },
	{ ZONE_WITH("    conn = 1.5;"), 3, "limit_zones[0].conn", "from 1 to 1000000, not a float" },
	{ ZONE_WITH("    rate = 1; burst = -1;"), 3, "limit_zones[0].burst",
	  "must be an integer from 0 to 1000000" },
	{ ZONE_WITH("    rate = 1; burst = 1000001;"), 3, "limit_zones[0].burst",
	  "from 0 to 1000000" },
	{ ZONE_WITH("    rate = 1; burst = 2.0;"), 3, "limit_zones[0].burst", "not a float" },
	/* size, dry_run */
	{ ZONE_WITH("    rate = 1; size = 15;"), 3, "limit_zones[0].size",
	  "must be an integer from 16 to 16777216" },
	{ ZONE_WITH("    rate = 1; size = 16777217;"), 3, "limit_zones[0].size",
	  "from 16 to 16777216" },
	{ ZONE_WITH("    rate = 1; dry_run = 1;"), 3, "limit_zones[0].dry_run",
	  "must be true or false, not an integer" },
	/* limit_allow */
	{ "limit_allow = [ \"10.0.0.0/33\" ];\n" MIN_SERVERS, 1, "limit_allow[0]",
	  "'10.0.0.0/33' " ACL_FORM },
	{ "limit_allow = [ \"127.0.0.1\", \"example.com\" ];\n" MIN_SERVERS, 1, "limit_allow[1]",
	  ACL_FORM },
	{ "limit_allow = \"127.0.0.1\";\n" MIN_SERVERS, 1, "limit_allow",
	  "must be an array of strings, not a string" },
	{ "limit_allow = [ \"\" ];\n" MIN_SERVERS, 1, "limit_allow[0]", "must not be empty" },
	{ "limit_allow = [ 1 ];\n" MIN_SERVERS, 1, "limit_allow[0]",
	  "must be a string, not an integer" },
	/* a location's limit */
	{ LIMIT("[ \"c\" ]"), 6, "servers[0].locations[0].limit[0]", "no limit zone named \"c\"" },
	{ LIMIT("[ \"a\", \"c\" ]"), 6, "servers[0].locations[0].limit[1]",
	  "no limit zone named \"c\"" },
	{ LIMIT("[ \"a\",\n                              \"c\" ]"), 7,
	  "servers[0].locations[0].limit[1]", "no limit zone named \"c\"" },
	{ LIMIT("[ \"A\" ]"), 6, "servers[0].locations[0].limit[0]", "no limit zone named \"A\"" },
	{ LIMIT("[ \"a\", \"b\", \"a\" ]"), 6, "servers[0].locations[0].limit[2]",
	  "\"a\" is listed twice (also at index 0)" },
	{ LIMIT("\"a\""), 6, "servers[0].locations[0].limit",
	  "must be an array of strings, not a string" },
	{ LIMIT("[ \"a b\" ]"), 6, "servers[0].locations[0].limit[0]", "'a b' " NAME_CHARS },
	{ LIMIT("[ \"\" ]"), 6, "servers[0].locations[0].limit[0]", "must not be empty" },
	{ "servers = (\n  { listen = [ \"127.0.0.1:8080\" ]; root = \"www\";\n"
	  "    locations = ( { path = \"/\"; proxy = \"app\"; limit = [ \"a\" ]; } ); }\n);\n"
	  UPSTREAM, 3, "servers[0].locations[0].limit[0]", "no limit zone named \"a\"" },
	/* max_conns, queue, queue_timeout */
	{ PEER("address = \"127.0.0.1:1\"; max_conns = -1;"), 4,
	  "upstreams[0].servers[0].max_conns", "must be an integer from 0 to 1000000" },
	{ PEER("address = \"127.0.0.1:1\"; max_conns = 1000001;"), 4,
	  "upstreams[0].servers[0].max_conns", "from 0 to 1000000" },
	{ PEER("address = \"127.0.0.1:1\"; max_conns = \"2\";"), 4,
	  "upstreams[0].servers[0].max_conns", "not a string" },
	{ UPSTREAM_WITH("    queue = 4;"), 3, "upstreams[0].queue", NO_QUEUE },
	{ "upstreams = (\n  { name = \"app\";"
	  " servers = ( { address = \"127.0.0.1:9001\"; max_conns = 0; } );\n"
	  "    queue_timeout = 1;\n    queue = 1;\n  }\n);\n" MIN_SERVERS, 4, "upstreams[0].queue",
	  NO_QUEUE },
	{ QUEUED("    queue = -1;"), 3, "upstreams[0].queue", "must be an integer from 0 to 1000000" },
	{ QUEUED("    queue = 1000001;"), 3, "upstreams[0].queue", "from 0 to 1000000" },
	{ QUEUED("    queue_timeout = 0;"), 3, "upstreams[0].queue_timeout",
	  "must be a number of seconds from 0.001 to 3600" },
	{ QUEUED("    queue_timeout = 3600.001;"), 3, "upstreams[0].queue_timeout",
	  "from 0.001 to 3600" },
	{ QUEUED("    queue_timeout = \"5\";"), 3, "upstreams[0].queue_timeout", "not a string" },
};

START_TEST(test_errors)
{
	expect_load_error(&error_cases[_i], _i);
}
END_TEST

static Suite *config_limit_suite(void)
{
	Suite *s = suite_create("config_limit");
	TCase *tc = tcase_create("load");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_zone_defaults);
	tcase_add_test(tc, test_every_key);
	tcase_add_loop_test(tc, test_keys, 0, (int)(sizeof(key_cases) / sizeof(key_cases[0])));
	tcase_add_loop_test(tc, test_rates, 0, (int)(sizeof(rate_cases) / sizeof(rate_cases[0])));
	tcase_add_loop_test(tc, test_accepted, 0, (int)(sizeof(accepted) / sizeof(accepted[0])));
	tcase_add_test(tc, test_limit_indexes);
	tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(error_cases) / sizeof(error_cases[0])));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return shoal_check_run(config_limit_suite());
}
