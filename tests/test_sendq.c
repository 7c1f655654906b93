#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shoal/net/event.h"
#include "shoal/net/out.h"
#include "shoal/net/sendq.h"
#include "shoal/net/ring.h"
#include "shoal/net/transport.h"

#include "check_run.h"
#include "loopback.h"

/* An event source that counts the EPOLLOUT it is given, and may write again from it. */
struct probe {
	struct shoal_event_source ev;
	struct shoal_sendq *q;
	int outs;
	ssize_t last;      /* what its write in the callback returned */
	int last_errno;
	const char *again; /* written again from the callback, until it is taken */
};

static void probe_on_event(struct shoal_event_source *src, uint32_t events)
{
	struct probe *p = (struct probe *)src;

	if (!(events & EPOLLOUT))
		return;
	p->outs++;
	if (p->again) {
		struct iovec v = { (void *)p->again, strlen(p->again) };
		p->last = shoal_transport_writev(SHOAL_TRANSPORT_TCP_EV(&p->ev, p->q, NULL), &v, 1, false);
		p->last_errno = errno;
	}
}

static void probe_init(struct probe *p, int fd, struct shoal_sendq *q)
{
	*p = (struct probe){ .ev = { .on_event = probe_on_event, .fd = fd }, .q = q };
}

static ssize_t probe_write(struct probe *p, const char *text)
{
	struct iovec v = { (void *)text, strlen(text) };

	return shoal_transport_writev(SHOAL_TRANSPORT_TCP_EV(&p->ev, p->q, NULL), &v, 1, false);
}

/* The ring a test's queues share (each test runs in a process of its own). */
static struct shoal_ring ring;

static struct shoal_sendq *queue(unsigned slots)
{
	struct shoal_err err;
	struct shoal_sendq *q;

	if (!ring.ready)
		ck_assert_msg(shoal_ring_init(&ring, 64, &err) == 0, "%s", err.msg);
	q = shoal_sendq_new(&ring, slots, &err);

	ck_assert_msg(q != NULL, "%s", err.msg);
	return q;
}

