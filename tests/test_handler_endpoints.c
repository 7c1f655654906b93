#include <check.h>
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shoal/handler/health.h"
#include "shoal/handler/metrics.h"
#include "shoal/handler/status.h"
#include "shoal/state/limit.h"
#include "shoal/state/state.h"
#include "shoal/state/upstream.h"
#include "shoal/stats/stats.h"
#include "shoal/stats/upstream.h"

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

/* --- the exposition format's rules that joining the stats' and the state's parts could break */

#define MAX_FAMILIES 128
#define MAX_SERIES 4096

struct exposition {
	char family[MAX_FAMILIES][128]; /* declared so far, the last one current */
	unsigned nfamilies;
	bool typed;                     /* the current family had its TYPE */
	bool histogram;
	char *series[MAX_SERIES];       /* name{labels} of every sample so far */
	unsigned nseries;
};

static bool is_name(const char *s, size_t n)
{
	if (n == 0 || isdigit((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != ':')
			return false;
	return true;
}

/* p at '{': past well formed labels (name="value", values escaped), or NULL. */
static char *skip_labels(char *p)
{
	for (p++; *p != '}';) {
		const char *name = p;

		while (isalnum((unsigned char)*p) || *p == '_')
			p++;
		if (p == name || isdigit((unsigned char)*name) || strncmp(p, "=\"", 2) != 0)
			return NULL;
		for (p += 2; *p != '"'; p++)
			if (!*p || (*p == '\\' && (!p[1] || !strchr("\\\"n", *++p))))
				return NULL;
		p++;
		if (*p == ',' && p[1] != '}')
			p++;
		else if (*p != '}')
			return NULL;
	}
	return p + 1;
}

/* Whether the sample name (n bytes) is of the current family: it, or a histogram's parts. */
static bool of_family(const struct exposition *ex, const char *name, size_t n)
{
	const char *family = ex->family[ex->nfamilies - 1];
	size_t f = strlen(family);

	if (n == f)
		return memcmp(name, family, f) == 0;
	if (!ex->histogram || n < f || memcmp(name, family, f) != 0)
		return false;
	name += f;
	n -= f;
	return (n == 7 && memcmp(name, "_bucket", 7) == 0) ||
	       (n == 4 && memcmp(name, "_sum", 4) == 0) || (n == 6 && memcmp(name, "_count", 6) == 0);
}

static const char *comment_line(struct exposition *ex, const char *line)
{
	char name[128], type[16];

	if (sscanf(line, "# HELP %127s", name) == 1) {
		for (unsigned i = 0; i < ex->nfamilies; i++)
			if (strcmp(ex->family[i], name) == 0)
				return "a family declared twice";
		if (ex->nfamilies == MAX_FAMILIES || !is_name(name, strlen(name)))
			return "a bad family name, or too many";
		strcpy(ex->family[ex->nfamilies++], name);
		ex->typed = false;
		return NULL;
	}
	if (sscanf(line, "# TYPE %127s %15s", name, type) != 2 || !ex->nfamilies || ex->typed ||
	    strcmp(name, ex->family[ex->nfamilies - 1]) != 0)
		return "a TYPE not right after its family's HELP";
	ex->typed = strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
		   strcmp(type, "histogram") == 0;
	ex->histogram = strcmp(type, "histogram") == 0;
	return ex->typed ? NULL : "an unknown type";
}

/* line: `name value` or `name{labels} value`; kept as the series' name{labels}. */
static const char *sample_line(struct exposition *ex, char *line)
{
	size_t n = strcspn(line, "{ ");
	char *end = line[n] == '{' ? skip_labels(line + n) : line + n;
	char *value_end;

	if (!is_name(line, n) || !end || *end != ' ')
		return "a malformed sample";
	if (!ex->typed || !of_family(ex, line, n))
		return "a sample outside its family's group, or of a family not declared";
	strtod(end + 1, &value_end);
	if (value_end == end + 1 || *value_end)
		return "a sample without a number";
	*end = '\0';
	for (unsigned i = 0; i < ex->nseries; i++)
		if (strcmp(ex->series[i], line) == 0)
			return "a series twice";
	if (ex->nseries == MAX_SERIES)
		return "too many series";
	ex->series[ex->nseries++] = line;
	return NULL;
}

/* NULL if every line of text is well formed, every sample in the group of its family
 * declared once (HELP then TYPE), no series twice, and there is a sample; else what is
 * wrong, and the line it is wrong in (or "") into line. */
static const char *exposition_error(const char *text, size_t len, char *line, size_t size)
{
	static struct exposition ex;
	char *copy = strndup(text, len), *save = NULL;
	const char *bad = len && text[len - 1] == '\n' ? NULL : "no final newline";

	ck_assert_ptr_nonnull(copy);
	memset(&ex, 0, sizeof(ex));
	line[0] = '\0';
	for (char *l = strtok_r(copy, "\n", &save); l && !bad; l = strtok_r(NULL, "\n", &save)) {
		snprintf(line, size, "%s", l);
		bad = l[0] == '#' ? comment_line(&ex, l) : sample_line(&ex, l);
	}
	if (!bad && ex.nseries == 0)
		bad = "no sample";
	free(copy);
	return bad;
}

static void assert_exposition(const char *text, size_t len)
{
	char line[512];
	const char *bad = exposition_error(text, len, line, sizeof(line));

	ck_assert_msg(!bad, "%s: %s", bad, line);
}

START_TEST(the_exposition_check_refuses_what_it_must)
{
	static const char *const bad[] = {
		"# HELP a A.\n# TYPE a counter\na 1\n# HELP a A.\n# TYPE a counter\na 2\n",
		"# HELP a A.\n# TYPE a counter\nb 1\n",
		"# HELP a A.\n# TYPE a counter\na{x=\"1\"} 1\na{x=\"1\"} 2\n",
		"# HELP a A.\n# TYPE a counter\na{x=\"1} 1\n",
		"# HELP a A.\n# TYPE a counter\na{x=\"\\q\"} 1\n",
		"# HELP a A.\n# TYPE a counter\na{1x=\"1\"} 1\n",
		"# HELP a A.\n# TYPE a counter\na{x=\"1\",} 1\n",
		"# HELP a A.\n# TYPE a counter\na one\n",
		"# HELP a A.\n# TYPE a gauge\na_bucket{le=\"1\"} 1\n",
		"# HELP a A.\n# TYPE b counter\nb 1\n",
		"# HELP a A.\n# TYPE a counter\n# HELP b B.\n# TYPE b counter\nb 1\na 1\n",
		"a 1\n",
		"# HELP a A.\n# TYPE a counter\na 1",
	};
	static const char good[] = "# HELP a A.\n# TYPE a histogram\n"
				   "a_bucket{le=\"+Inf\",x=\"\\\"\"} 1\na_sum 0.5\na_count 1\n"
				   "# HELP b B.\n# TYPE b gauge\nb 2\n";
	char line[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(exposition_error(bad[i], strlen(bad[i]), line, sizeof(line)),
			      "accepted: %s", bad[i]);
	assert_exposition(good, strlen(good));
}
END_TEST

/* A stats file with one worker that sent a request to app's server, and a state file with
 * that server's entry and a rate zone "perip" of one request a second, no burst. */
struct files {
	struct shoal_stats stats;
	struct shoal_stats_view view;
	struct shoal_state state;
	struct shoal_state_limit_zone *zone;
	struct shoal_state_upstream *server;
};

static void files_make(struct files *f)
{
	const struct shoal_state_limit_spec spec = {
		.name = "perip", .key = "client_ip", .size = 64, .rate = 1.0, .burst = 0,
	};
	struct shoal_err err = { "" };
	struct shoal_stats_slot *slot;
	char path[256];
	int up;

	fixture_path(&fx, path, sizeof(path), "stats");
	ck_assert_msg(shoal_stats_create(&f->stats, path, 2, (uid_t)-1, (gid_t)-1, &err) == 0,
		      "%s", err.msg);
	slot = shoal_stats_slot_at(&f->stats, shoal_stats_claim(&f->stats, 0, 1));
	ck_assert_ptr_nonnull(slot);
	up = shoal_stats_upstream_register(slot, "app", "127.0.0.1:9001");
	ck_assert_int_ge(up, 0);
	shoal_stats_upstream_request(slot, up);
	ck_assert_msg(shoal_stats_open_read(&f->view, path, &err) == 0, "%s", err.msg);

	fixture_path(&fx, path, sizeof(path), "state");
	ck_assert_msg(shoal_state_create(&f->state, path, (uid_t)-1, (gid_t)-1, &err) == 0, "%s",
		      err.msg);
	shoal_state_lock(&f->state);
	f->server = shoal_state_upstream_add(&f->state, "app", "127.0.0.1:9001", 0);
	ck_assert_msg(shoal_state_limit_reserve(&f->state, 1, shoal_state_limit_table_bytes(&spec),
						&err) == 0, "%s", err.msg);
	f->zone = shoal_state_limit_add(&f->state, &spec);
	shoal_state_unlock(&f->state);
	ck_assert_ptr_nonnull(f->server);
	ck_assert_ptr_nonnull(f->zone);
}

static void files_free(struct files *f)
{
	shoal_state_close(&f->state, true);
	shoal_stats_view_close(&f->view);
	shoal_stats_close(&f->stats, true);
}

/* Two requests of one key at one instant: the zone passes the first and refuses the second. */
static void files_refuse_one(struct files *f)
{
	uint64_t h = shoal_state_limit_hash(&f->state, "10.0.0.1", 8), retry;

	ck_assert(shoal_state_limit_take(f->zone, h, "10.0.0.1", 8, 5000000, &retry));
	ck_assert(!shoal_state_limit_take(f->zone, h, "10.0.0.1", 8, 5000000, &retry));
}

/* Whether the last answer has the sample `series value`. */
static bool shows(const char *series, unsigned value)
{
	char want[256];

	snprintf(want, sizeof(want), "\n%s %u\n", series, value);
	return fixture_body_has(&x.resp, want);
}

#define SERVER "{upstream=\"app\",server=\"127.0.0.1:9001\"}"

START_TEST(status_shows_the_state_file_too)
{
	static const char status[] = "GET /status HTTP/1.1\r\nHost: a\r\n\r\n";
	struct files f;

	files_make(&f);
	fx.ctx.stats_view = &f.view;
	fx.ctx.state = &f.state;
	ck_assert(serve(shoal_status_handle, status));
	ck_assert_int_eq(x.resp.status, 200);
	assert_exposition(x.resp.body, x.resp.body_len);
	ck_assert(shows("shoal_upstream_requests_total" SERVER, 1));
	ck_assert(shows("shoal_upstream_up" SERVER, 1));
	ck_assert(shows("shoal_upstream_in_flight" SERVER, 0));
	ck_assert(shows("shoal_limit_requests_total{zone=\"perip\",result=\"rejected\"}", 0));
	ck_assert(shows("shoal_limit_keys{zone=\"perip\"}", 0));

	/* What the workers did since shows at once: the files are read on every request. */
	files_refuse_one(&f);
	atomic_store(&f.server->active, 2);
	ck_assert(serve(shoal_status_handle, status));
	assert_exposition(x.resp.body, x.resp.body_len);
	ck_assert(shows("shoal_limit_requests_total{zone=\"perip\",result=\"passed\"}", 1));
	ck_assert(shows("shoal_limit_requests_total{zone=\"perip\",result=\"rejected\"}", 1));
	ck_assert(shows("shoal_limit_keys{zone=\"perip\"}", 1));
	ck_assert(shows("shoal_upstream_in_flight" SERVER, 2));
	files_free(&f);
}
END_TEST

/* The file's whole text, to free. */
static char *slurp(const char *path, size_t *len)
{
	FILE *in = fopen(path, "r");
	char *text = NULL;
	size_t room = 0;
	ssize_t n;

	ck_assert_ptr_nonnull(in);
	n = getdelim(&text, &room, '\0', in);
	ck_assert_int_gt(n, 0);
	*len = (size_t)n;
	fclose(in);
	return text;
}

START_TEST(the_export_is_the_same_exposition_renamed_into_place)
{
	struct shoal_err err = { "" };
	struct files f;
	char path[256], tmp[300], *text;
	size_t len;

	files_make(&f);
	files_refuse_one(&f);
	fixture_path(&fx, path, sizeof(path), "shoal.prom");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	ck_assert_msg(shoal_metrics_export(path, &f.view, &f.state, fx.ctx.now_ms, &err) == 0,
		      "%s", err.msg);
	ck_assert_int_ne(access(tmp, F_OK), 0);
	text = slurp(path, &len);
	assert_exposition(text, len);
	fx.ctx.stats_view = &f.view;
	fx.ctx.state = &f.state;
	serve(shoal_status_handle, "GET /status HTTP/1.1\r\nHost: a\r\n\r\n");
	ck_assert(fixture_body_is(&x.resp, text));
	ck_assert_ptr_nonnull(strstr(text, "\nshoal_upstream_requests_total" SERVER " 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nshoal_upstream_up" SERVER " 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nshoal_limit_requests_total{zone=\"perip\","
					   "result=\"rejected\"} 1\n"));
	free(text);

	/* Without a state file, the stats' series alone. */
	ck_assert_int_eq(shoal_metrics_export(path, &f.view, NULL, fx.ctx.now_ms, &err), 0);
	text = slurp(path, &len);
	assert_exposition(text, len);
	ck_assert_ptr_nonnull(strstr(text, "\nshoal_upstream_requests_total" SERVER " 1\n"));
	ck_assert_ptr_null(strstr(text, "shoal_upstream_up"));
	ck_assert_ptr_null(strstr(text, "shoal_limit_"));
	free(text);

	fixture_path(&fx, path, sizeof(path), "missing/shoal.prom");
	ck_assert_int_eq(shoal_metrics_export(path, &f.view, &f.state, fx.ctx.now_ms, &err), -1);
	ck_assert_msg(strstr(err.msg, "missing/shoal.prom.tmp"), "%s", err.msg);
	files_free(&f);
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
	tcase_add_test(tc, the_exposition_check_refuses_what_it_must);
	tcase_add_test(tc, status_shows_the_state_file_too);
	tcase_add_test(tc, the_export_is_the_same_exposition_renamed_into_place);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
