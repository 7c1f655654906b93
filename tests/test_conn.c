#include <check.h>
#include <netinet/in.h>
#include <signal.h>
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

static void setup(void)
{
	struct shoal_err err = { "" };

	fixture_init(&fx);
	fixture_mkdir(&fx, "www");
	fixture_write(&fx, "www/a.txt", "hello");
	fixture_write(&fx, "www/b.txt", "bye");
	fixture_load(&fx, conf);
	memset(&h, 0, sizeof(h));
	ck_assert_msg(shoal_event_init(&h.loop, &err) == 0, "%s", err.msg);
	h.access_log.fd = -1;
	shoal_conn_env_init(&h.env, &fx.ctx);
	h.env.loop = &h.loop;
	h.env.access_log = &h.access_log;
	h.env.on_closed = on_closed;
	ck_assert_int_eq(shoal_route_init(&h.route, fx.sites, fx.nsites,
					  &fx.cfg.servers[0].listen[0], NULL, 0), 0);
	h.origin.env = &h.env;
	h.origin.route = &h.route;
}

static void teardown(void)
{
	shoal_conn_close_all(&h.env);
	shoal_pool_recycle(&h.env.pool);
	shoal_conn_env_free(&h.env);
	shoal_route_free(&h.route);
	shoal_event_close(&h.loop);
	fixture_free(&fx);
}

/* Hands the server's end of a new socket pair of type to the connections, as accepted from
 * 127.0.0.1, with request (NULL: nothing) already sent. */
static void client_connect_type(struct client *c, const char *request, int type)
{
	struct sockaddr_storage peer = { .ss_family = AF_INET };
	int sv[2];

	((struct sockaddr_in *)&peer)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(c, 0, sizeof(*c));
	fixture_socketpair(sv, type);
	c->fd = sv[1];
	if (request)
		ck_assert_int_eq(write(c->fd, request, strlen(request)), (ssize_t)strlen(request));
	shoal_conn_accept(&h.origin, sv[0], &peer);
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
	return shoal_check_run(s);
}
