/* The TLS keys of an upstream group: tls, tls_ca (loaded at load time, as the workers will
 * load it), tls_server_name and tls_verify; their defaults, their dump, their errors. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shoal/config/config.h"

#include "check_run.h"
#include "config_fixture.h"
#include "tls_fixture.h"

/* body on line 3, in the one upstream group. */
#define UPSTREAM_WITH(body) \
	"upstreams = (\n  { name = \"app\"; servers = ( { address = \"127.0.0.1:9001\"; } );\n" body \
	"\n  }\n);\n" MIN_SERVERS

/* A CA certificate at tmpdir/ca.pem, and a file that holds none at tmpdir/garbage.pem. */
static void write_ca_files(void)
{
	EVP_PKEY *key = fixture_key();
	X509 *ca = fixture_cert(key, "Test CA", NULL, true, 365 * DAY, NULL, NULL);
	char path[PATH_MAX];

	tmp_path(path, sizeof(path), "ca.pem");
	fixture_write(path, ca, NULL);
	write_conf(path, sizeof(path), "garbage.pem", "not a certificate\n");
	X509_free(ca);
	EVP_PKEY_free(key);
}

static void tls_setup(void)
{
	setup();
	write_ca_files();
}

static const char tls_conf[] =
	"upstreams = (\n"
	"  { name = \"plain\"; servers = ( { address = \"127.0.0.1:9001\"; } ); },\n"
	"  { name = \"secure\"; servers = ( { address = \"127.0.0.1:9443\"; } );\n"
	"    tls = true; tls_ca = \"ca.pem\"; tls_server_name = \"api.internal\";\n"
	"    tls_verify = false; },\n"
	"  { name = \"public\"; servers = ( { address = \"[::1]:443\"; } ); tls = true; }\n"
	");\n" MIN_SERVERS;

START_TEST(test_tls_keys_and_their_defaults)
{
	char path[PATH_MAX];
	struct shoal_config cfg;
	struct shoal_err err = { "" };
	const struct shoal_upstream_conf *u;

	write_conf(path, sizeof(path), "shoal.conf", tls_conf);
	ck_assert_msg(shoal_config_load(&cfg, path, &err) == 0, "%s", err.msg);
	u = &cfg.upstreams[0];
	ck_assert(!u->tls);
	ck_assert_ptr_null(u->tls_ca);
	ck_assert_ptr_null(u->tls_server_name);
	ck_assert(u->tls_verify);
	u = &cfg.upstreams[1];
	ck_assert(u->tls);
	expect_str(u->tls_ca, "ca.pem");
	ck_assert_str_eq(u->tls_server_name, "api.internal");
	ck_assert(!u->tls_verify);
	u = &cfg.upstreams[2];
	ck_assert(u->tls);
	ck_assert_ptr_null(u->tls_ca); /* the system's store */
	ck_assert_ptr_null(u->tls_server_name);
	ck_assert(u->tls_verify);
	shoal_config_free(&cfg);
}
END_TEST

START_TEST(test_tls_dump_round_trip)
{
	static const char *const lines[] = {
		"\n    tls = true;\n", "\n    tls = false;\n", "\n    tls_verify = false;\n",
		"\n    tls_verify = true;\n", "\n    tls_server_name = \"api.internal\";\n",
		"\n    # tls_server_name is unset\n", "\n    # tls_ca is unset\n",
	};
	char path[PATH_MAX], ca_line[PATH_MAX + 32];
	struct shoal_config cfg, again;
	struct shoal_err err = { "" };
	char *text;

	write_conf(path, sizeof(path), "shoal.conf", tls_conf);
	ck_assert_msg(shoal_config_load(&cfg, path, &err) == 0, "%s", err.msg);
	text = dump_and_reload(&cfg, &again);
	assert_same_config(&cfg, &again);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		ck_assert_msg(strstr(text, lines[i]), "dump lacks '%s':\n%s", lines[i], text);
	snprintf(ca_line, sizeof(ca_line), "\n    tls_ca = \"%s/ca.pem\";\n", tmpdir);
	ck_assert_msg(strstr(text, ca_line), "dump lacks '%s':\n%s", ca_line, text);
	free(text);
	shoal_config_free(&cfg);
	shoal_config_free(&again);
}
END_TEST

