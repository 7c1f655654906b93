#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "shoal/base/util.h"
#include "shoal/worker/conn.h"

#include "check_run.h"
#include "handler_fixture.h"

static const char conf[] =
	"header_timeout = 10;\n"
	"keepalive_timeout = 20;\n"
	"servers = ({ listen = [\"127.0.0.1:8080\"]; root = \"www\"; });\n";

/* An address behind a load balancer on this machine. */
static const char proxy_conf[] =
	"header_timeout = 10;\n"
	"keepalive_timeout = 20;\n"
	"proxy_protocol_timeout = 2.5;\n"
	"servers = ({ listen = [\"127.0.0.1:8080 proxy_protocol\"]; root = \"www\";\n"
	"             proxy_protocol_from = [ \"127.0.0.0/8\" ]; });\n";

#define PROXY_V1 "PROXY TCP4 203.0.113.7 192.0.2.80 51000 80\r\n"
/* A version 2 LOCAL command: the signature, version 2 LOCAL, UNSPEC, no address block. */
#define PROXY_V2_LOCAL "\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00"
#define PROXY_V2_LOCAL_LEN 16

#define GET_A "GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n"
#define GET_B "GET /b.txt HTTP/1.1\r\nHost: a\r\n\r\n"
/* How long one loop turn waits for an event: a client's bytes are already there. */
#define TURN_MS 100

/* What a worker gives its connections: an event loop, the environment, one address. */
struct harness {
	struct shoal_event_loop loop;
	struct shoal_conn_env env;
	struct shoal_access_log access_log;
	struct shoal_route route;
	struct shoal_conn_origin origin;
	struct shoal_proxy_header_listen proxy_header;
	struct shoal_log log; /* the worker's error log, in a file */
	unsigned closed; /* on_closed calls */
};

/* The client's end of a connection and what it received. */
struct client {
	int fd;
	char buf[FIXTURE_WIRE_MAX];
	size_t len;
	bool eof; /* the server shut its side */
	struct fixture_response resp[4];
	size_t nresp;
};

static struct fixture fx;
static struct harness h;

static void on_closed(struct shoal_conn_env *env)
{
	container_of(env, struct harness, env)->closed++;
}

/* The worker's error log or its access log, as written so far. */
static char *read_log(const char *rel)
{
	static char text[8192];
	char path[256];
	size_t n = 0;
	FILE *f;

	shoal_access_log_flush(&h.access_log);
	fixture_path(&fx, path, sizeof(path), rel);
	f = fopen(path, "r");
	if (f) {
		n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
	}
	text[n] = '\0';
	return text;
}

static void setup_with(const char *config)
{
	struct shoal_err err = { "" };
	char path[256];

	fixture_init(&fx);
	fixture_mkdir(&fx, "www");
	fixture_write(&fx, "www/a.txt", "hello");
	fixture_write(&fx, "www/b.txt", "bye");
	fixture_load(&fx, config);
	memset(&h, 0, sizeof(h));
	ck_assert_msg(shoal_event_init(&h.loop, &err) == 0, "%s", err.msg);
	fixture_path(&fx, path, sizeof(path), "access.log");
	ck_assert_msg(shoal_access_log_open(&h.access_log, path, &err) == 0, "%s", err.msg);
	fixture_path(&fx, path, sizeof(path), "error.log");
	shoal_log_init(&h.log, "worker 0");
	ck_assert_msg(shoal_log_open(&h.log, path, SHOAL_LOG_INFO, &err) == 0, "%s", err.msg);
	fx.ctx.log = &h.log;
	shoal_conn_env_init(&h.env, &fx.ctx);
	h.env.loop = &h.loop;
	h.env.access_log = &h.access_log;
	h.env.on_closed = on_closed;
	ck_assert_int_eq(shoal_route_init(&h.route, fx.sites, fx.nsites,
					  &fx.cfg.servers[0].listen[0], NULL, 0), 0);
	h.origin.env = &h.env;
	h.origin.route = &h.route;
	if (shoal_proxy_header_listen_init(&h.proxy_header, &fx.cfg,
					   &fx.cfg.servers[0].listen[0]) == 1)
		h.origin.proxy_header = &h.proxy_header;
}

static void setup(void)
{
	setup_with(conf);
}

static void setup_proxy(void)
{
	setup_with(proxy_conf);
	ck_assert_ptr_nonnull(h.origin.proxy_header);
}

