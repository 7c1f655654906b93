#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shoal/http/mime.h"

#include "check_run.h"

#define OCTET "application/octet-stream"
#define MISSING_PATH "/nonexistent/shoal-test/mime.types"

struct type_case {
	const char *name;
	const char *want;
};

static const struct type_case builtin_cases[] = {
	{ "index.html", "text/html; charset=utf-8" },
	{ "old.htm", "text/html; charset=utf-8" },
	{ "site.css", "text/css; charset=utf-8" },
	{ "app.js", "text/javascript; charset=utf-8" },
	{ "mod.mjs", "text/javascript; charset=utf-8" },
	{ "data.json", "application/json" },
	{ "notes.txt", "text/plain; charset=utf-8" },
	{ "feed.xml", "application/xml" },
	{ "logo.svg", "image/svg+xml" },
	{ "a.png", "image/png" },
	{ "a.jpg", "image/jpeg" },
	{ "a.jpeg", "image/jpeg" },
	{ "a.gif", "image/gif" },
	{ "a.webp", "image/webp" },
	{ "favicon.ico", "image/vnd.microsoft.icon" },
	{ "doc.pdf", "application/pdf" },
	{ "m.wasm", "application/wasm" },
	{ "f.woff", "font/woff" },
	{ "f.woff2", "font/woff2" },
	{ "v.mp4", "video/mp4" },
	{ "v.webm", "video/webm" },
	/* the extension is the text after the last '.', in any case */
	{ "INDEX.HTML", "text/html; charset=utf-8" },
	{ "a.PnG", "image/png" },
	{ "archive.tar.png", "image/png" },
	{ "/dir/sub/a.css", "text/css; charset=utf-8" },
	{ ".html", "text/html; charset=utf-8" },
	/* no usable extension */
	{ "README", OCTET },
	{ "", OCTET },
	{ "file.", OCTET },
	{ "png", OCTET },
	{ "a.unknownext", OCTET },
	{ "dir.png/README", OCTET },
	{ "a.png/", OCTET },
	{ "a.htmlx", OCTET },
	{ "a.xhtml", OCTET },
	{ "a.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", OCTET },
};

static struct shoal_mime *load_or_fail(const char *path, const char *default_type)
{
	struct shoal_mime *m = NULL;
	struct shoal_err err = { "" };

	ck_assert_msg(shoal_mime_load(&m, path, default_type, &err) == 0, "load: %s", err.msg);
	ck_assert_ptr_nonnull(m);
	return m;
}

static const char *lookup(const struct shoal_mime *m, const char *name)
{
	return shoal_mime_lookup(m, name, strlen(name));
}

