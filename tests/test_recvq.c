#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shoal/net/event.h"
#include "shoal/net/recvq.h"
#include "shoal/net/ring.h"
#include "shoal/net/sendq.h"
#include "shoal/net/transport.h"

#include "check_run.h"
#include "loopback.h"

static void no_event(struct shoal_event_source *src, uint32_t events)
{
	(void)src;
	(void)events;
}

/* The ring a test's queues share (each test runs in a process of its own). */
static struct shoal_ring ring;

static struct shoal_recvq *queue(unsigned slots)
{
	struct shoal_err err;
	struct shoal_recvq *q;

	if (!ring.ready)
		ck_assert_msg(shoal_ring_init(&ring, 64, &err) == 0, "%s", err.msg);
	q = shoal_recvq_new(&ring, slots, &err);

	ck_assert_msg(q != NULL, "%s", err.msg);
	return q;
}

/* The server end of a fresh pair as a source taking part, and its transport. */
struct end {
	struct shoal_event_source ev;
	int client;
};

static void end_open(struct end *e, bool small)
{
	int server;

	loopback_tcp_pair(&server, &e->client, small);
	e->ev = (struct shoal_event_source){ .on_event = no_event, .fd = server };
	shoal_recvq_take_part(&e->ev, true);
}

static struct shoal_transport *end_transport(struct end *e, struct shoal_recvq *q)
{
	static struct shoal_transport t;

	t = (struct shoal_transport){ .ops = &shoal_transport_tcp_ops, .fd = e->ev.fd,
				      .src = &e->ev, .rq = q };
	return &t;
}

/* What epoll would say of the ends: readable. */
static int ready_list(struct epoll_event *ready, struct end *ends, int n)
{
	for (int i = 0; i < n; i++)
		ready[i] = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &ends[i].ev };
	return n;
}

static void wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	ck_assert_int_eq(poll(&p, 1, 5000), 1);
}

static void end_close(struct end *e, struct shoal_recvq *q)
{
	shoal_transport_close(end_transport(e, q));
	close(e->client);
}

/* The reads of several sockets in one call; each read then takes its own bytes, and the
 * socket, left empty, is read by nothing (a second read says EAGAIN from the socket). */
START_TEST(a_turn_reads_every_ready_socket_at_once)
{
	struct shoal_recvq *q = queue(8);
	struct end e[3];
	struct epoll_event ready[3];
	const char *text[3] = { "GET /a", "GET /bb", "GET /ccc" };
	char buf[64];

	for (int i = 0; i < 3; i++) {
		end_open(&e[i], false);
		ck_assert_int_eq(write(e[i].client, text[i], strlen(text[i])),
				 (ssize_t)strlen(text[i]));
		wait_readable(e[i].ev.fd);
	}
	shoal_recvq_read_ahead(q, ready, ready_list(ready, e, 3));
	ck_assert_uint_eq(shoal_recvq_saved(q), 2);
	for (int i = 0; i < 3; i++) {
		struct shoal_transport *t = end_transport(&e[i], q);

		ck_assert(shoal_transport_pending(t));
		/* The socket itself is empty now: what was read ahead is held. */
		ck_assert_int_eq(recv(e[i].ev.fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_PEEK), -1);
		ck_assert_int_eq(shoal_transport_read(t, buf, sizeof(buf)), (ssize_t)strlen(text[i]));
		ck_assert(memcmp(buf, text[i], strlen(text[i])) == 0);
		ck_assert(!shoal_transport_pending(t));
		ck_assert_int_eq(shoal_transport_read(t, buf, sizeof(buf)), -1);
		ck_assert_int_eq(errno, EAGAIN);
		end_close(&e[i], q);
	}
	shoal_recvq_free(q);
}
END_TEST

/* A small buffer takes what was read ahead in turns; pending says more is held. */
START_TEST(a_small_buffer_takes_what_is_held_in_turns)
{
	struct shoal_recvq *q = queue(2);
	struct end e;
	struct epoll_event ready[1];
	struct shoal_transport *t;
	char buf[4];

	end_open(&e, false);
	ck_assert_int_eq(write(e.client, "abcdefghij", 10), 10);
	wait_readable(e.ev.fd);
	shoal_recvq_read_ahead(q, ready, ready_list(ready, &e, 1));
	t = end_transport(&e, q);
	ck_assert_int_eq(shoal_transport_read(t, buf, 4), 4);
	ck_assert(memcmp(buf, "abcd", 4) == 0);
	ck_assert(shoal_transport_pending(t));
	ck_assert_int_eq(shoal_transport_read(t, buf, 4), 4);
	ck_assert(memcmp(buf, "efgh", 4) == 0);
	ck_assert_int_eq(shoal_transport_read(t, buf, 4), 2);
	ck_assert(memcmp(buf, "ij", 2) == 0);
	ck_assert(!shoal_transport_pending(t));
	end_close(&e, q);
	shoal_recvq_free(q);
}
END_TEST

/* More than a slot: the read takes the slot, then reads on from the socket, so that a short
 * read still means an empty socket; every byte arrives once, in order. */
START_TEST(a_full_slot_is_followed_by_the_socket)
{
	struct shoal_recvq *q = queue(2);
	struct end e;
	struct epoll_event ready[1];
	size_t total = 3 * SHOAL_RECVQ_BYTES, got = 0;
	char *out = malloc(total), *in = malloc(total);

	for (size_t i = 0; i < total; i++)
		out[i] = (char)('a' + i % 23);
	end_open(&e, false);
	ck_assert_int_eq(write(e.client, out, total), (ssize_t)total);
	usleep(20000);
	shoal_recvq_read_ahead(q, ready, ready_list(ready, &e, 1));
	while (got < total) {
		ssize_t n = shoal_transport_read(end_transport(&e, q), in + got, total - got);
		ck_assert_int_gt(n, 0);
		got += (size_t)n;
	}
	ck_assert(memcmp(in, out, total) == 0);
	free(out);
	free(in);
	end_close(&e, q);
	shoal_recvq_free(q);
}
END_TEST

