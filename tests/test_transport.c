#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shoal/net/out.h"
#include "shoal/net/transport.h"

#include "check_run.h"
#include "loopback.h"

static void wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	ck_assert_int_eq(poll(&p, 1, 5000), 1);
}

/* Reads exactly len bytes from the non-blocking fd, waiting for them as needed. */
static void read_exactly(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n;
		wait_readable(fd);
		n = read(fd, buf + got, len - got);
		ck_assert_int_gt(n, 0);
		got += (size_t)n;
	}
}

static void fill(char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)('a' + (i + seed) % 26);
}

/* An unlinked temporary file of len pattern bytes. */
static int temp_file(const char *pattern, size_t len)
{
	char path[] = "/tmp/shoal-transport-XXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(write(fd, pattern, len), (ssize_t)len);
	return fd;
}

START_TEST(tcp_read_returns_bytes_then_again_then_the_end)
{
	int server, client;
	struct shoal_transport *t;
	char buf[16];

	loopback_tcp_pair(&server, &client, false);
	t = SHOAL_TRANSPORT_TCP(server);
	ck_assert_int_eq(write(client, "hello", 5), 5);
	wait_readable(server);
	ck_assert_int_eq(shoal_transport_read(t, buf, sizeof(buf)), 5);
	ck_assert(memcmp(buf, "hello", 5) == 0);
	ck_assert_int_eq(shoal_transport_read(t, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	close(client);
	wait_readable(server);
	ck_assert_int_eq(shoal_transport_read(t, buf, sizeof(buf)), 0);
	close(server);
}
END_TEST

/* One piece, several pieces, and pieces with more to follow all arrive in order. */
START_TEST(tcp_writev_sends_pieces_in_order_whatever_the_call)
{
	int server, client;
	struct shoal_transport *t;
	struct iovec one = { "one|", 4 };
	struct iovec two[2] = { { "two|", 4 }, { "three|", 6 } };
	struct iovec more[2] = { { "four|", 5 }, { "five", 4 } };
	char buf[32];

	loopback_tcp_pair(&server, &client, false);
	t = SHOAL_TRANSPORT_TCP(server);
	ck_assert_int_eq(shoal_transport_writev(t, &one, 1, false), 4);
	ck_assert_int_eq(shoal_transport_writev(t, two, 2, false), 10);
	ck_assert_int_eq(shoal_transport_writev(t, more, 2, true), 9);
	shoal_transport_cork(t, false); /* nothing more comes: let the held segment go */
	read_exactly(client, buf, 23);
	ck_assert(memcmp(buf, "one|two|three|four|five", 23) == 0);
	close(server);
	close(client);
}
END_TEST

/* A peer that does not read: the socket takes part of what is offered, then nothing. */
START_TEST(tcp_writev_takes_part_then_says_again)
{
	static char out[1 << 20], in[1 << 20];
	const size_t half = sizeof(out) / 2;
	struct iovec v[2] = { { out, half }, { out + half, half } };
	struct shoal_transport *t;
	int server, client;
	size_t sent;
	ssize_t n;

	fill(out, sizeof(out), 0);
	loopback_tcp_pair(&server, &client, true);
	t = SHOAL_TRANSPORT_TCP(server);
	n = shoal_transport_writev(t, v, 2, false);
	ck_assert_int_gt(n, 0);
	ck_assert_int_lt(n, (ssize_t)sizeof(out));
	/* Offering the rest again, from where it stopped, until the socket is full. */
	sent = (size_t)n;
	while ((n = shoal_transport_writev(t, &(struct iovec){ out + sent, sizeof(out) - sent },
					   1, false)) > 0)
		sent += (size_t)n;
	ck_assert_int_eq(n, -1);
	ck_assert_int_eq(errno, EAGAIN);
	read_exactly(client, in, sent);
	ck_assert(memcmp(in, out, sent) == 0);
	close(server);
	close(client);
}
END_TEST

START_TEST(tcp_sendfile_sends_a_range_of_the_file)
{
	static char pattern[10000], in[5000];
	int server, client, file;
	struct shoal_transport *t;
	off_t off = 1000;

	fill(pattern, sizeof(pattern), 3);
	file = temp_file(pattern, sizeof(pattern));
	loopback_tcp_pair(&server, &client, false);
	t = SHOAL_TRANSPORT_TCP(server);
	while (off < 6000) {
		ssize_t n = shoal_transport_sendfile(t, file, &off, (size_t)(6000 - off));
		ck_assert_int_gt(n, 0);
	}
	ck_assert_int_eq(off, 6000);
	ck_assert_int_eq(lseek(file, 0, SEEK_CUR), sizeof(pattern)); /* its own offset unused */
	read_exactly(client, in, sizeof(in));
	ck_assert(memcmp(in, pattern + 1000, sizeof(in)) == 0);
	off = sizeof(pattern);
	ck_assert_int_eq(shoal_transport_sendfile(t, file, &off, 10), 0); /* past the end */
	close(file);
	close(server);
	close(client);
}
END_TEST

START_TEST(tcp_cork_sets_and_clears_tcp_cork)
{
	int server, client, on = -1;
	socklen_t len = sizeof(on);
	struct shoal_transport *t;

	loopback_tcp_pair(&server, &client, false);
	t = SHOAL_TRANSPORT_TCP(server);
	shoal_transport_cork(t, true);
	ck_assert_int_eq(getsockopt(server, IPPROTO_TCP, TCP_CORK, &on, &len), 0);
	ck_assert_int_eq(on, 1);
	shoal_transport_cork(t, false);
	ck_assert_int_eq(getsockopt(server, IPPROTO_TCP, TCP_CORK, &on, &len), 0);
	ck_assert_int_eq(on, 0);
	close(server);
	close(client);
}
END_TEST

/* After shutdown_write the peer reads what was sent, then the end; it may still send. */
START_TEST(tcp_shutdown_write_then_the_peer_sees_the_end)
{
	struct iovec bye = { "bye", 3 };
	struct shoal_transport *t;
	int server, client;
	char buf[8];

	loopback_tcp_pair(&server, &client, false);
	t = SHOAL_TRANSPORT_TCP(server);
	ck_assert_int_eq(shoal_transport_writev(t, &bye, 1, false), 3);
	ck_assert_int_eq(shoal_transport_shutdown_write(t), 0);
	read_exactly(client, buf, 3);
	ck_assert(memcmp(buf, "bye", 3) == 0);
	wait_readable(client);
	ck_assert_int_eq(read(client, buf, sizeof(buf)), 0);
	ck_assert_int_eq(write(client, "late", 4), 4);
	wait_readable(server);
	ck_assert_int_eq(shoal_transport_read(t, buf, sizeof(buf)), 4);
	ck_assert_int_eq(shoal_transport_writev(t, &bye, 1, false), -1);
	ck_assert_int_eq(errno, EPIPE);
	close(server);
	close(client);
}
END_TEST

START_TEST(tcp_close_closes_the_descriptor)
{
	struct shoal_transport *t;
	int server, client;
	char buf[4];

	loopback_tcp_pair(&server, &client, false);
	t = SHOAL_TRANSPORT_TCP(server);
	shoal_transport_close(t);
	ck_assert_int_eq(fcntl(server, F_GETFD), -1);
	wait_readable(client);
	ck_assert_int_eq(read(client, buf, sizeof(buf)), 0);
	close(client);
}
END_TEST

/* TCP holds nothing and waits in the direction of the call that failed, even with bytes
 * queued in the socket (the kernel's, not the transport's). */
START_TEST(tcp_waits_in_the_direction_of_the_call_and_holds_nothing)
{
	struct shoal_transport *t;
	int server, client;

	loopback_tcp_pair(&server, &client, false);
	t = SHOAL_TRANSPORT_TCP(server);
	ck_assert_int_eq(write(client, "queued", 6), 6);
	wait_readable(server);
	ck_assert(!shoal_transport_pending(t));
	ck_assert_int_eq(shoal_transport_waits_for(t, SHOAL_TRANSPORT_READ), SHOAL_TRANSPORT_READ);
	ck_assert_int_eq(shoal_transport_waits_for(t, SHOAL_TRANSPORT_WRITE),
			 SHOAL_TRANSPORT_WRITE);
	close(server);
	close(client);
}
END_TEST

/* A transport whose operations wait for the other direction's readiness, as TLS may. */
static enum shoal_transport_dir crossed_waits_for(struct shoal_transport *t,
						  enum shoal_transport_dir dir)
{
	(void)t;
	return dir == SHOAL_TRANSPORT_READ ? SHOAL_TRANSPORT_WRITE : SHOAL_TRANSPORT_READ;
}

static void readiness(struct shoal_transport *t, bool in, bool out, bool *readable,
		      bool *writable)
{
	*readable = *writable = false;
	shoal_transport_readiness(t, in, out, readable, writable);
}

/* Each direction is woken by its own readiness; one that waits for the other's (TLS answering
 * a key update) by that one too; TCP waits for its own alone. */
START_TEST(readiness_wakes_what_waits_for_each_direction)
{
	struct shoal_transport_ops crossed_ops = shoal_transport_tcp_ops;
	struct shoal_transport crossed = { .ops = &crossed_ops, .fd = -1 };
	struct shoal_transport *tcp = SHOAL_TRANSPORT_TCP(-1);
	bool r, w;

	crossed_ops.waits_for = crossed_waits_for;
	readiness(tcp, true, false, &r, &w);
	ck_assert(r && !w);
	readiness(tcp, false, true, &r, &w);
	ck_assert(!r && w);
	readiness(tcp, false, false, &r, &w);
	ck_assert(!r && !w);
	readiness(&crossed, true, false, &r, &w);
	ck_assert(r && w);
	readiness(&crossed, false, true, &r, &w);
	ck_assert(r && w);
	readiness(&crossed, false, false, &r, &w);
	ck_assert(!r && !w);
	/* It only ever sets. */
	r = w = true;
	shoal_transport_readiness(tcp, false, false, &r, &w);
	ck_assert(r && w);
}
END_TEST

#define SINK_CAP (4u << 20)

/* A transport that is no socket: it records what it is sent, takes at most per_call bytes a
 * call, fails every again_every-th send with EAGAIN, and sends from a file only if told. */
struct sink {
	struct shoal_transport base;
	size_t per_call;
	unsigned again_every, calls;
	bool can_sendfile, corked, last_more;
	unsigned sendfiles;
	size_t len;
	char got[SINK_CAP];
};

static struct sink *sink_of(struct shoal_transport *t)
{
	return (struct sink *)((char *)t - offsetof(struct sink, base));
}

static bool sink_refuses(struct sink *s)
{
	s->calls++;
	if (s->again_every && s->calls % s->again_every == 0) {
		errno = EAGAIN;
		return true;
	}
	return false;
}

static ssize_t sink_writev(struct shoal_transport *t, const struct iovec *iov, int iovcnt,
			   bool more)
{
	struct sink *s = sink_of(t);
	size_t room = s->per_call, taken = 0;

	if (sink_refuses(s))
		return -1;
	s->last_more = more;
	for (int i = 0; i < iovcnt && room > 0; i++) {
		size_t n = iov[i].iov_len < room ? iov[i].iov_len : room;
		ck_assert_uint_le(s->len + n, SINK_CAP);
		memcpy(s->got + s->len, iov[i].iov_base, n);
		s->len += n;
		taken += n;
		room -= n;
	}
	return (ssize_t)taken;
}

static ssize_t sink_sendfile(struct shoal_transport *t, int file_fd, off_t *off, size_t len)
{
	struct sink *s = sink_of(t);
	ssize_t n;

	if (!s->can_sendfile) {
		errno = EOPNOTSUPP;
		return -1;
	}
	if (sink_refuses(s))
		return -1;
	s->sendfiles++;
	n = pread(file_fd, s->got + s->len, len < s->per_call ? len : s->per_call, *off);
	if (n > 0) {
		s->len += (size_t)n;
		*off += n;
	}
	return n;
}

static void sink_cork(struct shoal_transport *t, bool on)
{
	sink_of(t)->corked = on;
}

/* Only what a flush may use: reading or ending the stream is the connection's business, and
 * a flush that tried would crash the test. */
static const struct shoal_transport_ops sink_ops = {
	.writev = sink_writev,
	.sendfile = sink_sendfile,
	.cork = sink_cork,
};

static struct sink *sink_new(size_t per_call, unsigned again_every, bool can_sendfile)
{
	struct sink *s = calloc(1, sizeof(*s));

	ck_assert_ptr_nonnull(s);
	s->base.ops = &sink_ops;
	s->base.fd = -1;
	s->per_call = per_call;
	s->again_every = again_every;
	s->can_sendfile = can_sendfile;
	return s;
}

/* Flushes until the batch is out, as a worker would on each event or turn. Returns how
 * often the flush had to wait for the transport (AGAIN). */
static unsigned flush_all(struct shoal_out *o, struct sink *s)
{
	unsigned agains = 0;
	enum shoal_out_result r;

	while ((r = shoal_out_flush(o, &s->base)) != SHOAL_OUT_DONE) {
		ck_assert_int_ne(r, SHOAL_OUT_ERROR);
		agains += r == SHOAL_OUT_AGAIN;
	}
	return agains;
}

/* Heads in the scratch space, a static piece, then a file range: all of it arrives in order
 * over a transport that takes a little at a time and is often full. */
static void check_batch_with_body(bool can_sendfile)
{
	static char pattern[100000];
	char scratch[256];
	struct sink *s = sink_new(1000, 3, can_sendfile);
	struct shoal_out o;
	size_t avail;
	int file;

	fill(pattern, sizeof(pattern), 5);
	file = temp_file(pattern, sizeof(pattern));
	shoal_out_init(&o, scratch, sizeof(scratch));
	memcpy(shoal_out_scratch(&o, &avail), "head|", 5);
	shoal_out_commit(&o, 5);
	shoal_out_add(&o, "static|", 7, NULL);
	shoal_out_file(&o, file, 100, 50000, NULL);
	ck_assert_uint_gt(flush_all(&o, s), 0);
	ck_assert(shoal_out_empty(&o));
	ck_assert_uint_eq(s->len, 12 + 50000);
	ck_assert(memcmp(s->got, "head|static|", 12) == 0);
	ck_assert(memcmp(s->got + 12, pattern + 100, 50000) == 0);
	ck_assert_uint_eq(s->sendfiles > 0, can_sendfile);
	ck_assert_int_eq(fcntl(file, F_GETFD), -1); /* the batch owned it */
	free(s);
}

START_TEST(out_works_over_a_transport_that_is_no_socket)
{
	check_batch_with_body(true);
}
END_TEST

START_TEST(out_copies_the_body_when_the_transport_cannot_sendfile)
{
	check_batch_with_body(false);
}
END_TEST

/* Copying keeps sendfile's turns: a body larger than one turn yields once, corked, and the
 * last piece of it says that nothing more follows. */
START_TEST(a_copied_body_takes_turns_and_uncorks_at_the_end)
{
	static char pattern[3 << 20], scratch[1 << 16];
	struct sink *s = sink_new(SIZE_MAX, 0, false);
	struct shoal_out o;
	int file;

	fill(pattern, sizeof(pattern), 7);
	file = temp_file(pattern, sizeof(pattern));
	shoal_out_init(&o, scratch, sizeof(scratch));
	shoal_out_add(&o, "head|", 5, NULL);
	shoal_out_file(&o, file, 0, sizeof(pattern), NULL);
	ck_assert_int_eq(shoal_out_flush(&o, &s->base), SHOAL_OUT_YIELD);
	ck_assert(s->corked);
	ck_assert(s->last_more);
	ck_assert_int_eq(shoal_out_flush(&o, &s->base), SHOAL_OUT_DONE);
	ck_assert(!s->corked);
	ck_assert(!s->last_more);
	ck_assert_uint_eq(s->len, 5 + sizeof(pattern));
	ck_assert(memcmp(s->got + 5, pattern, sizeof(pattern)) == 0);
	free(s);
}
END_TEST

START_TEST(a_copied_body_from_a_shrunk_file_is_an_error)
{
	char scratch[64];
	struct sink *s = sink_new(SIZE_MAX, 0, false);
	struct shoal_out o;
	int file = temp_file("short", 5);

	shoal_out_init(&o, scratch, sizeof(scratch));
	shoal_out_file(&o, file, 0, 100, NULL);
	ck_assert_int_eq(shoal_out_flush(&o, &s->base), SHOAL_OUT_ERROR);
	ck_assert_uint_eq(s->len, 5);
	shoal_out_reset(&o);
	free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("transport");
	TCase *tcp = tcase_create("tcp");
	TCase *out = tcase_create("out");

	signal(SIGPIPE, SIG_IGN); /* as in a worker */
	tcase_add_test(tcp, tcp_read_returns_bytes_then_again_then_the_end);
	tcase_add_test(tcp, tcp_writev_sends_pieces_in_order_whatever_the_call);
	tcase_add_test(tcp, tcp_writev_takes_part_then_says_again);
	tcase_add_test(tcp, tcp_sendfile_sends_a_range_of_the_file);
	tcase_add_test(tcp, tcp_cork_sets_and_clears_tcp_cork);
	tcase_add_test(tcp, tcp_shutdown_write_then_the_peer_sees_the_end);
	tcase_add_test(tcp, tcp_close_closes_the_descriptor);
	tcase_add_test(tcp, tcp_waits_in_the_direction_of_the_call_and_holds_nothing);
	tcase_add_test(tcp, readiness_wakes_what_waits_for_each_direction);
	suite_add_tcase(s, tcp);
	tcase_add_test(out, out_works_over_a_transport_that_is_no_socket);
	tcase_add_test(out, out_copies_the_body_when_the_transport_cannot_sendfile);
	tcase_add_test(out, a_copied_body_takes_turns_and_uncorks_at_the_end);
	tcase_add_test(out, a_copied_body_from_a_shrunk_file_is_an_error);
	suite_add_tcase(s, out);
	return shoal_check_run(s);
}
