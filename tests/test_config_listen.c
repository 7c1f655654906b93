/* The flags of listen addresses ("*:80 proxy_protocol"), the peers trusted to send a PROXY
 * protocol header, its timeout, and what servers sharing an address must agree on. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shoal/config/config.h"

#include "check_run.h"
#include "config_fixture.h"

/* Two servers on one proxy_protocol address, their lists written differently. */
static const char listen_conf[] =
	"proxy_protocol_timeout = 0.5;\n"
	"servers = (\n"
	"  { listen = [ \"127.0.0.1:8080 proxy_protocol\", \"[::1]:8080\" ]; root = \"www\";\n"
	"    proxy_protocol_from = [ \"10.0.0.0/8\", \"127.0.0.1\" ]; },\n"
	"  { listen = [ \"*:9090\", \"127.0.0.1:8080 \\t proxy_protocol\" ]; root = \"www\";\n"
	"    proxy_protocol_from = [ \"127.0.0.1/32\", \"10.1.2.3/8\" ]; }\n"
	");\n";

START_TEST(test_flags_and_trusted_peers)
{
	char path[PATH_MAX];
	struct shoal_config cfg;
	struct shoal_err err = { "" };
	const struct shoal_server_conf *s;

	write_conf(path, sizeof(path), "shoal.conf", listen_conf);
	ck_assert_msg(shoal_config_load(&cfg, path, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(cfg.proxy_protocol_timeout_ms, 500);
	s = &cfg.servers[0];
	ck_assert_uint_eq(s->nlisten, 2);
	ck_assert_str_eq(s->listen[0].text, "127.0.0.1:8080");
	ck_assert_uint_eq(s->listen_flags[0], SHOAL_LISTEN_PROXY_PROTOCOL);
	ck_assert_str_eq(s->listen[1].text, "[::1]:8080");
	ck_assert_uint_eq(s->listen_flags[1], 0);
	ck_assert_uint_eq(s->nproxy_protocol_from, 2);
	ck_assert_str_eq(s->proxy_protocol_from[1], "127.0.0.1");
	s = &cfg.servers[1];
	ck_assert_str_eq(s->listen[0].text, "0.0.0.0:9090");
	ck_assert_uint_eq(s->listen_flags[0], 0);
	ck_assert(shoal_addr_equal(&s->listen[1], &cfg.servers[0].listen[0]));
	ck_assert_uint_eq(s->listen_flags[1], SHOAL_LISTEN_PROXY_PROTOCOL);
	shoal_config_free(&cfg);
}
END_TEST

START_TEST(test_defaults)
{
	char path[PATH_MAX];
	struct shoal_config cfg;
	struct shoal_err err = { "" };

	write_conf(path, sizeof(path), "shoal.conf", MIN_SERVERS);
	ck_assert_msg(shoal_config_load(&cfg, path, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(cfg.proxy_protocol_timeout_ms, 5000);
	ck_assert_uint_eq(cfg.servers[0].listen_flags[0], 0);
	ck_assert_uint_eq(cfg.servers[0].nproxy_protocol_from, 0);
	shoal_config_free(&cfg);
}
END_TEST

#define PP_FROM "proxy_protocol_from = [ \"10.0.0.0/8\" ];"

static const struct error_case error_cases[] = {
	{ "servers = (\n  { listen = [ \"127.0.0.1:80 ssl\" ]; root = \"www\"; }\n);\n", 2,
	  "servers[0].listen[0]", "unknown flag 'ssl' (the flags are: proxy_protocol, tls)" },
	{ "servers = (\n  { listen = [ \"127.0.0.1:80 proxy_protocol proxy_protocol\" ];\n"
	  "    root = \"www\"; " PP_FROM " }\n);\n", 2, "servers[0].listen[0]",
	  "flag 'proxy_protocol' is given twice" },
	{ "servers = (\n  { listen = [ \"127.0.0.1:80\",\n \"127.0.0.1:80 proxy_protocol\" ];\n"
	  "    root = \"www\"; " PP_FROM " }\n);\n", 3, "servers[0].listen[1]",
	  "'127.0.0.1:80' is listed twice (also at index 0)" },
	{ "servers = (\n  { listen = [ \"localhost:80 proxy_protocol\" ]; root = \"www\"; }\n);\n",
	  2, "servers[0].listen[0]", "'localhost:80' is not an IPv4 address" },
	{ "servers = (\n  { listen = [ \"127.0.0.1:80 proxy_protocol\" ]; root = \"www\"; }\n);\n",
	  2, "servers[0].listen[0]", "proxy_protocol needs proxy_protocol_from" },
	{ "servers = (\n  { listen = [ \"127.0.0.1:80 proxy_protocol\" ]; root = \"www\";\n"
	  "    proxy_protocol_from = [ ]; }\n);\n", 2, "servers[0].listen[0]",
	  "proxy_protocol needs proxy_protocol_from" },
	{ "servers = (\n  { listen = [ \"127.0.0.1:80\" ]; root = \"www\";\n"
	  "    proxy_protocol_from = [ \"10.0.0.0/8\" ]; }\n);\n", 3,
	  "servers[0].proxy_protocol_from",
	  "no address of this server has the proxy_protocol flag" },
	{ "servers = (\n  { listen = [ \"127.0.0.1:80\" ]; root = \"www\";\n"
	  "    proxy_protocol_from = [ \"10.0.0.0/33\" ]; }\n);\n", 3,
	  "servers[0].proxy_protocol_from[0]", "must be an address or a network" },
	{ "servers = (\n  { listen = [ \"127.0.0.1:80 proxy_protocol\" ]; root = \"www\"; " PP_FROM
	  " },\n  { listen = [ \"*:81\",\n \"127.0.0.1:80\" ]; root = \"www\"; }\n);\n", 4,
	  "servers[1].listen[1]", "127.0.0.1:80 has other flags in servers[0]" },
	{ "servers = (\n  { listen = [ \"127.0.0.1:80\" ]; root = \"www\"; },\n"
	  "  { listen = [ \"127.0.0.1:80 proxy_protocol\" ]; root = \"www\"; " PP_FROM " }\n);\n",
	  3, "servers[1].listen[0]", "127.0.0.1:80 has other flags in servers[0]" },
	{ "servers = (\n  { listen = [ \"127.0.0.1:80 proxy_protocol\" ]; root = \"www\"; " PP_FROM
	  " },\n  { listen = [ \"127.0.0.1:80 proxy_protocol\" ]; root = \"www\";\n\n"
	  "    proxy_protocol_from = [ \"10.0.0.0/8\", \"::1\" ]; }\n);\n", 5,
	  "servers[1].proxy_protocol_from",
	  "differs from that of servers[0], which shares the proxy_protocol address "
	  "127.0.0.1:80" },
	{ "servers = (\n  { listen = [ \"127.0.0.1:80 proxy_protocol\" ]; root = \"www\"; " PP_FROM
	  " },\n  { listen = [ \"127.0.0.1:80 proxy_protocol\" ]; root = \"www\";\n"
	  "    proxy_protocol_from = [ \"10.0.0.0/16\" ]; }\n);\n", 4,
	  "servers[1].proxy_protocol_from", "differs from that of servers[0]" },
	{ "proxy_protocol_timeout = 0;\n" MIN_SERVERS, 1, "proxy_protocol_timeout",
	  "must be a number of seconds from 0.001 to 3600" },
	{ "proxy_protocol_timeout = \"5\";\n" MIN_SERVERS, 1, "proxy_protocol_timeout",
	  "not a string" },
};

START_TEST(test_errors)
{
	expect_load_error(&error_cases[_i], _i);
}
END_TEST

START_TEST(test_dump_round_trip_listen)
{
	static const char *const lines[] = {
		"\nproxy_protocol_timeout = 0.5;\n",
		"\n    listen = [ \"127.0.0.1:8080 proxy_protocol\", \"[::1]:8080\" ];\n",
		"\n    listen = [ \"0.0.0.0:9090\", \"127.0.0.1:8080 proxy_protocol\" ];\n",
		"\n    proxy_protocol_from = [ \"127.0.0.1/32\", \"10.1.2.3/8\" ];\n",
	};
	char path[PATH_MAX];
	struct shoal_config cfg, again;
	struct shoal_err err = { "" };
	char *text;

	write_conf(path, sizeof(path), "shoal.conf", listen_conf);
	ck_assert_msg(shoal_config_load(&cfg, path, &err) == 0, "%s", err.msg);
	text = dump_and_reload(&cfg, &again);
	assert_same_config(&cfg, &again);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		ck_assert_msg(strstr(text, lines[i]), "dump lacks '%s':\n%s", lines[i], text);
	free(text);
	shoal_config_free(&cfg);
	shoal_config_free(&again);
}
END_TEST

static Suite *config_listen_suite(void)
{
	Suite *s = suite_create("config_listen");
	TCase *tc = tcase_create("load");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_flags_and_trusted_peers);
	tcase_add_test(tc, test_defaults);
	tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(error_cases) / sizeof(error_cases[0])));
	tcase_add_test(tc, test_dump_round_trip_listen);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return shoal_check_run(config_listen_suite());
}
