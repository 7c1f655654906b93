#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shoal/master/generation.h"

#include "check_run.h"

struct dir {
	char path[64];
	char conf[96];
};

static void dir_make(struct dir *d)
{
	strcpy(d->path, "/tmp/shoal-test-gen-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(d->path));
	snprintf(d->conf, sizeof(d->conf), "%s/shoal.conf", d->path);
}

static void dir_remove(struct dir *d)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	ck_assert_int_eq(system(cmd), 0);
}

static void write_conf(const struct dir *d, const char *text)
{
	FILE *f = fopen(d->conf, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static struct shoal_generation *load_ok(const struct dir *d)
{
	struct shoal_err err = { "" };
	struct shoal_generation *g = shoal_generation_load(d->conf, &err);

	ck_assert_msg(g != NULL, "%s", err.msg);
	return g;
}

START_TEST(servers_sharing_an_address_share_it_with_the_largest_backlog)
{
	struct dir d;
	struct shoal_generation *g;

	dir_make(&d);
	write_conf(&d, "allow_root = true;\n"
		       "servers = (\n"
		       "  { listen = [ \"127.0.0.1:8001\", \"127.0.0.1:8002\" ]; root = \".\"; backlog = 100; },\n"
		       "  { listen = [ \"127.0.0.1:8002\" ]; root = \".\"; backlog = 900; server_names = [ \"b\" ]; }\n"
		       ");\n");
	g = load_ok(&d);
	ck_assert_uint_eq(g->naddrs, 2);
	ck_assert_int_eq(g->backlogs[0], 100);
	ck_assert_int_eq(g->backlogs[1], 900);
	ck_assert_int_ge(g->root_fds[0], 0);
	ck_assert_int_ge(g->root_fds[1], 0);
	ck_assert(!g->drop_privileges);
	shoal_generation_free(g);
	dir_remove(&d);
}
END_TEST

START_TEST(types_from_the_configuration_override_mime_types)
{
	struct dir d;
	struct shoal_generation *g;

	dir_make(&d);
	write_conf(&d, "allow_root = true;\n"
		       "types = [ \"text/x-shoal shl md\" ];\n"
		       "default_type = \"application/x-unknown\";\n"
		       "servers = ({ listen = [ \"127.0.0.1:8001\" ]; root = \".\"; });\n");
	g = load_ok(&d);
	ck_assert_str_eq(shoal_mime_lookup(g->mime, "a.shl", 5), "text/x-shoal; charset=utf-8");
	ck_assert_str_eq(shoal_mime_lookup(g->mime, "a.md", 4), "text/x-shoal; charset=utf-8");
	ck_assert_str_eq(shoal_mime_lookup(g->mime, "a.nothing", 9), "application/x-unknown");
	shoal_generation_free(g);
	dir_remove(&d);
}
END_TEST

static void expect_load_error(const struct dir *d, const char *want)
{
	struct shoal_err err = { "" };

	ck_assert_ptr_null(shoal_generation_load(d->conf, &err));
	ck_assert_msg(strstr(err.msg, want) != NULL, "'%s' lacks '%s'", err.msg, want);
}

START_TEST(errors_name_the_file_and_what_is_wrong)
{
	struct dir d;

	dir_make(&d);
	write_conf(&d, "servers = ({ listen = [ \"127.0.0.1:8001\" ];\n"
		       "  root = \"missing\"; });\n");
	expect_load_error(&d, ":2: servers[0].root:");
	write_conf(&d, "user = \"no-such-user-shoal\";\n"
		       "servers = ({ listen = [ \"127.0.0.1:8001\" ]; root = \".\"; });\n");
	expect_load_error(&d, "user: no user named 'no-such-user-shoal'");
	write_conf(&d, "user = \"root\"; group = \"no-such-group-shoal\";\n"
		       "servers = ({ listen = [ \"127.0.0.1:8001\" ]; root = \".\"; });\n");
	expect_load_error(&d, "group: no group named 'no-such-group-shoal'");
	dir_remove(&d);
}
END_TEST

START_TEST(root_needs_a_user_or_allow_root)
{
	struct dir d;
	struct shoal_generation *g;
	struct shoal_err err = { "" };

	dir_make(&d);
	write_conf(&d, "servers = ({ listen = [ \"127.0.0.1:8001\" ]; root = \".\"; });\n");
	g = load_ok(&d);
	if (geteuid() == 0) {
		ck_assert_int_eq(shoal_generation_check_root(g, &err), -1);
		ck_assert_ptr_nonnull(strstr(err.msg, "refusing to serve as root"));
	} else {
		ck_assert_int_eq(shoal_generation_check_root(g, &err), 0);
	}
	shoal_generation_free(g);
	write_conf(&d, "user = \"root\";\n"
		       "servers = ({ listen = [ \"127.0.0.1:8001\" ]; root = \".\"; });\n");
	g = load_ok(&d);
	ck_assert_int_eq(shoal_generation_check_root(g, &err), 0);
	ck_assert_int_eq(g->uid, 0);
	ck_assert(g->drop_privileges == (geteuid() == 0));
	shoal_generation_free(g);
	dir_remove(&d);
}
END_TEST

START_TEST(into_config_keeps_the_configuration_only)
{
	struct dir d;
	struct shoal_config cfg;

	dir_make(&d);
	write_conf(&d, "workers = 3; allow_root = true;\n"
		       "servers = ({ listen = [ \"127.0.0.1:8001\" ]; root = \".\"; });\n");
	shoal_generation_into_config(load_ok(&d), &cfg);
	ck_assert_int_eq(cfg.workers, 3);
	ck_assert_uint_eq(cfg.nservers, 1);
	shoal_config_free(&cfg);
	dir_remove(&d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("generation");
	TCase *tc = tcase_create("generation");

	tcase_add_test(tc, servers_sharing_an_address_share_it_with_the_largest_backlog);
	tcase_add_test(tc, types_from_the_configuration_override_mime_types);
	tcase_add_test(tc, errors_name_the_file_and_what_is_wrong);
	tcase_add_test(tc, root_needs_a_user_or_allow_root);
	tcase_add_test(tc, into_config_keeps_the_configuration_only);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