static void teardown(void)
{
	shoal_conn_close_all(&h.env);
	shoal_pool_recycle(&h.env.pool);
	shoal_conn_env_free(&h.env);
	shoal_route_free(&h.route);
	shoal_proxy_header_listen_free(&h.proxy_header);
	shoal_access_log_close(&h.access_log);
	shoal_log_close(&h.log);
	shoal_event_close(&h.loop);
	fixture_free(&fx);
}

/* Hands the server's end of a new socket pair of type to the connections, as accepted from
 * the IPv4 address from, with the len bytes of request (NULL: nothing) already sent. */
static void client_connect_bytes(struct client *c, const char *request, size_t len, int type,
				 uint32_t from)
{
	struct sockaddr_storage peer = { .ss_family = AF_INET };
	int sv[2];

	((struct sockaddr_in *)&peer)->sin_addr.s_addr = htonl(from);
	memset(c, 0, sizeof(*c));
	fixture_socketpair(sv, type);
	c->fd = sv[1];
	if (request)
		ck_assert_int_eq(write(c->fd, request, len), (ssize_t)len);
	shoal_conn_accept(&h.origin, sv[0], &peer);
}

/* As above, from 127.0.0.1 and request a string. */
static void client_connect_type(struct client *c, const char *request, int type)
{
	client_connect_bytes(c, request, request ? strlen(request) : 0, type, INADDR_LOOPBACK);
}

static void client_connect(struct client *c, const char *request)
{
	client_connect_type(c, request, SOCK_STREAM);
}

static void client_send(struct client *c, const char *text)
{
	ck_assert_int_eq(write(c->fd, text, strlen(text)), (ssize_t)strlen(text));
}

/* Reads what arrived and parses the responses that are whole. */
static void client_read(struct client *c)
{
	size_t at = 0, n;

	c->eof = !fixture_read_ready(c->fd, c->buf, &c->len, sizeof(c->buf));
	c->nresp = 0;
	while (c->nresp < ARRAY_LEN(c->resp) &&
	       (n = fixture_parse_response(c->buf + at, c->len - at, false, &c->resp[c->nresp]))) {
		at += n;
		c->nresp++;
	}
}

/* One turn of the loop, as a worker's. */
static void turn(void)
{
	int n = shoal_event_wait(&h.loop, TURN_MS);

	ck_assert_int_ge(n, 0);
	shoal_event_dispatch(&h.loop, n);
	shoal_conn_resume_deferred(&h.env);
	shoal_conn_expire(&h.env);
	shoal_pool_recycle(&h.env.pool);
}

/* Turns the loop until the client has n responses (and, with eof, the end of the stream). */
static void client_await(struct client *c, size_t n, bool eof)
{
	for (int i = 0; i < 10; i++) {
		client_read(c);
		if (c->nresp >= n && (!eof || c->eof))
			break;
		turn();
	}
	ck_assert_uint_eq(c->nresp, n);
	ck_assert(c->eof == eof);
}

/* Asserts the client's response i: its status and, unless NULL, its body. */
static void assert_response(const struct client *c, size_t i, int status, const char *body)
{
	ck_assert_uint_lt(i, c->nresp);
	ck_assert_int_eq(c->resp[i].status, status);
	ck_assert(!body || fixture_body_is(&c->resp[i], body));
}

/* The client hangs up; a lingering connection then closes at its next turn. */
static void client_close(struct client *c)
{
	close(c->fd);
	turn();
}

/* Asserts that the client's last response refused its request with status and that the
 * connection, whose client may still be sending, lingers until the client hangs up. */
static void assert_refused_and_lingering(struct client *c, int status)
{
	const struct fixture_response *r = &c->resp[c->nresp - 1];

	ck_assert_int_eq(r->status, status);
	ck_assert(fixture_has(r, "Connection", "close"));
	ck_assert_uint_eq(h.env.nconns, 1);
	client_close(c);
	ck_assert_uint_eq(h.env.nconns, 0);
	ck_assert_uint_eq(h.closed, 1);
}

START_TEST(request_sent_before_accept_is_answered_at_once)
{
	struct client c;

	client_connect(&c, GET_A);
	client_read(&c); /* no loop turn: the accept answered it */
	ck_assert_uint_eq(c.nresp, 1);
	assert_response(&c, 0, 200, "hello");
	ck_assert_uint_eq(h.env.nconns, 1);
	close(c.fd);
}
END_TEST