/* Addresses are verified as addresses: both families, without brackets. */
START_TEST(test_tls_server_name_may_be_an_address)
{
	static const char *const names[] = { "127.0.0.1", "::1", "2001:db8::7", "a-1.b.test" };
	char path[PATH_MAX], conf[512];
	struct shoal_config cfg;
	struct shoal_err err = { "" };

	snprintf(conf, sizeof(conf), UPSTREAM_WITH("    tls = true; tls_server_name = \"%s\";"),
		 names[_i]);
	write_conf(path, sizeof(path), "shoal.conf", conf);
	ck_assert_msg(shoal_config_load(&cfg, path, &err) == 0, "%s: %s", names[_i], err.msg);
	ck_assert_str_eq(cfg.upstreams[0].tls_server_name, names[_i]);
	shoal_config_free(&cfg);
}
END_TEST

#define NAME_SYNTAX "must be a host name or an IP address, without a port"
#define TLS_ONLY "applies only to a group with tls = true"

static const struct error_case error_cases[] = {
	{ UPSTREAM_WITH("    tls = \"yes\";"), 3, "upstreams[0].tls",
	  "must be true or false, not a string" },
	{ UPSTREAM_WITH("    tls = 1;"), 3, "upstreams[0].tls", "not an integer" },
	{ UPSTREAM_WITH("    tls_ca = \"ca.pem\";"), 3, "upstreams[0].tls_ca", TLS_ONLY },
	{ UPSTREAM_WITH("    tls_server_name = \"a.test\";"), 3, "upstreams[0].tls_server_name",
	  TLS_ONLY },
	{ UPSTREAM_WITH("    tls_verify = false;"), 3, "upstreams[0].tls_verify", TLS_ONLY },
	{ UPSTREAM_WITH("    tls = true;\n    tls_ca = \"missing.pem\";"), 4, "upstreams[0].tls_ca",
	  "missing.pem: No such file or directory" },
	{ UPSTREAM_WITH("    tls = true;\n    tls_ca = \"garbage.pem\";"), 4, "upstreams[0].tls_ca",
	  "garbage.pem: cannot load the certificate authorities" },
	{ UPSTREAM_WITH("    tls = true;\n    tls_ca = \"\";"), 4, "upstreams[0].tls_ca",
	  "must not be empty" },
	{ UPSTREAM_WITH("    tls = true;\n    tls_server_name = \"a b\";"), 4,
	  "upstreams[0].tls_server_name", "'a b' " NAME_SYNTAX },
	{ UPSTREAM_WITH("    tls = true;\n    tls_server_name = \"api.test:443\";"), 4,
	  "upstreams[0].tls_server_name", NAME_SYNTAX },
	{ UPSTREAM_WITH("    tls = true;\n    tls_server_name = \"[::1]\";"), 4,
	  "upstreams[0].tls_server_name", NAME_SYNTAX },
	{ UPSTREAM_WITH("    tls = true;\n    tls_server_name = \".test\";"), 4,
	  "upstreams[0].tls_server_name", NAME_SYNTAX },
	{ UPSTREAM_WITH("    tls = true;\n    tls_server_name = 5;"), 4,
	  "upstreams[0].tls_server_name", "must be a string, not an integer" },
	{ UPSTREAM_WITH("    tls = true;\n    tls_verify = \"no\";"), 4, "upstreams[0].tls_verify",
	  "must be true or false" },
};

START_TEST(test_errors)
{
	expect_load_error(&error_cases[_i], _i);
}
END_TEST

/* A file the master cannot read is named with the reason (root reads anything). */
START_TEST(test_unreadable_ca)
{
	static const struct error_case c = {
		UPSTREAM_WITH("    tls = true; tls_ca = \"ca.pem\";"), 3, "upstreams[0].tls_ca",
		"ca.pem: Permission denied"
	};
	char path[PATH_MAX];

	if (geteuid() == 0)
		return;
	tmp_path(path, sizeof(path), "ca.pem");
	ck_assert_int_eq(chmod(path, 0), 0);
	expect_load_error(&c, 0);
}
END_TEST

static Suite *config_upstream_tls_suite(void)
{
	Suite *s = suite_create("config_upstream_tls");
	TCase *tc = tcase_create("load");
	size_t nerrors = sizeof(error_cases) / sizeof(error_cases[0]);

	tcase_add_checked_fixture(tc, tls_setup, teardown);
	tcase_add_test(tc, test_tls_keys_and_their_defaults);
	tcase_add_test(tc, test_tls_dump_round_trip);
	tcase_add_loop_test(tc, test_tls_server_name_may_be_an_address, 0, 4);
	tcase_add_loop_test(tc, test_errors, 0, (int)nerrors);
	tcase_add_test(tc, test_unreadable_ca);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return shoal_check_run(config_upstream_tls_suite());
}