/* Reads what the non-blocking fd has within a second: at least want bytes or its end. */
static size_t read_some(int fd, char *buf, size_t cap, size_t want)
{
	size_t got = 0;

	while (got < want) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 1000) != 1)
			break;
		n = read(fd, buf + got, cap - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

static bool nothing_to_read(int fd)
{
	char byte;

	return recv(fd, &byte, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

/* A small send waits for the run: EAGAIN, nothing on the wire; the run sends it and says
 * EPOLLOUT once; the next write takes the bytes sent. */
START_TEST(a_small_send_goes_with_the_run_and_its_result_comes_after)
{
	struct shoal_sendq *q = queue(4);
	struct probe p;
	int server, client;
	char buf[16];

	loopback_tcp_pair(&server, &client, false);
	probe_init(&p, server, q);
	ck_assert_int_eq(probe_write(&p, "hello"), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(probe_write(&p, "hello"), -1); /* still queued */
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert(shoal_sendq_waiting(q));
	usleep(20000);
	ck_assert(nothing_to_read(client));
	shoal_sendq_run(q);
	ck_assert_int_eq(p.outs, 1);
	ck_assert(!shoal_sendq_waiting(q));
	ck_assert_int_eq(read_some(client, buf, sizeof(buf), 5), 5);
	ck_assert(memcmp(buf, "hello", 5) == 0);
	ck_assert_int_eq(probe_write(&p, "hello"), 5);
	/* The result is taken once: the next write is a new send. */
	ck_assert_int_eq(probe_write(&p, "again"), -1);
	shoal_sendq_run(q);
	ck_assert_int_eq(probe_write(&p, "again"), 5);
	ck_assert_int_eq(read_some(client, buf, sizeof(buf), 5), 5);
	ck_assert(memcmp(buf, "again", 5) == 0);
	close(server);
	close(client);
	shoal_sendq_free(q);
}
END_TEST

/* The sends of several sources go in one io_uring_enter, each to its own socket. */
START_TEST(the_sends_of_a_turn_share_one_system_call)
{
	struct shoal_sendq *q = queue(8);
	struct probe p[3];
	int server[3], client[3];
	const char *text[3] = { "first", "second", "third" };
	char buf[16];

	for (int i = 0; i < 3; i++) {
		loopback_tcp_pair(&server[i], &client[i], false);
		probe_init(&p[i], server[i], q);
		ck_assert_int_eq(probe_write(&p[i], text[i]), -1);
	}
	shoal_sendq_run(q);
	ck_assert_uint_eq(shoal_sendq_saved(q), 2);
	for (int i = 0; i < 3; i++) {
		size_t len = strlen(text[i]);

		ck_assert_int_eq(p[i].outs, 1);
		ck_assert_int_eq(probe_write(&p[i], text[i]), (ssize_t)len);
		ck_assert_uint_eq(read_some(client[i], buf, sizeof(buf), len), len);
		ck_assert(memcmp(buf, text[i], len) == 0);
		close(server[i]);
		close(client[i]);
	}
	shoal_sendq_free(q);
}
END_TEST

/* Closing a source's socket through its transport drops its queued send: nothing is sent
 * and its callback is not called (its memory may be gone by the run). */
START_TEST(a_send_of_a_closed_source_is_dropped)
{
	struct shoal_sendq *q = queue(4);
	struct probe p, other;
	int server, client, server2, client2;
	char buf[16];

	loopback_tcp_pair(&server, &client, false);
	loopback_tcp_pair(&server2, &client2, false);
	probe_init(&p, server, q);
	probe_init(&other, server2, q);
	ck_assert_int_eq(probe_write(&p, "lost"), -1);
	ck_assert_int_eq(probe_write(&other, "kept"), -1);
	shoal_transport_close(SHOAL_TRANSPORT_TCP_EV(&p.ev, q, NULL));
	shoal_sendq_run(q);
	ck_assert_int_eq(p.outs, 0);
	ck_assert_int_eq(other.outs, 1);
	ck_assert_uint_eq(read_some(client, buf, sizeof(buf), 1), 0); /* the end, no bytes */
	ck_assert_uint_eq(read_some(client2, buf, sizeof(buf), 4), 4);
	ck_assert_int_eq(probe_write(&other, "kept"), 4);
	/* Every slot is free again (the dropped send's, and the one whose result was taken):
	 * four sends queue. */
	for (int i = 0; i < 4; i++) {
		struct probe more;
		probe_init(&more, client, q);
		ck_assert_int_eq(probe_write(&more, "x"), -1);
		shoal_sendq_cancel(q, &more.ev);
	}
	shoal_sendq_run(q);
	close(client);
	close(server2);
	close(client2);
	shoal_sendq_free(q);
}
END_TEST

/* Larger than a slot, or with every slot taken: the send is a system call, at once. */
START_TEST(large_sends_and_sends_beyond_the_slots_go_at_once)
{
	struct shoal_sendq *q = queue(1);
	struct probe p, second;
	int server, client, server2, client2;
	char *big = malloc(SHOAL_SENDQ_BYTES + 1), buf[SHOAL_SENDQ_BYTES + 1];
	struct iovec v = { big, SHOAL_SENDQ_BYTES + 1 };

	memset(big, 'b', SHOAL_SENDQ_BYTES + 1);
	loopback_tcp_pair(&server, &client, false);
	loopback_tcp_pair(&server2, &client2, false);
	probe_init(&p, server, q);
	probe_init(&second, server2, q);
	ck_assert_int_eq(shoal_transport_writev(SHOAL_TRANSPORT_TCP_EV(&p.ev, q, NULL), &v, 1, false),
			 SHOAL_SENDQ_BYTES + 1);
	ck_assert_uint_eq(read_some(client, buf, sizeof(buf), sizeof(buf)), sizeof(buf));
	ck_assert_int_eq(probe_write(&p, "queued"), -1);
	ck_assert_int_eq(probe_write(&second, "direct"), 6);
	ck_assert_uint_eq(read_some(client2, buf, sizeof(buf), 6), 6);
	shoal_sendq_run(q);
	ck_assert_int_eq(probe_write(&p, "queued"), 6);
	free(big);
	close(server);
	close(client);
	close(server2);
	close(client2);
	shoal_sendq_free(q);
}
END_TEST

/* A full socket: the batched send's EAGAIN is the write's, and nothing was taken. */
START_TEST(a_full_socket_answers_eagain_through_the_queue)
{
	struct shoal_sendq *q = queue(4);
	struct probe p;
	int server, client;
	char chunk[4096];

	memset(chunk, 'f', sizeof(chunk));
	loopback_tcp_pair(&server, &client, true);
	while (send(server, chunk, sizeof(chunk), MSG_DONTWAIT) > 0)
		;
	ck_assert_int_eq(errno, EAGAIN);
	probe_init(&p, server, q);
	ck_assert_int_eq(probe_write(&p, "more"), -1);
	shoal_sendq_run(q);
	ck_assert_int_eq(p.outs, 1);
	ck_assert_int_eq(probe_write(&p, "more"), -1);
	ck_assert_int_eq(errno, EAGAIN);
	close(server);
	close(client);
	shoal_sendq_free(q);
}
END_TEST

/* A source that writes again from its callback (its next pipelined answer) is sent in
 * another round of the same run. */
START_TEST(a_send_queued_by_a_callback_goes_in_the_same_run)
{
	struct shoal_sendq *q = queue(4);
	struct probe p;
	int server, client;
	char buf[16];

	loopback_tcp_pair(&server, &client, false);
	probe_init(&p, server, q);
	ck_assert_int_eq(probe_write(&p, "one"), -1);
	p.again = "one"; /* the callback takes the result, 3 */
	shoal_sendq_run(q);
	ck_assert_int_eq(p.outs, 1);
	ck_assert_int_eq(p.last, 3);
	p.again = "two";
	ck_assert_int_eq(probe_write(&p, "two"), -1);
	shoal_sendq_run(q);
	ck_assert_int_eq(p.last, 3);
	ck_assert_uint_eq(read_some(client, buf, sizeof(buf), 6), 6);
	ck_assert(memcmp(buf, "onetwo", 6) == 0);
	close(server);
	close(client);
	shoal_sendq_free(q);
}
END_TEST

/* shoal_out over a batched transport: AGAIN until the run, DONE after, bytes in order. */
START_TEST(out_flush_waits_for_the_run_then_is_done)
{
	struct shoal_sendq *q = queue(4);
	struct probe p;
	struct shoal_out o;
	char scratch[64], buf[32];
	int server, client;

	loopback_tcp_pair(&server, &client, false);
	probe_init(&p, server, q);
	shoal_out_init(&o, scratch, sizeof(scratch));
	shoal_out_add(&o, "HTTP/1.1 ", 9, NULL);
	shoal_out_add(&o, "200 OK\r\n\r\n", 10, NULL);
	ck_assert_int_eq(shoal_out_flush(&o, SHOAL_TRANSPORT_TCP_EV(&p.ev, q, NULL)), SHOAL_OUT_AGAIN);
	shoal_sendq_run(q);
	ck_assert_int_eq(shoal_out_flush(&o, SHOAL_TRANSPORT_TCP_EV(&p.ev, q, NULL)), SHOAL_OUT_DONE);
	ck_assert(shoal_out_empty(&o));
	ck_assert_uint_eq(read_some(client, buf, sizeof(buf), 19), 19);
	ck_assert(memcmp(buf, "HTTP/1.1 200 OK\r\n\r\n", 19) == 0);
	close(server);
	close(client);
	shoal_sendq_free(q);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sendq");
	TCase *tc = tcase_create("sendq");

	signal(SIGPIPE, SIG_IGN); /* as in a worker */
	tcase_add_test(tc, a_small_send_goes_with_the_run_and_its_result_comes_after);
	tcase_add_test(tc, the_sends_of_a_turn_share_one_system_call);
	tcase_add_test(tc, a_send_of_a_closed_source_is_dropped);
	tcase_add_test(tc, large_sends_and_sends_beyond_the_slots_go_at_once);
	tcase_add_test(tc, a_full_socket_answers_eagain_through_the_queue);
	tcase_add_test(tc, a_send_queued_by_a_callback_goes_in_the_same_run);
	tcase_add_test(tc, out_flush_waits_for_the_run_then_is_done);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
