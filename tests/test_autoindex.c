#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shoal/handler/autoindex.h"

#include "check_run.h"

static char dir[64];

static void touch(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static char *render(const char *url, size_t *len)
{
	struct shoal_err err;
	char *page = shoal_autoindex_render(open(dir, O_RDONLY | O_DIRECTORY), url, len, &err);

	ck_assert_msg(page != NULL, "%s", err.msg);
	return page;
}

static void setup(void)
{
	char sub[128];

	snprintf(dir, sizeof(dir), "/tmp/shoal-autoindex-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	touch("b.txt", "12345");
	touch("a <&> \"q\".html", "x");
	touch(".secret", "hidden");
	snprintf(sub, sizeof(sub), "%s/sub dir", dir);
	mkdir(sub, 0755);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(lists_sorted_escaped_entries)
{
	size_t len;
	char *page = render("/docs/<x>/", &len);
	char *a = strstr(page, "a &lt;&amp;&gt; &quot;q&quot;.html</a>");
	char *b = strstr(page, ">b.txt</a>");
	char *sub = strstr(page, ">sub dir/</a>");

	ck_assert_uint_eq(strlen(page), len);
	ck_assert_ptr_nonnull(strstr(page, "<title>Index of /docs/&lt;x&gt;/</title>"));
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(sub);
	ck_assert(a < b && b < sub); /* sorted by name */
	ck_assert_ptr_nonnull(strstr(page, "href=\"a%20%3C%26%3E%20%22q%22.html\""));
	ck_assert_ptr_nonnull(strstr(page, "href=\"sub%20dir/\""));
	ck_assert_ptr_nonnull(strstr(page, "href=\"../\""));
	ck_assert_ptr_nonnull(strstr(page, "  5\n")); /* b.txt's size */
	free(page);
}
END_TEST

START_TEST(hides_dot_files_and_parent_of_root)
{
	size_t len;
	char *page = render("/", &len);

	ck_assert_ptr_null(strstr(page, "secret"));
	ck_assert_ptr_null(strstr(page, "href=\"../\""));
	free(page);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("autoindex");
	TCase *tc = tcase_create("render");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, lists_sorted_escaped_entries);
	tcase_add_test(tc, hides_dot_files_and_parent_of_root);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