START_TEST(keep_alive_request_is_answered_and_stays_open)
{
	struct client c;

	client_connect(&c, NULL);
	ck_assert_uint_eq(h.env.nconns, 1);
	client_send(&c, GET_A);
	client_await(&c, 1, false);
	assert_response(&c, 0, 200, "hello");
	ck_assert_uint_eq(h.env.nconns, 1);
	ck_assert_uint_eq(h.closed, 0);

	client_send(&c, GET_B);
	client_await(&c, 2, false);
	assert_response(&c, 1, 200, "bye");
	ck_assert_uint_eq(h.env.nconns, 1);
	client_close(&c);
	ck_assert_uint_eq(h.env.nconns, 0);
	ck_assert_uint_eq(h.closed, 1);
}
END_TEST

/* Over a packet socket each write the server makes arrives as one message. */
START_TEST(pipelined_requests_are_answered_in_order_in_one_write)
{
	struct client c;
	ssize_t n;

	client_connect_type(&c, NULL, SOCK_SEQPACKET);
	client_send(&c, GET_B GET_A "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n");
	turn();
	n = read(c.fd, c.buf, sizeof(c.buf));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(read(c.fd, c.buf + n, sizeof(c.buf) - (size_t)n), -1); /* nothing more */
	c.len = (size_t)n;
	client_read(&c);
	ck_assert_uint_eq(c.nresp, 3);
	assert_response(&c, 0, 200, "bye");
	assert_response(&c, 1, 200, "hello");
	assert_response(&c, 2, 404, NULL);
	ck_assert_uint_eq(h.env.nconns, 1);
	close(c.fd);
}
END_TEST

START_TEST(body_of_an_answered_request_is_read_past)
{
	struct client c;

	client_connect(&c, NULL);
	/* If the body were taken for a request, "GET /x GET /b.txt HTTP/1.1" would be a 400. */
	client_send(&c, "POST /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n\r\n"
			"GET /x " GET_B);
	client_await(&c, 2, false);
	assert_response(&c, 0, 405, NULL);
	assert_response(&c, 1, 200, "bye");
	close(c.fd);
}
END_TEST

