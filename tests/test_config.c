#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shoal/config/config.h"

#include "check_run.h"
#include "config_fixture.h"

static int expected_auto_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > 1024 ? 1024 : (int)n;
}

static const char full_conf[] =
	"workers = 3;\n"
	"user = \"www-data\";\n"
	"group = \"www-data\";\n"
	"pid_file = \"/run/shoal.pid\";\n"
	"error_log = \"logs/error.log\";\n"
	"log_level = \"debug\";\n"
	"shutdown_timeout = 5;\n"
	"stats_file = \"stats\";\n"
	"state_file = \"/run/shoal/state\";\n"
	"max_connections = 500L;\n"
	"header_timeout = 20;\n"
	"keepalive_timeout = 0;\n"
	"max_keepalive_requests = 7;\n"
	"max_header_size = 1024;\n"
	"servers = (\n"
	"  { listen = [ \"127.0.0.1:8080\", \"[::1]:8080\" ];\n"
	"    backlog = 128;\n"
	"    root = \"/srv/we\\\"ird\\\\dir\";\n"
	"    index = [ \"index.html\", \"index.htm\" ]; },\n"
	"  { listen = [ \"*:9090\", \"127.0.0.1:8080\" ];\n"
	"    root = \"./site/\"; }\n"
	");\n";

