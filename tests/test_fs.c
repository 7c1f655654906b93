#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shoal/handler/fs.h"

#include "check_run.h"

static char dir[64];
static int root_fd = -1;
static char *index_names[] = { "index.htm", "index.html" };
static struct shoal_server_conf server = { .index = index_names, .nindex = 2,
					   .follow_symlinks = true };

static void write_file(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void make_link(const char *target, const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	ck_assert_int_eq(symlink(target, path), 0);
}

static void setup(void)
{
	char path[256];

	snprintf(dir, sizeof(dir), "/tmp/shoal-static-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/www", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/www/docs", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/www/empty", dir);
	mkdir(path, 0755);
	write_file("secret.txt", "outside the root");
	write_file("www/a.txt", "hello");
	write_file("www/docs/index.html", "<h1>docs</h1>");
	snprintf(path, sizeof(path), "%s/www/fifo", dir);
	mkfifo(path, 0644);
	snprintf(path, sizeof(path), "%s/secret.txt", dir);
	make_link(path, "www/abs-link");
	make_link("../secret.txt", "www/rel-link");
	make_link("a.txt", "www/inside-link");
	snprintf(path, sizeof(path), "%s/www", dir);
	root_fd = shoal_fs_open_root(path, NULL);
	ck_assert_int_ge(root_fd, 0);
}

static void teardown(void)
{
	char cmd[128];

	close(root_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct shoal_fs_file open_path(const char *path)
{
	struct shoal_fs_file f;

	shoal_fs_open(root_fd, &server, path, strlen(path), &f);
	return f;
}

START_TEST(regular_file)
{
	struct shoal_fs_file f = open_path("/a.txt");

	ck_assert_int_eq(f.status, 200);
	ck_assert_int_ge(f.fd, 0);
	ck_assert_int_eq(f.st.st_size, 5);
	ck_assert_int_eq((int)f.name_len, 5);
	ck_assert(memcmp(f.name, "a.txt", 5) == 0);
	close(f.fd);
}
END_TEST

START_TEST(missing_and_not_a_directory)
{
	ck_assert_int_eq(open_path("/nope").status, 404);
	ck_assert_int_eq(open_path("/a.txt/x").status, 404);
	ck_assert_int_eq(open_path("/nope/").status, 404);
}
END_TEST

START_TEST(directories)
{
	struct shoal_fs_file f = open_path("/docs/");

	ck_assert_int_eq(f.status, 200);
	ck_assert(memcmp(f.name, "index.html", f.name_len) == 0);
	close(f.fd);
	ck_assert_int_eq(open_path("/docs").status, 301);
	ck_assert_int_eq(open_path("/empty/").status, 403); /* no index file */
	ck_assert_int_eq(open_path("/a.txt/").status, 404);
}
END_TEST

START_TEST(never_leaves_the_root)
{
	struct shoal_fs_file f = open_path("/inside-link");

	ck_assert_int_eq(f.status, 200);
	close(f.fd);
	ck_assert_int_eq(open_path("/abs-link").status, 403);
	ck_assert_int_eq(open_path("/rel-link").status, 403);
}
END_TEST

START_TEST(symlinks_can_be_refused)
{
	struct shoal_fs_file f;

	server.follow_symlinks = false;
	f = open_path("/inside-link");
	server.follow_symlinks = true;
	ck_assert_int_eq(f.status, 403);
	f = open_path("/a.txt");
	ck_assert_int_eq(f.status, 200);
	close(f.fd);
}
END_TEST

START_TEST(fifo_is_refused_without_blocking)
{
	/* With no writer, a blocking open of a FIFO would hang this test forever. */
	ck_assert_int_eq(open_path("/fifo").status, 403);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fs");
	TCase *tc = tcase_create("open");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 5);
	tcase_add_test(tc, regular_file);
	tcase_add_test(tc, missing_and_not_a_directory);
	tcase_add_test(tc, directories);
	tcase_add_test(tc, never_leaves_the_root);
	tcase_add_test(tc, symlinks_can_be_refused);
	tcase_add_test(tc, fifo_is_refused_without_blocking);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