/* Writes text to a fresh temporary file; the caller unlinks path. */
static void write_temp(char *path, const char *text)
{
	int fd = mkstemp(path);
	size_t len = strlen(text);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

START_TEST(test_builtin)
{
	struct shoal_mime *m = load_or_fail(MISSING_PATH, OCTET);

	ck_assert_str_eq(lookup(m, builtin_cases[_i].name), builtin_cases[_i].want);
	shoal_mime_free(m);
}
END_TEST

START_TEST(test_null_path_is_builtin_only)
{
	struct shoal_mime *m = load_or_fail(NULL, OCTET);

	ck_assert_str_eq(lookup(m, "a.png"), "image/png");
	ck_assert_str_eq(lookup(m, "a.shtml"), OCTET);
	shoal_mime_free(m);
}
END_TEST

START_TEST(test_lookup_uses_len)
{
	struct shoal_mime *m = load_or_fail(NULL, OCTET);

	ck_assert_str_eq(shoal_mime_lookup(m, "a.pngx", 5), "image/png");
	ck_assert_str_eq(shoal_mime_lookup(m, "a.png", 4), OCTET);
	ck_assert_str_eq(shoal_mime_lookup(m, "a.png", 0), OCTET);
	shoal_mime_free(m);
}
END_TEST

START_TEST(test_default_type)
{
	struct shoal_mime *m = load_or_fail(NULL, "text/plain");
	struct shoal_err err = { "" };

	ck_assert_str_eq(lookup(m, "README"), "text/plain; charset=utf-8");
	shoal_mime_free(m);

	m = NULL;
	ck_assert_int_eq(shoal_mime_load(&m, NULL, "nonsense", &err), -1);
	ck_assert_ptr_null(m);
	ck_assert_ptr_nonnull(strstr(err.msg, "nonsense"));
}
END_TEST

static const char sample_types[] =
	"# a comment\n"
	"\n"
	"   \t\n"
	"   # an indented comment\n"
	"text/x-custom\tcst CSTM # comment words\n"
	"application/x-noext\n"
	"image/x-override png apng\n"
	"text/xml\txml\n"
	"application/xhtml+xml xhtml\n"
	"application/javascript js\n"
	"text/x-first dup\n"
	"text/x-second dup\r\n"
	"application/x-long aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n"
	"font/x-last last";

static const struct type_case sample_cases[] = {
	{ "a.cst", "text/x-custom; charset=utf-8" },
	{ "a.cstm", "text/x-custom; charset=utf-8" },
	{ "a.CsTm", "text/x-custom; charset=utf-8" },
	{ "a.comment", OCTET },
	{ "a.words", OCTET },
	{ "a.png", "image/x-override" },
	{ "a.apng", "image/x-override" },
	{ "a.xml", "text/xml" },
	{ "a.xhtml", "application/xhtml+xml" },
	{ "a.js", "application/javascript; charset=utf-8" },
	{ "a.dup", "text/x-second; charset=utf-8" },
	{ "a.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", OCTET },
	{ "a.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "application/x-long" },
	{ "a.last", "font/x-last" },
	/* built-in types the file does not mention survive */
	{ "a.woff2", "font/woff2" },
	{ "a.html", "text/html; charset=utf-8" },
};

START_TEST(test_file)
{
	char path[] = "/tmp/shoal-test-mime-XXXXXX";
	struct shoal_mime *m;

	write_temp(path, sample_types);
	m = load_or_fail(path, OCTET);
	unlink(path);
	ck_assert_str_eq(lookup(m, sample_cases[_i].name), sample_cases[_i].want);
	shoal_mime_free(m);
}
END_TEST

static void expect_load_error(const char *text, const char *needle)
{
	char path[] = "/tmp/shoal-test-mime-XXXXXX";
	struct shoal_mime *m = NULL;
	struct shoal_err err = { "" };

	write_temp(path, text);
	ck_assert_int_eq(shoal_mime_load(&m, path, OCTET, &err), -1);
	unlink(path);
	ck_assert_ptr_null(m);
	ck_assert_msg(strstr(err.msg, needle), "message \"%s\" lacks \"%s\"", err.msg, needle);
}

START_TEST(test_file_malformed)
{
	expect_load_error("# ok\ntext/plain txt\nnotatype ext\n", ":3: 'notatype'");
	expect_load_error("/plain txt\n", ":1:");
	expect_load_error("text/ txt\n", ":1:");
}
END_TEST

START_TEST(test_file_line_too_long)
{
	static char text[5000];

	memcpy(text, "text/plain ", 11);
	memset(text + 11, 'x', sizeof(text) - 12);
	expect_load_error(text, ":1: line longer");
}
END_TEST

START_TEST(test_file_unreadable)
{
	struct shoal_mime *m = NULL;
	struct shoal_err err = { "" };

	ck_assert_int_eq(shoal_mime_load(&m, "/tmp", OCTET, &err), -1);
	ck_assert_ptr_null(m);
	ck_assert_ptr_nonnull(strstr(err.msg, "/tmp"));
}
END_TEST

START_TEST(test_system_file)
{
	struct shoal_mime *m;

	ck_assert_int_eq(access("/etc/mime.types", R_OK), 0);
	m = load_or_fail("/etc/mime.types", OCTET);
	ck_assert_str_eq(lookup(m, "index.html"), "text/html; charset=utf-8");
	ck_assert_str_eq(lookup(m, "site.css"), "text/css; charset=utf-8");
	ck_assert_str_eq(lookup(m, "a.png"), "image/png");
	ck_assert_str_eq(lookup(m, "a.shtml"), "text/html; charset=utf-8");
	ck_assert_str_eq(lookup(m, "a.no-such-extension"), OCTET);
	shoal_mime_free(m);
}
END_TEST

START_TEST(test_set)
{
	struct shoal_mime *m = load_or_fail(NULL, OCTET);
	struct shoal_err err = { "" };
	const char *before = lookup(m, "a.html");

	ck_assert_int_eq(shoal_mime_set(m, "MD", "text/markdown", &err), 0);
	ck_assert_str_eq(lookup(m, "a.md"), "text/markdown; charset=utf-8");
	ck_assert_int_eq(shoal_mime_set(m, "html", "text/html; charset=iso-8859-1", &err), 0);
	ck_assert_str_eq(lookup(m, "a.HTML"), "text/html; charset=iso-8859-1");
	/* a string handed out earlier stays valid after its mapping is replaced */
	ck_assert_str_eq(before, "text/html; charset=utf-8");
	ck_assert_int_eq(shoal_mime_set(m, "png", "image/x-mine", &err), 0);
	ck_assert_str_eq(lookup(m, "a.png"), "image/x-mine");
	shoal_mime_free(m);
}
END_TEST

START_TEST(test_set_rejects)
{
	struct shoal_mime *m = load_or_fail(NULL, OCTET);
	struct shoal_err err = { "" };
	static const char *const bad_exts[] = {
		"", ".md", "a/b", "a b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	static const char *const bad_types[] = {
		"", "texthtml", "/html", "text/", "text/html\r\nX-Evil: 1", "text/\x7f",
	};
	size_t i;

	for (i = 0; i < sizeof(bad_exts) / sizeof(bad_exts[0]); i++) {
		err.msg[0] = '\0';
		ck_assert_int_eq(shoal_mime_set(m, bad_exts[i], "text/plain", &err), -1);
		ck_assert_msg(err.msg[0] != '\0', "no message for ext \"%s\"", bad_exts[i]);
	}
	for (i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
		err.msg[0] = '\0';
		ck_assert_int_eq(shoal_mime_set(m, "bad", bad_types[i], &err), -1);
		ck_assert_msg(err.msg[0] != '\0', "no message for type %zu", i);
	}
	ck_assert_str_eq(lookup(m, "a.bad"), OCTET);
	ck_assert_int_eq(shoal_mime_set(m, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "text/x-a", &err), 0);
	ck_assert_str_eq(lookup(m, "f.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "text/x-a; charset=utf-8");
	shoal_mime_free(m);
}
END_TEST

/* Enough mappings to make the table grow several times; every one must stay reachable. */
START_TEST(test_many)
{
	enum { N = 5000 };
	struct shoal_mime *m = load_or_fail(NULL, OCTET);
	char ext[16], name[24], type[32];
	int i;

	for (i = 0; i < N; i++) {
		snprintf(ext, sizeof(ext), "e%d", i);
		snprintf(type, sizeof(type), "application/x-%d", i);
		ck_assert_int_eq(shoal_mime_set(m, ext, type, NULL), 0);
	}
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f.E%d", i);
		snprintf(type, sizeof(type), "application/x-%d", i);
		ck_assert_str_eq(lookup(m, name), type);
	}
	ck_assert_str_eq(lookup(m, "f.e5000"), OCTET);
	ck_assert_str_eq(lookup(m, "f.png"), "image/png");
	shoal_mime_free(m);
}
END_TEST

START_TEST(test_free_null)
{
	shoal_mime_free(NULL);
}
END_TEST

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *mime_suite(void)
{
	Suite *s = suite_create("mime");
	TCase *builtin = tcase_create("builtin");
	TCase *file = tcase_create("file");
	TCase *set = tcase_create("set");

	tcase_add_loop_test(builtin, test_builtin, 0, COUNT(builtin_cases));
	tcase_add_test(builtin, test_null_path_is_builtin_only);
	tcase_add_test(builtin, test_lookup_uses_len);
	tcase_add_test(builtin, test_default_type);
	tcase_add_loop_test(file, test_file, 0, COUNT(sample_cases));
	tcase_add_test(file, test_file_malformed);
	tcase_add_test(file, test_file_line_too_long);
	tcase_add_test(file, test_file_unreadable);
	tcase_add_test(file, test_system_file);
	tcase_add_test(set, test_set);
	tcase_add_test(set, test_set_rejects);
	tcase_add_test(set, test_many);
	tcase_add_test(set, test_free_null);
	suite_add_tcase(s, builtin);
	suite_add_tcase(s, file);
	suite_add_tcase(s, set);
	return s;
}

int main(void)
{
	return shoal_check_run(mime_suite());
}
