#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "shoal/check/check.h"
#include "shoal/state/upstream.h"

#include "check_run.h"
#include "loopback.h"

/* Every wait gives up after this long: a test fails, never hangs. */
#define WAIT_MS 3000
#define MAX_SERVERS 4

/* One group of servers, each at a loopback listener of the test's own, and a checker over
 * them with no state file (each server's entry is the checker's own). */
struct fixture {
	struct shoal_upstream_server_conf servers[MAX_SERVERS];
	struct shoal_upstream_conf group;
	struct shoal_config cfg;
	struct shoal_check check;
	struct shoal_log log;
	char log_path[64];
	int listeners[MAX_SERVERS]; /* -1 once closed */
	size_t n;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Listeners for n servers and a group probing them by type once a second; the test changes
 * what it needs, then calls fixture_start. */
static void fixture_init(struct fixture *f, enum shoal_check_type type, size_t n)
{
	struct shoal_err err;
	int fd;

	memset(f, 0, sizeof(*f));
	ck_assert_uint_le(n, MAX_SERVERS);
	f->n = n;
	for (size_t i = 0; i < n; i++) {
		f->listeners[i] = loopback_foreign_listener(&f->servers[i].address);
		ck_assert_int_eq(listen(f->listeners[i], 128), 0);
		f->servers[i].weight = 1;
	}
	f->group = (struct shoal_upstream_conf){
		.name = "backend", .servers = f->servers, .nservers = n,
		.health_check = { .type = type, .path = "/health", .interval_ms = 1000,
				  .timeout_ms = 500, .rise = 2, .fall = 3, .status_min = 200,
				  .status_max = 399 },
	};
	f->cfg.upstreams = &f->group;
	f->cfg.nupstreams = 1;
	snprintf(f->log_path, sizeof(f->log_path), "/tmp/shoal-test-check-XXXXXX");
	fd = mkstemp(f->log_path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	shoal_log_init(&f->log, "checker");
	ck_assert_int_eq(shoal_log_open(&f->log, f->log_path, SHOAL_LOG_INFO, &err), 0);
}

static void fixture_start(struct fixture *f)
{
	struct shoal_err err = { "" };

	ck_assert_msg(shoal_check_init(&f->check, &f->cfg, NULL, NULL, &f->log, &err) == 0, "%s",
		      err.msg);
}

static void fixture_free(struct fixture *f)
{
	shoal_check_free(&f->check);
	for (size_t i = 0; i < f->n; i++)
		if (f->listeners[i] >= 0)
			close(f->listeners[i]);
	shoal_log_close(&f->log);
	unlink(f->log_path);
}

static struct shoal_state_upstream *entry(struct fixture *f, size_t i)
{
	return f->check.set.groups[0].servers[i].shared;
}

static unsigned long long passed(struct fixture *f, size_t i)
{
	return atomic_load(&entry(f, i)->checks_passed);
}

static unsigned long long failed(struct fixture *f, size_t i)
{
	return atomic_load(&entry(f, i)->checks_failed);
}

static unsigned checked(struct fixture *f, size_t i)
{
	return atomic_load(&entry(f, i)->check);
}

static int detail(struct fixture *f, size_t i)
{
	return (int)atomic_load(&entry(f, i)->check_detail);
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/* Conditions the checker is driven to; arg says which server or descriptor, or how many. */
typedef bool (*cond_fn)(struct fixture *f, long arg);

static bool fd_readable(struct fixture *f, long fd)
{
	(void)f;
	return readable((int)fd);
}

static bool probed(struct fixture *f, long n)
{
	return passed(f, 0) + failed(f, 0) >= (unsigned long long)n;
}

static bool failed_n(struct fixture *f, long n)
{
	return failed(f, 0) >= (unsigned long long)n;
}

static bool passed_n(struct fixture *f, long n)
{
	return passed(f, 0) >= (unsigned long long)n;
}

/* Runs the checker until done(f, arg) holds or WAIT_MS pass; returns whether it holds. */
static bool drive(struct fixture *f, cond_fn done, long arg)
{
	long long deadline = now_ms() + WAIT_MS;
	struct shoal_err err = { "" };

	while (!done(f, arg)) {
		if (now_ms() >= deadline)
			return false;
		ck_assert_msg(shoal_check_turn(&f->check, 10, &err) == 0, "%s", err.msg);
	}
	return true;
}

/* Runs the checker for ms. */
static void run_for(struct fixture *f, long long ms)
{
	long long end = now_ms() + ms;
	struct shoal_err err = { "" };

	while (now_ms() < end)
		ck_assert_msg(shoal_check_turn(&f->check, 10, &err) == 0, "%s", err.msg);
}

/* Drives the checker until a probe connects to server i's listener; accepts it, reads its
 * request whole into req, and returns the peer's end. */
static int accept_probe(struct fixture *f, size_t i, char *req, size_t cap)
{
	size_t len = 0;
	int peer;

	ck_assert(drive(f, fd_readable, f->listeners[i]));
	peer = accept(f->listeners[i], NULL, NULL);
	ck_assert_int_ge(peer, 0);
	req[0] = '\0';
	while (!strstr(req, "\r\n\r\n")) {
		ssize_t n;
		ck_assert(drive(f, fd_readable, peer));
		n = read(peer, req + len, cap - 1 - len);
		ck_assert_int_gt(n, 0);
		len += (size_t)n;
		req[len] = '\0';
	}
	return peer;
}

static char *read_log(struct fixture *f)
{
	static char text[8192];
	FILE *fp = fopen(f->log_path, "r");
	size_t n;

	ck_assert_ptr_nonnull(fp);
	n = fread(text, 1, sizeof(text) - 1, fp);
	text[n] = '\0';
	fclose(fp);
	return text;
}

/* --- tcp ------------------------------------------------------------------------------ */

START_TEST(tcp_probe_of_a_listener_passes)
{
	struct fixture f;

	fixture_init(&f, SHOAL_CHECK_TCP, 1);
	fixture_start(&f);
	ck_assert_uint_eq(f.check.nprobes, 1);
	ck_assert(drive(&f, probed, 1));
	ck_assert_uint_eq(passed(&f, 0), 1);
	ck_assert_uint_eq(failed(&f, 0), 0);
	ck_assert_int_eq(detail(&f, 0), 0);
	ck_assert_uint_eq(checked(&f, 0), SHOAL_STATE_CHECK_UP);
	fixture_free(&f);
}
END_TEST

START_TEST(tcp_probe_of_a_closed_port_is_refused)
{
	struct fixture f;

	fixture_init(&f, SHOAL_CHECK_TCP, 1);
	close(f.listeners[0]);
	f.listeners[0] = -1;
	fixture_start(&f);
	ck_assert(drive(&f, probed, 1));
	ck_assert_uint_eq(failed(&f, 0), 1);
	ck_assert_int_eq(detail(&f, 0), -ECONNREFUSED);
	/* One failure is fewer than fall: not down (and never checked up yet). */
	ck_assert_uint_eq(checked(&f, 0), SHOAL_STATE_CHECK_NONE);
	fixture_free(&f);
}
END_TEST

/* --- http ----------------------------------------------------------------------------- */

static const struct {
	const char *answer; /* then the connection closes */
	bool passes;
	int detail;
} http_answers[] = {
	{ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true, 200 },
	{ "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", false, 503 },
	{ "HTTP/1.0 399 Edge\r\n\r\n", true, 399 },
	{ "HTTP/1.1 400 Bad Request\r\n\r\n", false, 400 },
	{ "HTTP/1.1 204\r\n\r\n", true, 204 },
	{ "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
	  "HTTP/1.1 302 Found\r\n\r\n", true, 302 },
	{ "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Oops\r\n\r\n", false, 500 },
	{ "SSH-2.0-OpenSSH_9.2\r\n", false, -EPROTO },
	{ "HTTP/1.1 20", false, -EPROTO },
	{ "", false, -ENODATA },
};

START_TEST(http_probe_passes_by_the_status_of_the_answer)
{
	const char *answer = http_answers[_i].answer;
	char req[1024], want[256];
	struct fixture f;
	int peer;

	fixture_init(&f, SHOAL_CHECK_HTTP, 1);
	fixture_start(&f);
	peer = accept_probe(&f, 0, req, sizeof(req));
	snprintf(want, sizeof(want), "GET /health HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
		 "User-Agent: shoal-health-check\r\n\r\n", f.servers[0].address.text);
	ck_assert_str_eq(req, want);
	ck_assert_int_eq(write(peer, answer, strlen(answer)), (ssize_t)strlen(answer));
	shutdown(peer, SHUT_WR);
	ck_assert(drive(&f, probed, 1));
	ck_assert_uint_eq(passed(&f, 0), http_answers[_i].passes);
	ck_assert_int_eq(detail(&f, 0), http_answers[_i].detail);
	close(peer);
	fixture_free(&f);
}
END_TEST

START_TEST(http_probe_sends_the_configured_host_and_path)
{
	char req[1024];
	struct fixture f;
	int peer;

	fixture_init(&f, SHOAL_CHECK_HTTP, 1);
	f.group.health_check.host = "health.example";
	f.group.health_check.path = "/ready?full=1";
	fixture_start(&f);
	peer = accept_probe(&f, 0, req, sizeof(req));
	ck_assert_str_eq(req, "GET /ready?full=1 HTTP/1.1\r\nHost: health.example\r\n"
			      "Connection: close\r\nUser-Agent: shoal-health-check\r\n\r\n");
	close(peer);
	fixture_free(&f);
}
END_TEST

START_TEST(http_probe_of_a_silent_server_times_out)
{
	char req[1024], c;
	struct fixture f;
	long long asked, ended;
	int peer;

	fixture_init(&f, SHOAL_CHECK_HTTP, 1);
	f.group.health_check.timeout_ms = 200;
	fixture_start(&f);
	peer = accept_probe(&f, 0, req, sizeof(req));
	asked = now_ms();
	ck_assert(drive(&f, probed, 1));
	ended = now_ms();
	ck_assert_uint_eq(failed(&f, 0), 1);
	ck_assert_int_eq(detail(&f, 0), -ETIMEDOUT);
	/* The request came a little after the probe's start, its end at timeout_ms. */
	ck_assert_int_ge(ended - asked, 150);
	ck_assert_int_lt(ended - asked, 1000);
	/* The checker closed its connection. */
	ck_assert(readable(peer));
	ck_assert_int_eq(read(peer, &c, 1), 0);
	close(peer);
	fixture_free(&f);
}
END_TEST

/* A probe still running when the next is due delays the next until it ends. */
START_TEST(probes_of_a_server_never_overlap)
{
	char req[1024], c;
	struct fixture f;
	long long first, second;
	int peer;

	fixture_init(&f, SHOAL_CHECK_HTTP, 1);
	f.group.health_check.interval_ms = 50;
	f.group.health_check.timeout_ms = 300;
	fixture_start(&f);
	peer = accept_probe(&f, 0, req, sizeof(req));
	first = now_ms();
	ck_assert(drive(&f, fd_readable, f.listeners[0]));
	second = now_ms();
	ck_assert_int_ge(second - first, 250);
	ck_assert_uint_eq(failed(&f, 0), 1);
	ck_assert(readable(peer));
	ck_assert_int_eq(read(peer, &c, 1), 0);
	close(peer);
	fixture_free(&f);
}
END_TEST

/* --- timing and state ------------------------------------------------------------------ */

START_TEST(rise_and_fall_take_a_server_down_and_up)
{
	struct shoal_addr addr;
	struct fixture f;
	char want[256];
	int one = 1;

	fixture_init(&f, SHOAL_CHECK_TCP, 1);
	f.group.health_check.interval_ms = 50;
	addr = f.servers[0].address;
	fixture_start(&f);
	ck_assert(drive(&f, passed_n, 1));
	ck_assert_uint_eq(checked(&f, 0), SHOAL_STATE_CHECK_UP);
	close(f.listeners[0]);
	f.listeners[0] = -1;
	for (long n = 1; n < 3; n++) {
		ck_assert(drive(&f, failed_n, n));
		ck_assert_uint_eq(checked(&f, 0), SHOAL_STATE_CHECK_UP);
	}
	ck_assert(drive(&f, failed_n, 3));
	ck_assert_uint_eq(checked(&f, 0), SHOAL_STATE_CHECK_DOWN);
	snprintf(want, sizeof(want), "upstream backend server %s is down (check: connection "
		 "refused, 3 failures)", addr.text);
	ck_assert_msg(strstr(read_log(&f), want), "no '%s' in:\n%s", want, read_log(&f));
	ck_assert_ptr_null(strstr(read_log(&f), "is up"));

	/* The same port listens again. */
	f.listeners[0] = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(f.listeners[0], 0);
	setsockopt(f.listeners[0], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ck_assert_int_eq(bind(f.listeners[0], (struct sockaddr *)&addr.ss, addr.len), 0);
	ck_assert_int_eq(listen(f.listeners[0], 128), 0);
	ck_assert(drive(&f, passed_n, 2));
	ck_assert_uint_eq(checked(&f, 0), SHOAL_STATE_CHECK_DOWN);
	ck_assert(drive(&f, passed_n, 3));
	ck_assert_uint_eq(checked(&f, 0), SHOAL_STATE_CHECK_UP);
	snprintf(want, sizeof(want), "upstream backend server %s is up (check: connected, "
		 "2 passes)", addr.text);
	ck_assert_msg(strstr(read_log(&f), want), "no '%s' in:\n%s", want, read_log(&f));
	fixture_free(&f);
}
END_TEST

START_TEST(a_server_is_probed_once_per_interval)
{
	struct fixture f;
	unsigned long long n;

	fixture_init(&f, SHOAL_CHECK_TCP, 1);
	f.group.health_check.interval_ms = 100;
	fixture_start(&f);
	run_for(&f, 1050);
	/* At 0, 100, ..., 1000 ms; a loaded machine only makes fewer. */
	n = passed(&f, 0);
	ck_assert_uint_ge(n, 6);
	ck_assert_uint_le(n, 11);
	ck_assert_uint_eq(failed(&f, 0), 0);
	fixture_free(&f);
}
END_TEST

/* The first probes of n servers start k/n of the interval apart, not in one burst. */
START_TEST(first_probes_are_spread_over_the_interval)
{
	long long start, seen[MAX_SERVERS];
	struct fixture f;
	size_t left = MAX_SERVERS;

	for (size_t i = 0; i < MAX_SERVERS; i++)
		seen[i] = -1;

	fixture_init(&f, SHOAL_CHECK_TCP, MAX_SERVERS);
	f.group.health_check.interval_ms = 400;
	fixture_start(&f);
	start = now_ms();
	while (left && now_ms() < start + WAIT_MS) {
		struct shoal_err err;
		ck_assert_int_eq(shoal_check_turn(&f.check, 5, &err), 0);
		for (size_t i = 0; i < MAX_SERVERS; i++) {
			if (seen[i] >= 0 || !readable(f.listeners[i]))
				continue;
			seen[i] = now_ms() - start;
			left--;
		}
	}
	ck_assert_uint_eq(left, 0);
	/* Due at 0, 100, 200 and 300 ms, in order. */
	for (size_t i = 1; i < MAX_SERVERS; i++)
		ck_assert_int_ge(seen[i] - seen[i - 1], 50);
	ck_assert_int_lt(seen[0], 60);
	fixture_free(&f);
}
END_TEST

START_TEST(servers_down_by_configuration_are_not_probed)
{
	struct fixture f;

	fixture_init(&f, SHOAL_CHECK_TCP, 2);
	ck_assert(shoal_check_wanted(&f.cfg));
	f.servers[1].down = true;
	ck_assert(shoal_check_wanted(&f.cfg));
	f.group.health_check.interval_ms = 50;
	fixture_start(&f);
	ck_assert_uint_eq(f.check.nprobes, 1);
	ck_assert(drive(&f, passed_n, 3));
	ck_assert_uint_eq(passed(&f, 1) + failed(&f, 1), 0);
	ck_assert_uint_eq(checked(&f, 1), SHOAL_STATE_CHECK_NONE);
	ck_assert(!readable(f.listeners[1]));
	f.servers[0].down = true;
	ck_assert(!shoal_check_wanted(&f.cfg));
	f.servers[0].down = false;
	f.group.health_check.type = SHOAL_CHECK_NONE;
	ck_assert(!shoal_check_wanted(&f.cfg));
	fixture_free(&f);
}
END_TEST

/* --- resolve -------------------------------------------------------------------------- */

/* Server 0 given by name: host as written, its lookups every interval_ms; no probes. */
static void fixture_name(struct fixture *f, const char *host, int interval_ms)
{
	fixture_init(f, SHOAL_CHECK_NONE, 1);
	f->servers[0].host = (char *)host;
	f->servers[0].resolve = true;
	f->group.resolve_interval_ms = interval_ms;
}

static unsigned set_of(struct fixture *f, struct sockaddr_storage *out)
{
	uint32_t seq;

	return shoal_state_upstream_addrs(entry(f, 0), out, SHOAL_STATE_UPSTREAM_ADDRS, &seq);
}

static bool has_set(struct fixture *f, long n)
{
	struct sockaddr_storage ss[SHOAL_STATE_UPSTREAM_ADDRS];

	return set_of(f, ss) >= (unsigned)n;
}

static unsigned count_in_log(struct fixture *f, const char *what)
{
	unsigned n = 0;

	for (const char *p = read_log(f); (p = strstr(p, what)); p++)
		n++;
	return n;
}

static bool logged(struct fixture *f, long n)
{
	return count_in_log(f, "now resolves to") >= (unsigned)n;
}

/* Publishes one address, 10.9.9.9 at port, as if the name had it before. */
static void publish_other(struct fixture *f, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(0x0a090909) };
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &sin, sizeof(sin));
	ck_assert_uint_eq(shoal_state_upstream_set_addrs(entry(f, 0), &ss, 1), 1);
}

START_TEST(a_name_is_looked_up_and_a_new_set_published)
{
	struct sockaddr_storage ss[SHOAL_STATE_UPSTREAM_ADDRS];
	uint16_t port;
	char host[32] = "", line[96];
	struct fixture f;
	unsigned n;

	fixture_name(&f, host, 200); /* host is written once the listener's port is known */
	port = ntohs(((struct sockaddr_in *)&f.servers[0].address.ss)->sin_port);
	snprintf(host, sizeof(host), "localhost:%u", port);
	/* Checks or not, a name is a reason to run the checker. */
	ck_assert(shoal_check_wanted(&f.cfg));
	fixture_start(&f);
	ck_assert_uint_eq(f.check.nprobes, 0);
	ck_assert_uint_eq(f.check.nlookups, 1);
	ck_assert(drive(&f, has_set, 1));
	n = set_of(&f, ss);
	for (unsigned i = 0; i < n; i++) {
		struct shoal_addr a;
		ck_assert_int_eq(shoal_addr_from_sockaddr(&a, (struct sockaddr *)&ss[i],
							  sizeof(ss[i])), 0);
		ck_assert_msg(strstr(a.text, "127.0.0.1:") == a.text ||
			      strstr(a.text, "[::1]:") == a.text, "%s", a.text);
		ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&ss[i])->sin_port), port);
	}
	snprintf(line, sizeof(line), "upstream backend server %s now resolves to ", host);
	ck_assert(drive(&f, logged, 1));
	ck_assert_msg(strstr(read_log(&f), line), "%s", read_log(&f));
	/* Another set in the entry: the next lookup puts the name's back, and says so once. */
	publish_other(&f, port);
	ck_assert(drive(&f, logged, 2));
	ck_assert_uint_eq(set_of(&f, ss), n);
	run_for(&f, 500);
	ck_assert_uint_eq(count_in_log(&f, "now resolves to"), 2);
	f.servers[0].down = true;
	ck_assert(!shoal_check_wanted(&f.cfg));
	fixture_free(&f);
}
END_TEST

