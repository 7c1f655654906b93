#include <check.h>
#include <signal.h>
#include <string.h>

#include "shoal/handler/health.h"
#include "shoal/handler/status.h"
#include "shoal/stats/stats.h"

#include "check_run.h"
#include "handler_fixture.h"

static const char conf[] = "servers = ({ listen = [\"127.0.0.1:8080\"]; root = \"www\"; });\n";

static struct fixture fx;
static struct fixture_exchange x;

static void setup(void)
{
	fixture_init(&fx);
	fixture_mkdir(&fx, "www");
	fixture_load(&fx, conf);
}

static void teardown(void)
{
	fixture_free(&fx);
}

static bool serve(shoal_handler_fn handler, const char *request)
{
	return fixture_run(&x, &fx, handler, &fx.sites[0], request);
}

START_TEST(health_is_ok_until_stopping)
{
	ck_assert(serve(shoal_health_handle, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
	ck_assert_int_eq(x.resp.status, 200);
	ck_assert(fixture_body_is(&x.resp, "ok\n"));
	ck_assert(fixture_has(&x.resp, "Content-Type", "text/plain; charset=utf-8"));

	fx.ctx.stopping = true;
	ck_assert(serve(shoal_health_handle, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
	ck_assert_int_eq(x.resp.status, 503);
	ck_assert(fixture_body_is(&x.resp, "stopping\n"));
	serve(shoal_health_handle, "HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
	ck_assert_int_eq(x.resp.status, 503);
	ck_assert(fixture_has(&x.resp, "Content-Length", "9"));
}
END_TEST

START_TEST(health_keeps_what_the_connection_allows)
{
	ck_assert(!serve(shoal_health_handle,
			 "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
	ck_assert(fixture_has(&x.resp, "Connection", "close"));
}
END_TEST

START_TEST(status_without_stats_is_an_error)
{
	ck_assert(serve(shoal_status_handle, "GET /status HTTP/1.1\r\nHost: a\r\n\r\n"));
	ck_assert_int_eq(x.resp.status, 500);
}
END_TEST

START_TEST(status_shows_the_stats_file)
{
	struct shoal_err err = { "" };
	struct shoal_stats st;
	struct shoal_stats_view view;
	char path[256];
	int index;

	fixture_path(&fx, path, sizeof(path), "stats");
	ck_assert_msg(shoal_stats_create(&st, path, 2, (uid_t)-1, (gid_t)-1, &err) == 0, "%s",
		      err.msg);
	shoal_stats_set_generation(&st, 7);
	index = shoal_stats_claim(&st, 0, 7);
	ck_assert_int_ge(index, 0);
	shoal_stats_add(shoal_stats_slot_at(&st, index), SHOAL_STATS_REQUESTS, 3);
	ck_assert_msg(shoal_stats_open_read(&view, path, &err) == 0, "%s", err.msg);
	fx.ctx.stats_view = &view;

	ck_assert(serve(shoal_status_handle, "GET /status HTTP/1.1\r\nHost: a\r\n\r\n"));
	ck_assert_int_eq(x.resp.status, 200);
	ck_assert(fixture_has(&x.resp, "Content-Type",
			      "text/plain; version=0.0.4; charset=utf-8"));
	ck_assert(fixture_body_has(&x.resp, "\nshoal_config_generation 7\n"));
	ck_assert(fixture_body_has(&x.resp, "\nshoal_requests_total 3\n"));

	serve(shoal_status_handle, "GET /status?format=json HTTP/1.1\r\nHost: a\r\n\r\n");
	ck_assert_int_eq(x.resp.status, 200);
	ck_assert(fixture_has(&x.resp, "Content-Type", "application/json"));
	ck_assert(fixture_body_has(&x.resp, "\"requests\": 3"));

	shoal_stats_view_close(&view);
	shoal_stats_close(&st, true);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("handler_endpoints");
	TCase *tc = tcase_create("endpoints");

	signal(SIGPIPE, SIG_IGN); /* as in a worker */
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, health_is_ok_until_stopping);
	tcase_add_test(tc, health_keeps_what_the_connection_allows);
	tcase_add_test(tc, status_without_stats_is_an_error);
	tcase_add_test(tc, status_shows_the_stats_file);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
