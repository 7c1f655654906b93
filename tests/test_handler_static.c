#include <check.h>
#include <signal.h>
#include <string.h>

#include "shoal/handler/static.h"

#include "check_run.h"
#include "handler_fixture.h"

/* Files up to 64 bytes are cached in memory; big.txt is served with sendfile. */
static const char conf[] =
	"cache_max_file_size = 64;\n"
	"servers = (\n"
	"  { listen = [\"127.0.0.1:8080\"]; root = \"www\"; },\n"
	"  { listen = [\"127.0.0.1:8081\"]; root = \"www\";\n"
	"    error_pages = [\"404 /errors/404.html\"]; }\n"
	");\n";

#define BIG_LEN 200

static struct fixture fx;
static struct fixture_exchange x;
static char big[BIG_LEN + 1];

static void setup(void)
{
	for (size_t i = 0; i < BIG_LEN; i++)
		big[i] = (char)('a' + i % 26);
	fixture_init(&fx);
	fixture_mkdir(&fx, "www");
	fixture_mkdir(&fx, "www/docs");
	fixture_mkdir(&fx, "www/errors");
	fixture_write(&fx, "www/a.txt", "hello");
	fixture_write(&fx, "www/big.txt", big);
	fixture_write(&fx, "www/docs/index.html", "<h1>docs</h1>");
	fixture_write(&fx, "www/errors/404.html", "<p>our own 404</p>");
	fixture_load(&fx, conf);
}

static void teardown(void)
{
	fixture_free(&fx);
}

/* Answers request on the first site (no error_pages) with the static handler and checks the
 * status; returns whether the connection may stay open. */
static bool serve(const char *request, int status)
{
	bool keep_alive = fixture_run(&x, &fx, shoal_static_handle, &fx.sites[0], request);

	ck_assert_int_eq(x.resp.status, status);
	return keep_alive;
}

/* The same for a GET of path with more header lines (each ending in CRLF; may be ""). */
static bool get(const char *path, const char *headers, int status)
{
	char request[512];

	snprintf(request, sizeof(request), "GET %s HTTP/1.1\r\nHost: a\r\n%s\r\n", path, headers);
	return serve(request, status);
}

START_TEST(small_file_then_served_from_the_cache)
{
	ck_assert(get("/a.txt", "", 200));
	ck_assert(fixture_body_is(&x.resp, "hello"));
	ck_assert(fixture_has(&x.resp, "Content-Type", "text/plain; charset=utf-8"));
	ck_assert(fixture_has(&x.resp, "Accept-Ranges", "bytes"));
	ck_assert(fixture_lacks(&x.resp, "Connection")); /* HTTP/1.1 keep-alive is implied */
	ck_assert_ptr_nonnull(shoal_file_cache_get(&fx.ctx.cache, &fx.sites[0], "/a.txt", 6));

	/* Within cache_revalidate the file is not looked at again: a change goes unseen. */
	fixture_write(&fx, "www/a.txt", "hello, world");
	get("/a.txt", "", 200);
	ck_assert(fixture_body_is(&x.resp, "hello"));
	fx.ctx.now_ms += fx.ctx.cache_revalidate_ms;
	get("/a.txt", "", 200);
	ck_assert(fixture_body_is(&x.resp, "hello, world"));
}
END_TEST