/* A name that stops resolving keeps the last set, with one warning however many lookups. */
START_TEST(a_failed_lookup_keeps_the_set_and_warns_once)
{
	struct fixture f;

	fixture_name(&f, "nonexistent.invalid:80", 100);
	fixture_start(&f);
	publish_other(&f, 80);
	run_for(&f, 700);
	ck_assert_uint_eq(count_in_log(&f, "cannot resolve"), 1);
	ck_assert_msg(strstr(read_log(&f), "upstream backend server nonexistent.invalid:80: "
				"cannot resolve: "),
		      "%s", read_log(&f));
	ck_assert_msg(strstr(read_log(&f), "; keeping 10.9.9.9:80\n"), "%s", read_log(&f));
	ck_assert(has_set(&f, 1));
	ck_assert_uint_eq(count_in_log(&f, "now resolves to"), 0);
	fixture_free(&f);
}
END_TEST

/* A probe goes to the first address of the name's current set, not the one it had at load
 * (a closed port here). */
START_TEST(a_name_is_probed_at_the_first_address_of_its_set)
{
	struct sockaddr_storage set[2];
	struct shoal_addr open;
	struct fixture f;
	int listener = loopback_foreign_listener(&open);

	fixture_name(&f, "nonexistent.invalid:80", 3600 * 1000);
	close(f.listeners[0]);
	f.listeners[0] = -1;
	f.group.health_check.type = SHOAL_CHECK_TCP;
	f.group.health_check.interval_ms = 100;
	fixture_start(&f);
	set[0] = open.ss;
	set[1] = f.servers[0].address.ss;
	shoal_state_upstream_set_addrs(entry(&f, 0), set, 2);
	ck_assert(drive(&f, probed, 2));
	ck_assert_uint_eq(failed(&f, 0), 0);
	set[0] = f.servers[0].address.ss;
	set[1] = open.ss;
	shoal_state_upstream_set_addrs(entry(&f, 0), set, 2);
	ck_assert(drive(&f, failed_n, 1));
	ck_assert_int_eq(detail(&f, 0), -ECONNREFUSED);
	close(listener);
	fixture_free(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("check");
	TCase *tcp = tcase_create("tcp");
	TCase *http = tcase_create("http");
	TCase *timing = tcase_create("timing");
	TCase *resolve = tcase_create("resolve");

	tcase_add_test(tcp, tcp_probe_of_a_listener_passes);
	tcase_add_test(tcp, tcp_probe_of_a_closed_port_is_refused);
	suite_add_tcase(s, tcp);
	tcase_add_loop_test(http, http_probe_passes_by_the_status_of_the_answer, 0,
			    sizeof(http_answers) / sizeof(http_answers[0]));
	tcase_add_test(http, http_probe_sends_the_configured_host_and_path);
	tcase_add_test(http, http_probe_of_a_silent_server_times_out);
	tcase_add_test(http, probes_of_a_server_never_overlap);
	suite_add_tcase(s, http);
	tcase_add_test(timing, rise_and_fall_take_a_server_down_and_up);
	tcase_add_test(timing, a_server_is_probed_once_per_interval);
	tcase_add_test(timing, first_probes_are_spread_over_the_interval);
	tcase_add_test(timing, servers_down_by_configuration_are_not_probed);
	suite_add_tcase(s, timing);
	tcase_add_test(resolve, a_name_is_looked_up_and_a_new_set_published);
	tcase_add_test(resolve, a_failed_lookup_keeps_the_set_and_warns_once);
	tcase_add_test(resolve, a_name_is_probed_at_the_first_address_of_its_set);
	suite_add_tcase(s, resolve);
	return shoal_check_run(s);
}