/* The end read ahead is returned once, as recv returns it; a source not taking part, or
 * one that holds bytes already, is not read ahead. */
START_TEST(the_end_comes_once_and_only_parts_are_read)
{
	struct shoal_recvq *q = queue(4);
	struct end e[2];
	struct epoll_event ready[2];
	char buf[16];

	end_open(&e[0], false);
	end_open(&e[1], false);
	shoal_recvq_take_part(&e[1].ev, false);
	close(e[0].client);
	ck_assert_int_eq(write(e[1].client, "x", 1), 1);
	wait_readable(e[0].ev.fd);
	wait_readable(e[1].ev.fd);
	shoal_recvq_read_ahead(q, ready, ready_list(ready, e, 2));
	ck_assert(shoal_recvq_holds(&e[0].ev));
	ck_assert(!shoal_recvq_holds(&e[1].ev));
	ck_assert_int_eq(shoal_transport_read(end_transport(&e[0], q), buf, sizeof(buf)), 0);
	ck_assert(!shoal_recvq_holds(&e[0].ev));
	ck_assert_int_eq(shoal_transport_read(end_transport(&e[1], q), buf, sizeof(buf)), 1);
	shoal_transport_close(end_transport(&e[0], q));
	end_close(&e[1], q);
	shoal_recvq_free(q);
}
END_TEST

/* Closing a source drops what is held, and its slot serves the next read ahead. */
START_TEST(closing_drops_what_is_held)
{
	struct shoal_recvq *q = queue(1);
	struct end e[2];
	struct epoll_event ready[2];
	char buf[16];

	end_open(&e[0], false);
	end_open(&e[1], false);
	ck_assert_int_eq(write(e[0].client, "first", 5), 5);
	ck_assert_int_eq(write(e[1].client, "second", 6), 6);
	wait_readable(e[0].ev.fd);
	wait_readable(e[1].ev.fd);
	/* One slot: the first is read ahead, the second reads for itself. */
	shoal_recvq_read_ahead(q, ready, ready_list(ready, e, 2));
	ck_assert(shoal_recvq_holds(&e[0].ev));
	ck_assert(!shoal_recvq_holds(&e[1].ev));
	end_close(&e[0], q);
	shoal_recvq_read_ahead(q, ready, ready_list(ready, &e[1], 1));
	ck_assert(shoal_recvq_holds(&e[1].ev));
	ck_assert_int_eq(shoal_transport_read(end_transport(&e[1], q), buf, sizeof(buf)), 6);
	end_close(&e[1], q);
	shoal_recvq_free(q);
}
END_TEST

/* The read queue and a send queue over one ring: each submits and reaps its own
 * operations, in one io_uring_enter for each queue's round, and counts its own. */
START_TEST(a_send_queue_on_the_same_ring_keeps_to_its_own)
{
	struct shoal_recvq *q = queue(4);
	struct shoal_err err;
	struct shoal_sendq *sq = shoal_sendq_new(&ring, 4, &err);
	struct end e[2];
	struct epoll_event ready[2];
	char buf[16];

	ck_assert_msg(sq != NULL, "%s", err.msg);
	for (int i = 0; i < 2; i++) {
		end_open(&e[i], false);
		ck_assert_int_eq(write(e[i].client, "ping", 4), 4);
		wait_readable(e[i].ev.fd);
	}
	shoal_recvq_read_ahead(q, ready, ready_list(ready, e, 2));
	for (int i = 0; i < 2; i++) {
		struct iovec v = { "pong", 4 };

		ck_assert_int_eq(shoal_transport_writev(SHOAL_TRANSPORT_TCP_EV(&e[i].ev, sq, q), &v,
							1, false), -1);
		ck_assert_int_eq(errno, EAGAIN);
	}
	shoal_sendq_run(sq);
	for (int i = 0; i < 2; i++) {
		struct iovec v = { "pong", 4 };

		ck_assert_int_eq(shoal_transport_writev(SHOAL_TRANSPORT_TCP_EV(&e[i].ev, sq, q), &v,
							1, false), 4);
		ck_assert_int_eq(shoal_transport_read(end_transport(&e[i], q), buf, sizeof(buf)), 4);
		ck_assert(memcmp(buf, "ping", 4) == 0);
		wait_readable(e[i].client);
		ck_assert_int_eq(read(e[i].client, buf, sizeof(buf)), 4);
		ck_assert(memcmp(buf, "pong", 4) == 0);
	}
	ck_assert_uint_eq(shoal_recvq_saved(q), 1);
	ck_assert_uint_eq(shoal_sendq_saved(sq), 1);
	for (int i = 0; i < 2; i++) {
		shoal_sendq_cancel(sq, &e[i].ev);
		end_close(&e[i], q);
	}
	shoal_sendq_free(sq);
	shoal_recvq_free(q);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("recvq");
	TCase *tc = tcase_create("recvq");

	signal(SIGPIPE, SIG_IGN);
	tcase_add_test(tc, a_turn_reads_every_ready_socket_at_once);
	tcase_add_test(tc, a_send_queue_on_the_same_ring_keeps_to_its_own);
	tcase_add_test(tc, a_small_buffer_takes_what_is_held_in_turns);
	tcase_add_test(tc, a_full_slot_is_followed_by_the_socket);
	tcase_add_test(tc, the_end_comes_once_and_only_parts_are_read);
	tcase_add_test(tc, closing_drops_what_is_held);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
