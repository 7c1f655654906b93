/* The TLS keys of the configuration: the tls flag of a listen address, a server's tls group
 * (paths resolved like any other), https_redirect, the global tls_* keys with their defaults,
 * and the errors that tie a server's certificate to its tls addresses. The files are not
 * read here: the master's check loads them (test_generation, integration/tls). */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shoal/config/config.h"

#include "check_run.h"
#include "config_fixture.h"

/* Two servers sharing a tls address (with the PROXY protocol too), one of them also on a
 * plain address where it redirects. */
static const char tls_conf[] =
	"tls_protocols = [ \"TLSv1.3\" ];\n"
	"tls_ciphers = \"ECDHE+AESGCM\";\n"
	"tls_ciphersuites = \"TLS_AES_128_GCM_SHA256\";\n"
	"tls_prefer_server_ciphers = false;\n"
	"tls_ticket_rotate = 600;\n"
	"servers = (\n"
	"  { listen = [ \"127.0.0.1:8443 proxy_protocol tls\", \"127.0.0.1:8080\" ];\n"
	"    root = \"www\"; server_names = [ \"a.test\" ]; https_redirect = true;\n"
	"    proxy_protocol_from = [ \"127.0.0.1\" ];\n"
	"    tls = { certificate = \"certs/a.pem\"; key = \"/etc/keys/a.key\"; }; },\n"
	"  { listen = [ \"127.0.0.1:8443 tls proxy_protocol\" ]; root = \"www\";\n"
	"    server_names = [ \"b.test\" ]; proxy_protocol_from = [ \"127.0.0.1\" ];\n"
	"    tls = { certificate = \"b.pem\"; key = \"./b.key\"; }; }\n"
	");\n";