START_TEST(cached_file_tells_the_connection_to_http_1_0_and_closing_clients)
{
	get("/a.txt", "", 200); /* fills the cache */
	ck_assert(serve("GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200));
	ck_assert(fixture_has(&x.resp, "Connection", "keep-alive"));
	ck_assert(fixture_body_is(&x.resp, "hello"));
	ck_assert(!get("/a.txt", "Connection: close\r\n", 200));
	ck_assert(fixture_has(&x.resp, "Connection", "close"));
	ck_assert(fixture_body_is(&x.resp, "hello"));
}
END_TEST

START_TEST(head_has_no_body)
{
	/* The fixture fails if any byte follows the head. */
	ck_assert(serve("HEAD /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", 200));
	ck_assert(fixture_has(&x.resp, "Content-Length", "5"));
	serve("HEAD /big.txt HTTP/1.1\r\nHost: a\r\n\r\n", 200);
	ck_assert(fixture_has(&x.resp, "Content-Length", "200"));
}
END_TEST

START_TEST(matching_etag_is_not_modified)
{
	char etag[64], headers[128];

	get("/a.txt", "", 200);
	ck_assert_ptr_nonnull(fixture_header(&x.resp, "ETag", etag, sizeof(etag)));
	snprintf(headers, sizeof(headers), "If-None-Match: \"other\", %s\r\n", etag);
	ck_assert(get("/a.txt", headers, 304));
	ck_assert(fixture_has(&x.resp, "ETag", etag));
	ck_assert(fixture_lacks(&x.resp, "Content-Length"));
	ck_assert_uint_eq(x.resp.body_len, 0);
	get("/a.txt", "If-None-Match: \"other\"\r\n", 200);
}
END_TEST

START_TEST(range_is_partial_content)
{
	ck_assert(get("/a.txt", "Range: bytes=1-3\r\n", 206));
	ck_assert(fixture_has(&x.resp, "Content-Range", "bytes 1-3/5"));
	ck_assert(fixture_body_is(&x.resp, "ell"));
	/* The same from a file served with sendfile. */
	get("/big.txt", "Range: bytes=-4\r\n", 206);
	ck_assert(fixture_has(&x.resp, "Content-Range", "bytes 196-199/200"));
	ck_assert(fixture_body_is(&x.resp, big + 196));
}
END_TEST

START_TEST(unsatisfiable_range)
{
	ck_assert(get("/a.txt", "Range: bytes=10-20\r\n", 416));
	ck_assert(fixture_has(&x.resp, "Content-Range", "bytes */5"));
}
END_TEST

START_TEST(large_file_is_kept_open_and_sent_whole)
{
	struct shoal_cache_entry *e;

	ck_assert(get("/big.txt", "", 200));
	ck_assert(fixture_body_is(&x.resp, big));
	e = shoal_file_cache_get(&fx.ctx.cache, &fx.sites[0], "/big.txt", 8);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_ge(e->fd, 0);
	ck_assert_uint_eq(e->ref.count, 0); /* the answer is out: nothing holds it */
}
END_TEST

START_TEST(directory_without_slash_redirects)
{
	ck_assert(get("/docs", "", 301));
	ck_assert(fixture_has(&x.resp, "Location", "/docs/"));
	get("/docs?x=1", "", 301);
	ck_assert(fixture_has(&x.resp, "Location", "/docs/?x=1"));
	get("/docs/", "", 200);
	ck_assert(fixture_body_is(&x.resp, "<h1>docs</h1>"));
}
END_TEST

START_TEST(missing_file_is_404_with_the_sites_own_page)
{
	ck_assert(get("/nope.txt", "", 404));
	ck_assert(fixture_has(&x.resp, "Content-Type", "text/html; charset=utf-8"));
	ck_assert(fixture_body_has(&x.resp, "404 Not Found"));

	ck_assert(fixture_run(&x, &fx, shoal_static_handle, &fx.sites[1],
			      "GET /nope.txt HTTP/1.1\r\nHost: a\r\n\r\n"));
	ck_assert_int_eq(x.resp.status, 404);
	ck_assert(fixture_body_is(&x.resp, "<p>our own 404</p>"));
}
END_TEST

START_TEST(post_is_not_allowed)
{
	ck_assert(serve("POST /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n", 405));
	ck_assert(fixture_has(&x.resp, "Allow", "GET, HEAD, OPTIONS"));
	ck_assert(fixture_lacks(&x.resp, "Connection"));
}
END_TEST

START_TEST(unknown_method_is_not_implemented_and_closes)
{
	ck_assert(!serve("BREW /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", 501));
	ck_assert(fixture_has(&x.resp, "Connection", "close"));
}
END_TEST

START_TEST(options_lists_the_methods)
{
	ck_assert(serve("OPTIONS /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", 200));
	ck_assert(fixture_has(&x.resp, "Allow", "GET, HEAD, OPTIONS"));
	ck_assert_uint_eq(x.resp.body_len, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("handler_static");
	TCase *tc = tcase_create("static");

	signal(SIGPIPE, SIG_IGN); /* as in a worker */
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, small_file_then_served_from_the_cache);
	tcase_add_test(tc, cached_file_tells_the_connection_to_http_1_0_and_closing_clients);
	tcase_add_test(tc, head_has_no_body);
	tcase_add_test(tc, matching_etag_is_not_modified);
	tcase_add_test(tc, range_is_partial_content);
	tcase_add_test(tc, unsatisfiable_range);
	tcase_add_test(tc, large_file_is_kept_open_and_sent_whole);
	tcase_add_test(tc, directory_without_slash_redirects);
	tcase_add_test(tc, missing_file_is_404_with_the_sites_own_page);
	tcase_add_test(tc, post_is_not_allowed);
	tcase_add_test(tc, unknown_method_is_not_implemented_and_closes);
	tcase_add_test(tc, options_lists_the_methods);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