START_TEST(test_full_config)
{
	char path[PATH_MAX];
	struct shoal_config cfg;
	struct shoal_err err = { "" };
	const struct shoal_server_conf *s;

	write_conf(path, sizeof(path), "shoal.conf", full_conf);
	ck_assert_msg(shoal_config_load(&cfg, path, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(cfg.path, path);
	ck_assert_int_eq(cfg.workers, 3);
	ck_assert(!cfg.workers_auto);
	ck_assert_str_eq(cfg.user, "www-data");
	ck_assert_str_eq(cfg.group, "www-data");
	ck_assert_str_eq(cfg.pid_file, "/run/shoal.pid");
	expect_str(cfg.error_log, "logs/error.log");
	ck_assert_int_eq(cfg.log_level, SHOAL_LOG_DEBUG);
	ck_assert_int_eq(cfg.shutdown_timeout, 5);
	expect_str(cfg.stats_file, "stats");
	ck_assert_str_eq(cfg.state_file, "/run/shoal/state");
	ck_assert_int_eq(cfg.max_connections, 500);
	ck_assert_int_eq(cfg.header_timeout, 20);
	ck_assert_int_eq(cfg.keepalive_timeout, 0);
	ck_assert_int_eq(cfg.max_keepalive_requests, 7);
	ck_assert_int_eq(cfg.max_header_size, 1024);
	ck_assert_uint_eq(cfg.nservers, 2);
	s = &cfg.servers[0];
	ck_assert_uint_eq(s->nlisten, 2);
	ck_assert_str_eq(s->listen[0].text, "127.0.0.1:8080");
	ck_assert_str_eq(s->listen[1].text, "[::1]:8080");
	ck_assert_int_eq(s->backlog, 128);
	ck_assert_str_eq(s->root, "/srv/we\"ird\\dir");
	ck_assert_uint_eq(s->nindex, 2);
	ck_assert_str_eq(s->index[0], "index.html");
	ck_assert_str_eq(s->index[1], "index.htm");
	s = &cfg.servers[1];
	ck_assert_uint_eq(s->nlisten, 2);
	ck_assert_str_eq(s->listen[0].text, "0.0.0.0:9090");
	ck_assert(shoal_addr_equal(&s->listen[1], &cfg.servers[0].listen[0]));
	expect_str(s->root, "site/");
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
	ck_assert(cfg.workers_auto);
	ck_assert_int_eq(cfg.workers, expected_auto_workers());
	ck_assert_ptr_null(cfg.user);
	ck_assert_ptr_null(cfg.group);
	expect_str(cfg.pid_file, "shoal.pid");
	ck_assert_str_eq(cfg.error_log, "stderr");
	ck_assert_int_eq(cfg.log_level, SHOAL_LOG_INFO);
	ck_assert_int_eq(cfg.shutdown_timeout, 30);
	ck_assert_str_eq(cfg.stats_file, "/dev/shm/shoal.stats");
	ck_assert_str_eq(cfg.state_file, "/dev/shm/shoal.state");
	ck_assert_int_eq(cfg.max_connections, 10000);
	ck_assert_int_eq(cfg.header_timeout, 10);
	ck_assert_int_eq(cfg.keepalive_timeout, 75);
	ck_assert_int_eq(cfg.max_keepalive_requests, 10000);
	ck_assert_int_eq(cfg.max_header_size, 8192);
	ck_assert_uint_eq(cfg.nservers, 1);
	ck_assert_uint_eq(cfg.servers[0].nlisten, 1);
	ck_assert_str_eq(cfg.servers[0].listen[0].text, "127.0.0.1:8080");
	ck_assert_int_eq(cfg.servers[0].backlog, 4096);
	expect_str(cfg.servers[0].root, "www");
	ck_assert_uint_eq(cfg.servers[0].nindex, 1);
	ck_assert_str_eq(cfg.servers[0].index[0], "index.html");
	ck_assert_int_eq(cfg.proxy_buffer_size, 65536);
	ck_assert_uint_eq(cfg.nupstreams, 0);
	ck_assert_ptr_null(cfg.upstreams);
	ck_assert_uint_eq(cfg.servers[0].nlocations, 0);
	ck_assert_ptr_null(cfg.servers[0].locations);
	/* No peer is believed about the client: its socket's address is the client's. */
	ck_assert_uint_eq(cfg.servers[0].nreal_ip_from, 0);
	ck_assert_str_eq(cfg.servers[0].real_ip_header, "X-Forwarded-For");
	shoal_config_free(&cfg);
}
END_TEST

START_TEST(test_real_ip)
{
	char path[PATH_MAX];
	struct shoal_config cfg, again;
	struct shoal_err err = { "" };
	const struct shoal_server_conf *s;
	char *text;

	write_conf(path, sizeof(path), "shoal.conf",
		   SERVER("    real_ip_from = [ \"10.0.0.0/8\", \"::1\", \"192.0.2.7\" ];\n"
			  "    real_ip_header = \"forwarded\";"));
	ck_assert_msg(shoal_config_load(&cfg, path, &err) == 0, "%s", err.msg);
	s = &cfg.servers[0];
	ck_assert_uint_eq(s->nreal_ip_from, 3);
	ck_assert_str_eq(s->real_ip_from[0], "10.0.0.0/8");
	ck_assert_str_eq(s->real_ip_from[1], "::1");
	ck_assert_str_eq(s->real_ip_from[2], "192.0.2.7");
	ck_assert_str_eq(s->real_ip_header, "forwarded");
	text = dump_and_reload(&cfg, &again);
	assert_same_config(&cfg, &again);
	ck_assert_ptr_nonnull(strstr(text, "real_ip_from = [ \"10.0.0.0/8\", \"::1\", \"192.0.2.7\" ];"));
	ck_assert_ptr_nonnull(strstr(text, "real_ip_header = \"forwarded\";"));
	free(text);
	shoal_config_free(&cfg);
	shoal_config_free(&again);
}
END_TEST

START_TEST(test_relative_paths_follow_config_dir)
{
	char path[PATH_MAX];
	struct shoal_config cfg;
	struct shoal_err err = { "" };

	write_conf(path, sizeof(path), "etc/shoal.conf",
		   "pid_file = \"run/shoal.pid\";\n"
		   "error_log = \"./log/error.log\";\n"
		   "stats_file = \"stats\";\n"
		   "state_file = \"run/state\";\n"
		   "servers = ({ listen = [\"127.0.0.1:8080\"]; root = \".\"; },\n"
		   "           { listen = [\"127.0.0.1:8081\"]; root = \"www\"; });\n");
	/* The file is found from the cwd, but what it names must not depend on the cwd. */
	ck_assert_int_eq(chdir(tmpdir), 0);
	ck_assert_msg(shoal_config_load(&cfg, "etc/shoal.conf", &err) == 0, "%s", err.msg);
	ck_assert_str_eq(cfg.path, path);
	expect_str(cfg.pid_file, "etc/run/shoal.pid");
	expect_str(cfg.error_log, "etc/log/error.log");
	expect_str(cfg.stats_file, "etc/stats");
	expect_str(cfg.state_file, "etc/run/state");
	expect_str(cfg.servers[0].root, "etc");
	expect_str(cfg.servers[1].root, "etc/www");
	shoal_config_free(&cfg);
}
END_TEST

START_TEST(test_workers_auto)
{
	char path[PATH_MAX];
	struct shoal_config cfg;
	struct shoal_err err = { "" };

	write_conf(path, sizeof(path), "shoal.conf", "workers = \"auto\";\n" MIN_SERVERS);
	ck_assert_msg(shoal_config_load(&cfg, path, &err) == 0, "%s", err.msg);
	ck_assert(cfg.workers_auto);
	ck_assert_int_eq(cfg.workers, expected_auto_workers());
	shoal_config_free(&cfg);
}
END_TEST

START_TEST(test_shared_address_between_servers)
{
	char path[PATH_MAX];
	struct shoal_config cfg;
	struct shoal_err err = { "" };

	write_conf(path, sizeof(path), "shoal.conf",
		   "servers = ({ listen = [\"[::1]:80\"]; root = \"a\"; },\n"
		   "           { listen = [\"[0::1]:80\"]; root = \"b\"; });\n");
	ck_assert_msg(shoal_config_load(&cfg, path, &err) == 0, "%s", err.msg);
	ck_assert(shoal_addr_equal(&cfg.servers[0].listen[0], &cfg.servers[1].listen[0]));
	shoal_config_free(&cfg);
}
END_TEST

static const struct error_case error_cases[] = {
	{ "workers = ;\n" MIN_SERVERS, 1, "", "syntax error" },
	{ MIN_SERVERS "\nfoo = 1;\n", 3, "", "unknown key 'foo'" },
	{ SERVER("    rot = \"x\";"), 3, "", "unknown key 'servers[0].rot'" },
	{ "workers = \"two\";\n" MIN_SERVERS, 1, "workers",
	  "must be an integer from 1 to 1024 or \"auto\"" },
	{ "\nworkers = 2.5;\n" MIN_SERVERS, 2, "workers", "from 1 to 1024 or \"auto\"" },
	{ "workers = 0;\n" MIN_SERVERS, 1, "workers", "from 1 to 1024 or \"auto\"" },
	{ "workers = 1025;\n" MIN_SERVERS, 1, "workers", "from 1 to 1024 or \"auto\"" },
	{ "max_connections = \"10\";\n" MIN_SERVERS, 1, "max_connections",
	  "must be an integer from 1 to 1000000, not a string" },
	{ "max_connections = 1000001;\n" MIN_SERVERS, 1, "max_connections",
	  "must be an integer from 1 to 1000000" },
	{ "shutdown_timeout = -1;\n" MIN_SERVERS, 1, "shutdown_timeout", "from 0 to 3600" },
	{ "header_timeout = 99999999999L;\n" MIN_SERVERS, 1, "header_timeout", "from 1 to 3600" },
	{ "header_timeout = 0;\n" MIN_SERVERS, 1, "header_timeout", "from 1 to 3600" },
	{ "keepalive_timeout = true;\n" MIN_SERVERS, 1, "keepalive_timeout", "not a boolean" },
	{ "keepalive_timeout = 3601;\n" MIN_SERVERS, 1, "keepalive_timeout", "from 0 to 3600" },
	{ "max_keepalive_requests = 0;\n" MIN_SERVERS, 1, "max_keepalive_requests",
	  "from 1 to 10000000" },
	{ "max_header_size = 1023;\n" MIN_SERVERS, 1, "max_header_size", "from 1024 to 1048576" },
	{ "max_header_size = 8192.0;\n" MIN_SERVERS, 1, "max_header_size", "not a float" },
	{ "pid_file = 5;\n" MIN_SERVERS, 1, "pid_file", "must be a string, not an integer" },
	{ "pid_file = \"\";\n" MIN_SERVERS, 1, "pid_file", "must not be empty" },
	{ "stats_file = \"\";\n" MIN_SERVERS, 1, "stats_file", "must not be empty" },
	{ "state_file = \"\";\n" MIN_SERVERS, 1, "state_file", "must not be empty" },
	{ "state_file = 1;\n" MIN_SERVERS, 1, "state_file", "must be a string, not an integer" },
	{ "error_log = [\"a\"];\n" MIN_SERVERS, 1, "error_log", "must be a string, not an array" },
	{ "user = \"\";\n" MIN_SERVERS, 1, "user", "must not be empty" },
	{ "log_level = \"verbose\";\n" MIN_SERVERS, 1, "log_level",
	  "must be one of error, warn, info, debug" },
	{ "log_level = 3;\n" MIN_SERVERS, 1, "log_level", "must be a string, not an integer" },
	{ MIN_SERVERS "group = \"www\";\n", 2, "group", "group requires user" },
	{ "workers = 2;\n", 0, "servers", "required key is missing" },
	{ "\nservers = ();\n", 2, "servers", "must not be empty" },
	{ "servers = 5;\n", 1, "servers", "must be a list of groups" },
	{ "servers = (\n 5 );\n", 2, "servers[0]", "must be a group" },
	{ "servers = (\n  { root = \"www\"; }\n);\n", 2, "servers[0].listen",
	  "required key is missing" },
	{ "servers = (\n  { listen = [\"127.0.0.1:8080\"]; }\n);\n", 2, "servers[0].root",
	  "required key is missing" },
	{ "servers = (\n  { listen = [ ]; root = \"www\"; }\n);\n", 2, "servers[0].listen",
	  "must not be empty" },
	{ "servers = (\n  { listen = \"127.0.0.1:80\"; root = \"www\"; }\n);\n", 2,
	  "servers[0].listen", "must be an array of strings, not a string" },
	{ "servers = (\n  { listen = [ 8080 ]; root = \"www\"; }\n);\n", 2, "servers[0].listen[0]",
	  "must be a string, not an integer" },
	{ "servers = (\n  { listen = [ \"127.0.0.1:8080\",\n \"localhost:80\" ]; root = \"www\"; }\n);\n",
	  3, "servers[0].listen[1]", "'localhost:80' is not an IPv4 address" },
	{ "servers = (\n  { listen = [ \"[::1]:0\" ]; root = \"www\"; }\n);\n", 2,
	  "servers[0].listen[0]", "port must be a number from 1 to 65535" },
	{ "servers = (\n  { listen = [ \"[::1]:80\",\n\n \"[0::1]:80\" ]; root = \"www\"; }\n);\n",
	  4, "servers[0].listen[1]", "'[0::1]:80' is listed twice (also at index 0)" },
	{ SERVER("    backlog = 65536;"), 3, "servers[0].backlog", "from 1 to 65535" },
	{ SERVER("    backlog = \"1\";"), 3, "servers[0].backlog", "not a string" },
	{ "servers = (\n  { listen = [\"127.0.0.1:8080\"]; root = \"\"; }\n);\n", 2,
	  "servers[0].root", "must not be empty" },
	{ SERVER("    index = [ \"../x\" ];"), 3, "servers[0].index[0]", "must be a plain file name" },
	{ SERVER("    index = [ \"a\", \"..\" ];"), 3, "servers[0].index[1]",
	  "must be a plain file name" },
	{ SERVER("    index = [ \".\" ];"), 3, "servers[0].index[0]", "must be a plain file name" },
	{ SERVER("    index = \"index.html\";"), 3, "servers[0].index", "must be an array" },
	{ SERVER("    real_ip_from = [ \"10.0.0.0/8\",\n \"10.0.0.0/33\" ];"), 4,
	  "servers[0].real_ip_from[1]", "must be an address or a network" },
	{ SERVER("    real_ip_from = [ \"proxy.internal\" ];"), 3, "servers[0].real_ip_from[0]",
	  "must be an address or a network" },
	{ SERVER("    real_ip_from = \"10.0.0.1\";"), 3, "servers[0].real_ip_from",
	  "must be an array" },
	{ SERVER("    real_ip_header = \"X-Real-IP\";"), 3, "servers[0].real_ip_header",
	  "must be \"X-Forwarded-For\" or \"Forwarded\"" },
	{ SERVER("    real_ip_header = \"\";"), 3, "servers[0].real_ip_header", "must not be empty" },
	{ MIN_SERVERS "servers = 1;\n", 2, "", "syntax error: duplicate setting name" },
	{ "servers = (\n  { listen = [\"127.0.0.1:8080\"]; root = \"www\"; },\n"
	  "  { listen = [\"127.0.0.1:8080\"]; root = \"www\";\n    index = [ \"a/b\" ]; }\n);\n",
	  4, "servers[1].index[0]", "must be a plain file name" },
};

START_TEST(test_errors)
{
	expect_load_error(&error_cases[_i], _i);
}
END_TEST

START_TEST(test_unreadable_file)
{
	char path[PATH_MAX], want[PATH_MAX + 64];
	struct shoal_config cfg;
	struct shoal_err err = { "" };

	tmp_path(path, sizeof(path), "missing.conf");
	ck_assert_int_eq(shoal_config_load(&cfg, path, &err), -1);
	snprintf(want, sizeof(want), "cannot read %s: %s", path, strerror(ENOENT));
	ck_assert_str_eq(err.msg, want);
	ck_assert_ptr_null(cfg.path);

	ck_assert_int_eq(shoal_config_load(&cfg, tmpdir, &err), -1);
	snprintf(want, sizeof(want), "cannot read %s: %s", tmpdir, strerror(EISDIR));
	ck_assert_str_eq(err.msg, want);

	/* root reads anything, so the permission check only means something for other users. */
	if (geteuid() != 0) {
		write_conf(path, sizeof(path), "secret.conf", MIN_SERVERS);
		ck_assert_int_eq(chmod(path, 0), 0);
		ck_assert_int_eq(shoal_config_load(&cfg, path, &err), -1);
		snprintf(want, sizeof(want), "cannot read %s: %s", path, strerror(EACCES));
		ck_assert_str_eq(err.msg, want);
	}
}
END_TEST

START_TEST(test_free_twice)
{
	char path[PATH_MAX];
	struct shoal_config cfg;
	struct shoal_err err = { "" };

	write_conf(path, sizeof(path), "shoal.conf", full_conf);
	ck_assert_msg(shoal_config_load(&cfg, path, &err) == 0, "%s", err.msg);
	shoal_config_free(&cfg);
	ck_assert_ptr_null(cfg.path);
	ck_assert_ptr_null(cfg.user);
	ck_assert_ptr_null(cfg.servers);
	ck_assert_uint_eq(cfg.nservers, 0);
	shoal_config_free(&cfg);
}
END_TEST

START_TEST(test_dump_round_trip_full)
{
	char path[PATH_MAX];
	struct shoal_config cfg, again;
	struct shoal_err err = { "" };
	char *text;

	write_conf(path, sizeof(path), "shoal.conf", full_conf);
	ck_assert_msg(shoal_config_load(&cfg, path, &err) == 0, "%s", err.msg);
	text = dump_and_reload(&cfg, &again);
	assert_same_config(&cfg, &again);
	ck_assert(!again.workers_auto);
	ck_assert_ptr_nonnull(strstr(text, "\nworkers = 3;\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nmax_header_size = 1024;\n"));
	ck_assert_ptr_nonnull(strstr(text, "listen = [ \"0.0.0.0:9090\", \"127.0.0.1:8080\" ];"));
	free(text);
	shoal_config_free(&cfg);
	shoal_config_free(&again);
}
END_TEST

START_TEST(test_dump_fills_defaults)
{
	/* Top-level keys start a line; server keys are indented. */
	static const char *const keys[] = {
		"\nworkers = ", "\n# user is unset", "\n# group is unset", "\npid_file = ",
		"\nerror_log = \"stderr\";", "\nlog_level = \"info\";", "\nshutdown_timeout = 30;",
		"\nstats_file = \"/dev/shm/shoal.stats\";", "\nstate_file = \"/dev/shm/shoal.state\";",
		"\nmax_connections = 10000;",
		"\nheader_timeout = 10;", "\nkeepalive_timeout = 75;",
		"\nmax_keepalive_requests = 10000;", "\nmax_header_size = 8192;", "\nservers = (",
		" listen = [ \"127.0.0.1:8080\" ];", " backlog = 4096;", " root = \"/",
		" index = [ \"index.html\" ];", "\nproxy_buffer_size = 65536;", "\nupstreams = (\n);",
	};
	char path[PATH_MAX], line[64];
	struct shoal_config cfg, again;
	struct shoal_err err = { "" };
	char *text;

	write_conf(path, sizeof(path), "shoal.conf", MIN_SERVERS);
	ck_assert_msg(shoal_config_load(&cfg, path, &err) == 0, "%s", err.msg);
	text = dump_and_reload(&cfg, &again);
	assert_same_config(&cfg, &again);
	snprintf(line, sizeof(line), "\nworkers = %d;  # auto\n", cfg.workers);
	ck_assert_msg(strstr(text, line), "dump lacks '%s':\n%s", line, text);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_msg(strstr(text, keys[i]), "dump lacks '%s':\n%s", keys[i], text);
	free(text);
	shoal_config_free(&cfg);
	shoal_config_free(&again);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("load");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_full_config);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_real_ip);
	tcase_add_test(tc, test_relative_paths_follow_config_dir);
	tcase_add_test(tc, test_workers_auto);
	tcase_add_test(tc, test_shared_address_between_servers);
	tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(error_cases) / sizeof(error_cases[0])));
	tcase_add_test(tc, test_unreadable_file);
	tcase_add_test(tc, test_free_twice);
	tcase_add_test(tc, test_dump_round_trip_full);
	tcase_add_test(tc, test_dump_fills_defaults);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return shoal_check_run(config_suite());
}