START_TEST(test_keys)
{
	char path[PATH_MAX];
	struct shoal_config cfg;
	struct shoal_err err = { "" };
	const struct shoal_server_conf *s;

	write_conf(path, sizeof(path), "shoal.conf", tls_conf);
	ck_assert_msg(shoal_config_load(&cfg, path, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(cfg.tls_protocols.min, SHOAL_TLS_1_3);
	ck_assert_int_eq(cfg.tls_protocols.max, SHOAL_TLS_1_3);
	ck_assert_str_eq(cfg.tls_ciphers, "ECDHE+AESGCM");
	ck_assert_str_eq(cfg.tls_ciphersuites, "TLS_AES_128_GCM_SHA256");
	ck_assert(!cfg.tls_prefer_server_ciphers);
	ck_assert_int_eq(cfg.tls_ticket_rotate, 600);
	s = &cfg.servers[0];
	ck_assert_uint_eq(s->listen_flags[0], SHOAL_LISTEN_PROXY_PROTOCOL | SHOAL_LISTEN_TLS);
	ck_assert_uint_eq(s->listen_flags[1], 0);
	expect_str(s->tls.certificate, "certs/a.pem");
	ck_assert_str_eq(s->tls.key, "/etc/keys/a.key");
	ck_assert_uint_eq(s->tls.line, 10);
	ck_assert(s->https_redirect);
	s = &cfg.servers[1];
	ck_assert_uint_eq(s->listen_flags[0], SHOAL_LISTEN_PROXY_PROTOCOL | SHOAL_LISTEN_TLS);
	expect_str(s->tls.certificate, "b.pem");
	expect_str(s->tls.key, "b.key");
	ck_assert(!s->https_redirect);
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
	ck_assert_int_eq(cfg.tls_protocols.min, SHOAL_TLS_1_2);
	ck_assert_int_eq(cfg.tls_protocols.max, SHOAL_TLS_1_3);
	ck_assert_ptr_null(cfg.tls_ciphers);
	ck_assert_ptr_null(cfg.tls_ciphersuites);
	ck_assert(cfg.tls_prefer_server_ciphers);
	ck_assert_int_eq(cfg.tls_ticket_rotate, 3600);
	ck_assert_ptr_null(cfg.servers[0].tls.certificate);
	ck_assert(!cfg.servers[0].https_redirect);
	shoal_config_free(&cfg);
}
END_TEST

#define TLS_GROUP "tls = { certificate = \"a.pem\"; key = \"a.key\"; };"

static const struct error_case error_cases[] = {
	{ "servers = (\n  { listen = [ \"127.0.0.1:443\",\n \"127.0.0.1:8443 tls\" ];\n"
	  "    root = \"www\"; }\n);\n", 3, "servers[0].listen[1]",
	  "127.0.0.1:8443 is a tls address: the server needs tls = {" },
	{ "servers = (\n  { listen = [ \"127.0.0.1:443 tls\" ]; root = \"www\"; " TLS_GROUP " },\n"
	  "  { listen = [ \"127.0.0.1:443 tls\" ]; root = \"www\"; }\n);\n", 3,
	  "servers[1].listen[0]", "is a tls address: the server needs tls" },
	{ "servers = (\n  { listen = [ \"127.0.0.1:443 tls\" ]; root = \"www\"; " TLS_GROUP " },\n"
	  "  { listen = [ \"127.0.0.1:443\" ]; root = \"www\"; }\n);\n", 3,
	  "servers[1].listen[0]", "127.0.0.1:443 has other flags in servers[0]" },
	{ "servers = (\n  { listen = [ \"127.0.0.1:443\" ]; root = \"www\";\n"
	  "    " TLS_GROUP " }\n);\n", 3, "servers[0].tls",
	  "no address of this server has the tls flag" },
	{ "servers = (\n  { listen = [ \"127.0.0.1:443 tls tls\" ]; root = \"www\"; }\n);\n", 2,
	  "servers[0].listen[0]", "flag 'tls' is given twice" },
	{ "servers = (\n  { listen = [ \"127.0.0.1:443 tls\" ]; root = \"www\";\n"
	  "    tls = { certificate = \"a.pem\"; }; }\n);\n", 3, "servers[0].tls.key",
	  "required key is missing" },
	{ "servers = (\n  { listen = [ \"127.0.0.1:443 tls\" ]; root = \"www\";\n"
	  "    tls = { certificate = \"a.pem\"; key = \"a.key\";\n chain = \"c.pem\"; }; }\n);\n",
	  4, "", "unknown key 'servers[0].tls.chain'" },
	{ "servers = (\n  { listen = [ \"127.0.0.1:443 tls\" ]; root = \"www\";\n"
	  "    tls = { certificate = \"\"; key = \"a.key\"; }; }\n);\n", 3,
	  "servers[0].tls.certificate", "must not be empty" },
	{ "servers = (\n  { listen = [ \"127.0.0.1:443 tls\" ]; root = \"www\";\n"
	  "    tls = \"a.pem\"; }\n);\n", 3, "servers[0].tls", "must be a group" },
	{ "servers = (\n  { listen = [ \"127.0.0.1:80\" ]; root = \"www\";\n"
	  "    https_redirect = 1; }\n);\n", 3, "servers[0].https_redirect",
	  "must be true or false" },
	{ "tls_protocols = [ \"TLSv1.2\",\n \"TLSv1.1\" ];\n" MIN_SERVERS, 2, "tls_protocols[1]",
	  "'TLSv1.1' is not a protocol shoal offers" },
	{ "tls_protocols = [ \"TLSv1.3\", \"TLSv1.3\" ];\n" MIN_SERVERS, 1, "tls_protocols[1]",
	  "'TLSv1.3' is listed twice" },
	{ "tls_protocols = [ ];\n" MIN_SERVERS, 1, "tls_protocols", "must not be empty" },
	{ "tls_protocols = \"TLSv1.3\";\n" MIN_SERVERS, 1, "tls_protocols",
	  "must be an array of strings" },
	{ "tls_ticket_rotate = 59;\n" MIN_SERVERS, 1, "tls_ticket_rotate",
	  "must be an integer from 60 to 86400" },
	{ "tls_ciphers = \"\";\n" MIN_SERVERS, 1, "tls_ciphers", "must not be empty" },
	{ "workers = 1;\ntls_ciphers = \"NOPE-CIPHER\";\n" MIN_SERVERS, 2, "tls_ciphers",
	  "'NOPE-CIPHER' is refused by OpenSSL: no cipher match" },
	{ "tls_ciphersuites = \"TLS_NOPE\";\n" MIN_SERVERS, 1, "tls_ciphersuites",
	  "'TLS_NOPE' is refused by OpenSSL: no cipher match" },
	{ "tls_prefer_server_ciphers = \"yes\";\n" MIN_SERVERS, 1, "tls_prefer_server_ciphers",
	  "must be true or false" },
};

START_TEST(test_errors)
{
	expect_load_error(&error_cases[_i], _i);
}
END_TEST

START_TEST(test_dump_round_trip)
{
	static const char *const lines[] = {
		"\ntls_protocols = [ \"TLSv1.3\" ];\n",
		"\ntls_ciphers = \"ECDHE+AESGCM\";\n",
		"\ntls_ticket_rotate = 600;\n",
		"\n    listen = [ \"127.0.0.1:8443 proxy_protocol tls\", \"127.0.0.1:8080\" ];\n",
		"\n    https_redirect = true;\n",
		"\n    tls = {\n      certificate = \"",
	};
	char path[PATH_MAX];
	struct shoal_config cfg, again;
	struct shoal_err err = { "" };
	char *text;

	write_conf(path, sizeof(path), "shoal.conf", tls_conf);
	ck_assert_msg(shoal_config_load(&cfg, path, &err) == 0, "%s", err.msg);
	text = dump_and_reload(&cfg, &again);
	assert_same_config(&cfg, &again);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		ck_assert_msg(strstr(text, lines[i]), "dump lacks '%s':\n%s", lines[i], text);
	ck_assert_int_eq(again.tls_protocols.min, SHOAL_TLS_1_3);
	ck_assert_str_eq(again.servers[0].tls.key, "/etc/keys/a.key");
	ck_assert_str_eq(again.servers[1].tls.certificate, cfg.servers[1].tls.certificate);
	ck_assert(again.servers[0].https_redirect);
	free(text);
	shoal_config_free(&cfg);
	shoal_config_free(&again);
}
END_TEST

static Suite *config_tls_suite(void)
{
	Suite *s = suite_create("config_tls");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_defaults);
	tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(error_cases) / sizeof(error_cases[0])));
	tcase_add_test(tc, test_dump_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return shoal_check_run(config_tls_suite());
}