START_TEST(connection_close_closes_after_the_answer)
{
	struct client c;

	client_connect(&c, NULL);
	client_send(&c, "GET /a.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
	client_await(&c, 1, true);
	ck_assert(fixture_has(&c.resp[0], "Connection", "close"));
	assert_response(&c, 0, 200, "hello");
	ck_assert_uint_eq(h.env.nconns, 0);
	ck_assert_uint_eq(h.closed, 1);
	close(c.fd);
}
END_TEST

START_TEST(malformed_request_is_refused_and_closed)
{
	struct client c;

	client_connect(&c, NULL);
	client_send(&c, "GET /a.txt HTTP/1.1\r\nHost: a\r\nno colon\r\n\r\n" GET_B);
	client_await(&c, 1, true); /* and nothing for the request behind it */
	assert_refused_and_lingering(&c, 400);
}
END_TEST

/* The header timeout runs from the first byte of a request, never from the last. */
START_TEST(header_timeout_answers_408)
{
	struct client c;

	client_connect(&c, GET_A);
	client_await(&c, 1, false);
	fx.ctx.now_ms += 15 * 1000; /* idle, within keepalive_timeout */
	client_send(&c, "GET /a.txt HTTP/1.1\r\n");
	turn();
	fx.ctx.now_ms += 5 * 1000;
	client_send(&c, "Host: a\r\n");
	turn();
	fx.ctx.now_ms += 5 * 1000 - 1;
	shoal_conn_expire(&h.env);
	client_read(&c);
	ck_assert(c.nresp == 1 && !c.eof); /* not yet */
	fx.ctx.now_ms += 1;
	shoal_conn_expire(&h.env);
	client_await(&c, 2, true);
	assert_refused_and_lingering(&c, 408);
}
END_TEST

START_TEST(idle_connection_closes_at_the_keepalive_timeout)
{
	struct client c;

	client_connect(&c, GET_A);
	fx.ctx.now_ms += 20 * 1000 - 1;
	shoal_conn_expire(&h.env);
	ck_assert_uint_eq(h.env.nconns, 1);
	fx.ctx.now_ms += 1;
	shoal_conn_expire(&h.env);
	ck_assert_uint_eq(h.env.nconns, 0);
	client_await(&c, 1, true);
	close(c.fd);
}
END_TEST

START_TEST(close_idle_closes_only_idle_connections)
{
	struct client idle, busy;

	client_connect(&idle, GET_A);
	client_connect(&busy, "GET /a.txt HTTP/1.1\r\n");
	ck_assert_uint_eq(h.env.nconns, 2);
	shoal_conn_close_idle(&h.env);
	ck_assert_uint_eq(h.env.nconns, 1);
	ck_assert_uint_eq(h.closed, 1);
	client_await(&idle, 1, true);
	client_await(&busy, 0, false);
	close(idle.fd);
	close(busy.fd);
}
END_TEST

START_TEST(close_all_closes_everything)
{
	struct client idle, busy, fresh;

	client_connect(&idle, GET_A);
	client_connect(&busy, "GET /a.txt HTTP/1.1\r\n");
	client_connect(&fresh, NULL);
	ck_assert_uint_eq(h.env.nconns, 3);
	shoal_conn_close_all(&h.env);
	ck_assert_uint_eq(h.env.nconns, 0);
	ck_assert_uint_eq(h.closed, 3);
	client_await(&idle, 1, true);
	client_await(&busy, 0, true);
	client_await(&fresh, 0, true);
	close(idle.fd);
	close(busy.fd);
	close(fresh.fd);
}
END_TEST

START_TEST(draining_answers_with_connection_close)
{
	struct client c;

	client_connect(&c, GET_A);
	h.env.draining = true;
	client_send(&c, GET_B);
	client_await(&c, 2, true);
	ck_assert(fixture_lacks(&c.resp[0], "Connection"));
	ck_assert(fixture_has(&c.resp[1], "Connection", "close"));
	ck_assert_uint_eq(h.env.nconns, 0);
	close(c.fd);
}
END_TEST


/* ---- an address with proxy_protocol ---- */

/* The lines of an access log or error log that contain what. */
static int count_lines(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

START_TEST(header_and_request_in_one_write_are_answered_for_the_headers_client)
{
	struct client c;

	client_connect(&c, PROXY_V1 GET_A);
	client_await(&c, 1, false);
	assert_response(&c, 0, 200, "hello");
	ck_assert_uint_eq(h.env.nconns, 1);
	ck_assert_ptr_nonnull(strstr(read_log("access.log"), "203.0.113.7 - - ["));
	ck_assert_ptr_null(strstr(read_log("access.log"), "127.0.0.1"));
	close(c.fd);
}
END_TEST

START_TEST(the_header_is_read_once_and_keep_alive_follows)
{
	struct client c;

	client_connect(&c, "PROXY TCP4 203.0.");
	turn();
	ck_assert_uint_eq(h.env.nconns, 1);
	client_send(&c, "113.7 192.0.2.80 51000 80\r\n");
	turn();
	client_read(&c);
	ck_assert_uint_eq(c.nresp, 0);
	client_send(&c, GET_A);
	client_await(&c, 1, false);
	assert_response(&c, 0, 200, "hello");
	/* A second header would be a bad request now, not a header. */
	client_send(&c, GET_B PROXY_V1 "\r\n");
	client_await(&c, 3, true);
	assert_response(&c, 1, 200, "bye");
	assert_response(&c, 2, 400, NULL);
	ck_assert_int_eq(count_lines(read_log("access.log"), "203.0.113.7 - - ["), 3);
	close(c.fd);
}
END_TEST

START_TEST(a_local_header_keeps_the_sockets_peer)
{
	struct client c;

	client_connect_bytes(&c, PROXY_V2_LOCAL GET_A, PROXY_V2_LOCAL_LEN + strlen(GET_A),
			     SOCK_STREAM, INADDR_LOOPBACK);
	client_await(&c, 1, false);
	assert_response(&c, 0, 200, "hello");
	ck_assert_ptr_nonnull(strstr(read_log("access.log"), "127.0.0.1 - - ["));
	close(c.fd);
}
END_TEST

/* No HTTP answer: the peer is a balancer. */
static void assert_closed_unanswered(struct client *c)
{
	client_await(c, 0, true);
	ck_assert_uint_eq(c->len, 0);
	ck_assert_uint_eq(h.env.nconns, 0);
	ck_assert_uint_eq(h.closed, 1);
	close(c->fd);
}

START_TEST(a_malformed_header_closes_unanswered)
{
	struct client c;

	client_connect(&c, "PROXY TCP9 203.0.113.7 192.0.2.80 51000 80\r\n" GET_A);
	assert_closed_unanswered(&c);
}
END_TEST

START_TEST(a_request_without_a_header_closes_unanswered)
{
	struct client c;

	client_connect(&c, GET_A);
	assert_closed_unanswered(&c);
}
END_TEST

/* A version 2 header may announce 64 KiB: one that outgrows the buffer is refused. */
START_TEST(a_header_longer_than_the_buffer_closes_unanswered)
{
	static char big[16384] = "\r\n\r\n\0\r\nQUIT\n\x21\x11\xff\xff";
	struct client c;

	client_connect_bytes(&c, big, sizeof(big), SOCK_STREAM, INADDR_LOOPBACK);
	assert_closed_unanswered(&c);
}
END_TEST

START_TEST(a_stalled_header_closes_at_proxy_protocol_timeout)
{
	struct client c;

	client_connect(&c, "PROXY TCP4 203.0.113.7 ");
	turn();
	fx.ctx.now_ms += 2500 - 1;
	client_send(&c, "192.0.2.80"); /* bytes do not extend the time */
	turn();
	shoal_conn_expire(&h.env);
	ck_assert_uint_eq(h.env.nconns, 1);
	fx.ctx.now_ms += 1;
	shoal_conn_expire(&h.env);
	assert_closed_unanswered(&c);
}
END_TEST

/* Peers outside proxy_protocol_from cost no connection; the log tells of them at most once a
 * second, with how many there were. */
START_TEST(peers_not_trusted_are_closed_at_once_and_told_of_once_a_second)
{
	struct client c[3];

	for (size_t i = 0; i < 3; i++) {
		client_connect_bytes(&c[i], PROXY_V1 GET_A, strlen(PROXY_V1 GET_A), SOCK_STREAM,
				     0xC0000201 + (uint32_t)i); /* 192.0.2.1 .. 3 */
		client_read(&c[i]);
		ck_assert(c[i].eof && c[i].len == 0);
		close(c[i].fd);
	}
	ck_assert_uint_eq(h.env.nconns, 0);
	ck_assert_uint_eq(h.closed, 0);
	ck_assert_int_eq(count_lines(read_log("error.log"), "proxy_protocol: refused "), 1);
	ck_assert_ptr_nonnull(strstr(read_log("error.log"), "refused 1 connection from peers not "
					  "in proxy_protocol_from since the last such line (the "
					  "last from 192.0.2.1)"));
	fx.ctx.now_ms += 999;
	shoal_conn_expire(&h.env);
	ck_assert_int_eq(count_lines(read_log("error.log"), "proxy_protocol: refused "), 1);
	fx.ctx.now_ms += 1;
	shoal_conn_expire(&h.env);
	ck_assert_ptr_nonnull(strstr(read_log("error.log"), "refused 2 connections from peers not "
					  "in proxy_protocol_from since the last such line (the "
					  "last from 192.0.2.3)"));
	fx.ctx.now_ms += 5000;
	shoal_conn_expire(&h.env);
	ck_assert_int_eq(count_lines(read_log("error.log"), "proxy_protocol: refused "), 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("conn");
	TCase *tc = tcase_create("conn");

	signal(SIGPIPE, SIG_IGN); /* as in a worker */
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, request_sent_before_accept_is_answered_at_once);
	tcase_add_test(tc, keep_alive_request_is_answered_and_stays_open);
	tcase_add_test(tc, pipelined_requests_are_answered_in_order_in_one_write);
	tcase_add_test(tc, body_of_an_answered_request_is_read_past);
	tcase_add_test(tc, connection_close_closes_after_the_answer);
	tcase_add_test(tc, malformed_request_is_refused_and_closed);
	tcase_add_test(tc, header_timeout_answers_408);
	tcase_add_test(tc, idle_connection_closes_at_the_keepalive_timeout);
	tcase_add_test(tc, close_idle_closes_only_idle_connections);
	tcase_add_test(tc, close_all_closes_everything);
	tcase_add_test(tc, draining_answers_with_connection_close);
	suite_add_tcase(s, tc);
	tc = tcase_create("proxy_protocol");
	tcase_add_checked_fixture(tc, setup_proxy, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, header_and_request_in_one_write_are_answered_for_the_headers_client);
	tcase_add_test(tc, the_header_is_read_once_and_keep_alive_follows);
	tcase_add_test(tc, a_local_header_keeps_the_sockets_peer);
	tcase_add_test(tc, a_malformed_header_closes_unanswered);
	tcase_add_test(tc, a_request_without_a_header_closes_unanswered);
	tcase_add_test(tc, a_header_longer_than_the_buffer_closes_unanswered);
	tcase_add_test(tc, a_stalled_header_closes_at_proxy_protocol_timeout);
	tcase_add_test(tc, peers_not_trusted_are_closed_at_once_and_told_of_once_a_second);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
