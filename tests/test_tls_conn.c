#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shoal/net/out.h"
#include "shoal/tls/conn.h"

#include "check_run.h"
#include "tls_fixture.h"

/* TLS 1.3 with an AEAD: 5 bytes of header, 1 of content type, 16 of tag per record. */
#define TLS13_RECORD_OVERHEAD 22

static struct tls_fixture f;

static void setup(void)
{
	fixture_init(&f);
}

static void teardown(void)
{
	fixture_cleanup(&f);
}

/* A server connection of ours and a test client over a socketpair. */
struct link {
	struct tls_pair pair;
	struct shoal_tls_keys *keys;
	SSL_CTX *ctx, *client_ctx;
	struct shoal_tls_context_set *set;
	struct shoal_tls_conn server;
	struct shoal_transport *t;
	SSL *client;
	int s, c;
};

/* Everything up to the handshake, which is left to the test. */
static void link_open(struct link *l, int max_version)
{
	fixture_self_signed(&f, "a.test", 365 * DAY, &l->pair);
	ck_assert_int_eq(shoal_tls_keys_create(&l->keys, NULL), 0);
	l->ctx = fixture_server_ctx(&l->pair, l->keys);
	l->set = fixture_set(l->ctx);
	l->client_ctx = fixture_client_ctx(max_version);
	fixture_socketpair(&l->s, &l->c);
	ck_assert_int_eq(shoal_tls_conn_accept(&l->server, l->set, l->s, NULL), 0);
	l->t = &l->server.transport;
	l->client = fixture_client(l->client_ctx, l->c, "a.test", NULL);
}

static void link_handshake(struct link *l)
{
	bool client_ok;

	ck_assert_int_eq(fixture_handshake(&l->server, l->client, &client_ok), SHOAL_TLS_DONE);
	ck_assert(client_ok);
}

static void link_close(struct link *l)
{
	SSL_free(l->client);
	close(l->c);
	shoal_transport_close(l->t);
	shoal_tls_context_set_free(l->set);
	shoal_tls_context_free(l->ctx);
	SSL_CTX_free(l->client_ctx);
	shoal_tls_keys_close(l->keys);
}

/* Bytes queued in the socket fd. */
static int queued(int fd)
{
	int n = -1;

	ck_assert_int_eq(ioctl(fd, FIONREAD, &n), 0);
	return n;
}

static void fill(char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)('a' + (i * 7 + seed) % 26);
}

static void check_full_handshake(int max_version, enum shoal_tls_version version)
{
	struct link l;

	link_open(&l, max_version);
	/* Nothing has come: the step says so at once rather than wait. */
	ck_assert_int_eq(shoal_tls_conn_handshake(&l.server), SHOAL_TLS_NEED_READ);
	ck_assert_int_eq(shoal_transport_waits_for(l.t, SHOAL_TRANSPORT_WRITE),
			 SHOAL_TRANSPORT_READ);
	link_handshake(&l);
	ck_assert(!l.server.resumed);
	ck_assert_int_eq(l.server.version, version);
	ck_assert_int_eq(l.server.fail, SHOAL_TLS_FAIL_NONE);
	/* This kernel has no tls ULP: the kernel never takes the sending over. */
	ck_assert(!l.server.ktls_send);
	ck_assert_int_eq(shoal_tls_conn_handshake(&l.server), SHOAL_TLS_DONE);
	link_close(&l);
}

START_TEST(a_full_handshake_says_its_version_and_that_it_resumed_nothing)
{
	check_full_handshake(TLS1_3_VERSION, SHOAL_TLS_1_3);
	check_full_handshake(TLS1_2_VERSION, SHOAL_TLS_1_2);
}
END_TEST

/* The server's handshake after the client sent raw bytes (and, if close_after, closed). */
static enum shoal_tls_fail fail_after(const char *bytes, size_t len, bool close_after)
{
	struct link l;
	enum shoal_tls_step step = SHOAL_TLS_NEED_READ;
	enum shoal_tls_fail fail;
	char buf[256];
	ssize_t n;

	link_open(&l, TLS1_3_VERSION);
	ck_assert_int_eq(write(l.c, bytes, len), (ssize_t)len);
	if (close_after)
		shutdown(l.c, SHUT_WR);
	for (int i = 0; i < 10 && step != SHOAL_TLS_ERROR; i++)
		step = shoal_tls_conn_handshake(&l.server);
	ck_assert_int_eq(step, SHOAL_TLS_ERROR);
	ck_assert_int_eq(ERR_peek_error(), 0);
	fail = l.server.fail;
	/* Garbage has a reason of OpenSSL's; a peer that left gave none. */
	if (close_after)
		ck_assert_ptr_null(l.server.reason);
	else
		ck_assert_ptr_nonnull(l.server.reason);
	/* Cleanly: at most an alert record, then the end of the stream. */
	shoal_transport_close(l.t);
	n = read(l.c, buf, sizeof(buf));
	if (n > 0) {
		ck_assert_int_eq(buf[0], 0x15);
		n = read(l.c, buf, sizeof(buf));
	}
	ck_assert_int_eq(n, 0);
	SSL_free(l.client);
	close(l.c);
	shoal_tls_context_set_free(l.set);
	shoal_tls_context_free(l.ctx);
	SSL_CTX_free(l.client_ctx);
	shoal_tls_keys_close(l.keys);
	return fail;
}

START_TEST(garbage_instead_of_a_client_hello_fails_as_garbage)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n";
	static const char zeros[64];
	static const char data_first[] = "\x17\x03\x03\x00\x05hello";

	ck_assert_int_eq(fail_after(http, sizeof(http) - 1, false), SHOAL_TLS_FAIL_GARBAGE);
	ck_assert_int_eq(fail_after(zeros, sizeof(zeros), false), SHOAL_TLS_FAIL_GARBAGE);
	ck_assert_int_eq(fail_after(data_first, sizeof(data_first) - 1, false),
			 SHOAL_TLS_FAIL_GARBAGE);
	ck_assert_str_eq(shoal_tls_conn_fail_name(SHOAL_TLS_FAIL_GARBAGE), "garbage");
}
END_TEST

START_TEST(a_client_that_leaves_mid_handshake_fails_as_closed)
{
	ck_assert_int_eq(fail_after("\x16\x03\x01", 3, true), SHOAL_TLS_FAIL_CLOSED);
}
END_TEST

START_TEST(no_version_in_common_fails_as_protocol)
{
	struct tls_pair pair;
	struct shoal_tls_server_params p = { .min_version = SHOAL_TLS_1_3 };
	SSL_CTX *ctx, *client_ctx = fixture_client_ctx(TLS1_2_VERSION);
	struct shoal_tls_context_set *set;
	struct shoal_tls_conn server;
	bool client_ok;
	SSL *client;
	int s, c;

	fixture_self_signed(&f, "a.test", 365 * DAY, &pair);
	p.certificate = pair.cert;
	p.key = pair.key;
	ctx = shoal_tls_context_server(&p, NULL);
	ck_assert_ptr_nonnull(ctx);
	set = fixture_set(ctx);
	fixture_socketpair(&s, &c);
	ck_assert_int_eq(shoal_tls_conn_accept(&server, set, s, NULL), 0);
	client = fixture_client(client_ctx, c, "a.test", NULL);
	ck_assert_int_eq(fixture_handshake(&server, client, &client_ok), SHOAL_TLS_ERROR);
	ck_assert(!client_ok);
	ck_assert_int_eq(server.fail, SHOAL_TLS_FAIL_PROTOCOL);
	SSL_free(client);
	close(c);
	shoal_transport_close(&server.transport);
	shoal_tls_context_set_free(set);
	shoal_tls_context_free(ctx);
	SSL_CTX_free(client_ctx);
}
END_TEST

/* An owner may just read: the read takes the handshake on itself, EAGAIN meanwhile. */
START_TEST(read_and_writev_take_the_handshake_on_themselves)
{
	struct link l;
	char buf[16];
	int r;

	link_open(&l, TLS1_3_VERSION);
	for (int round = 0; round < 20 && (r = SSL_do_handshake(l.client)) != 1; round++) {
		ck_assert_int_eq(shoal_transport_read(l.t, buf, sizeof(buf)), -1);
		ck_assert_int_eq(errno, EAGAIN);
	}
	ck_assert_int_eq(r, 1);
	ck_assert_int_eq(SSL_write(l.client, "ping", 4), 4);
	ck_assert_int_eq(shoal_transport_read(l.t, buf, sizeof(buf)), 4);
	ck_assert(memcmp(buf, "ping", 4) == 0);
	ck_assert(l.server.established);
	link_close(&l);
}
END_TEST

START_TEST(bytes_go_both_ways)
{
	struct link l;
	struct iovec v[2] = { { "hello, ", 7 }, { "client", 6 } };
	char buf[64];

	link_open(&l, TLS1_3_VERSION);
	link_handshake(&l);
	ck_assert_int_eq(shoal_transport_writev(l.t, v, 2, false), 13);
	fixture_client_read(l.client, buf, 13);
	ck_assert(memcmp(buf, "hello, client", 13) == 0);
	ck_assert_int_eq(SSL_write(l.client, "hello, server", 13), 13);
	ck_assert_int_eq(shoal_transport_read(l.t, buf, sizeof(buf)), 13);
	ck_assert(memcmp(buf, "hello, server", 13) == 0);
	ck_assert_int_eq(shoal_transport_read(l.t, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(shoal_transport_waits_for(l.t, SHOAL_TRANSPORT_READ),
			 SHOAL_TRANSPORT_READ);
	link_close(&l);
}
END_TEST

/* The ticket a TLS 1.3 handshake ends with waits in the connection and leaves in the same
 * send as the first answer: nothing reaches the client before that write, then the ticket
 * and the answer's record together, and the client reads the answer with a session it can
 * resume. A TLS 1.2 handshake's last flight goes at once (the client waits for it). */
START_TEST(the_ticket_leaves_with_the_first_answer)
{
	struct link l;
	SSL_SESSION *session;
	char got[5];

	link_open(&l, TLS1_3_VERSION);
	link_handshake(&l);
	ck_assert_int_eq(queued(l.c), 0);
	ck_assert_int_gt(l.server.nheld, 0);
	ck_assert_int_eq(shoal_transport_writev(l.t, &(struct iovec){ "hello", 5 }, 1, false), 5);
	ck_assert_int_eq(l.server.nheld, 0);
	ck_assert_int_gt(queued(l.c), 5 + TLS13_RECORD_OVERHEAD);
	fixture_client_read(l.client, got, 5);
	ck_assert(memcmp(got, "hello", 5) == 0);
	session = SSL_get1_session(l.client);
	ck_assert(session && SSL_SESSION_is_resumable(session));
	SSL_SESSION_free(session);
	link_close(&l);

	link_open(&l, TLS1_2_VERSION);
	link_handshake(&l);
	ck_assert_int_eq(l.server.nheld, 0);
	link_close(&l);
}
END_TEST

/* Sixty-four pieces of 16 bytes leave as one record, not sixty-four; pieces around a large
 * one fill whole records: 30 + 40000 + 30 bytes make 16384, 16384 and 7292. */
START_TEST(small_pieces_are_gathered_into_full_records)
{
	static char big[40000], sent[40060], got[40060];
	struct iovec small[64], mixed[7];
	struct link l;
	char pieces[64][16];
	int before;

	link_open(&l, TLS1_3_VERSION);
	link_handshake(&l);
	for (int i = 0; i < 64; i++) {
		fill(pieces[i], 16, (unsigned)i);
		small[i] = (struct iovec){ pieces[i], 16 };
	}
	/* The session ticket leaves with the first write (the test below): count from there. */
	ck_assert_int_eq(shoal_transport_writev(l.t, small, 1, false), 16);
	fixture_client_read(l.client, got, 16);
	before = queued(l.c);
	ck_assert_int_eq(shoal_transport_writev(l.t, small, 64, false), 1024);
	ck_assert_int_eq(queued(l.c) - before, 1024 + TLS13_RECORD_OVERHEAD);
	fixture_client_read(l.client, got, 1024);
	ck_assert(memcmp(got, pieces, 1024) == 0);

	fill(big, sizeof(big), 3);
	for (int i = 0; i < 3; i++) {
		mixed[i] = (struct iovec){ pieces[i], 10 };
		mixed[4 + i] = (struct iovec){ pieces[10 + i], 10 };
	}
	mixed[3] = (struct iovec){ big, sizeof(big) };
	for (int i = 0, at = 0; i < 7; at += (int)mixed[i].iov_len, i++)
		memcpy(sent + at, mixed[i].iov_base, mixed[i].iov_len);
	ck_assert_int_eq(shoal_transport_writev(l.t, mixed, 7, false), 40060);
	ck_assert_int_eq(queued(l.c), 40060 + 3 * TLS13_RECORD_OVERHEAD); /* ticket read */
	fixture_client_read(l.client, got, sizeof(got));
	ck_assert(memcmp(got, sent, sizeof(sent)) == 0);
	link_close(&l);
}
END_TEST

/* Everything the client can read now, without waiting. */
static size_t client_drain(SSL *client, char *buf, size_t cap)
{
	size_t got = 0, n;

	while (got < cap && SSL_read_ex(client, buf + got, cap - got, &n))
		got += n;
	ERR_clear_error();
	return got;
}

/* A megabyte to a client that reads slowly: the write takes part, then says EAGAIN (waiting
 * to write), and the same bytes offered again go on where it stopped. */
START_TEST(a_large_write_takes_part_then_waits_then_goes_on)
{
	static char out[1 << 20], in[1 << 20];
	int small = 32768;
	size_t sent = 0, got = 0;
	bool short_write = false, again = false;
	struct link l;

	link_open(&l, TLS1_3_VERSION);
	ck_assert_int_eq(setsockopt(l.s, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	link_handshake(&l);
	fill(out, sizeof(out), 1);
	while (sent < sizeof(out)) {
		struct iovec v = { out + sent, sizeof(out) - sent };
		ssize_t n = shoal_transport_writev(l.t, &v, 1, false);

		if (n > 0) {
			short_write |= (size_t)n < v.iov_len;
			sent += (size_t)n;
			continue;
		}
		ck_assert_int_eq(errno, EAGAIN);
		ck_assert_int_eq(shoal_transport_waits_for(l.t, SHOAL_TRANSPORT_WRITE),
				 SHOAL_TRANSPORT_WRITE);
		/* A record is under way: an offer shorter than it is refused, nothing lost. */
		ck_assert_int_eq(shoal_transport_writev(l.t, &(struct iovec){ out + sent, 1 }, 1,
							false),
				 -1);
		ck_assert_int_eq(errno, EINVAL);
		again = true;
		got += client_drain(l.client, in + got, sizeof(in) - got);
	}
	ck_assert(short_write);
	ck_assert(again);
	fixture_client_read(l.client, in + got, sizeof(in) - got);
	ck_assert(memcmp(in, out, sizeof(out)) == 0);
	link_close(&l);
}
END_TEST

/* A record read into a small buffer leaves the rest inside, with the socket empty: pending
 * says so, and the next read returns it without any event. */
START_TEST(bytes_held_inside_are_pending)
{
	char record[1000], buf[2000];
	struct link l;

	link_open(&l, TLS1_3_VERSION);
	link_handshake(&l);
	fill(record, sizeof(record), 2);
	ck_assert_int_eq(SSL_write(l.client, record, sizeof(record)), (int)sizeof(record));
	ck_assert(!shoal_transport_pending(l.t));
	ck_assert_int_eq(shoal_transport_read(l.t, buf, 100), 100);
	ck_assert_int_eq(queued(l.s), 0);
	ck_assert(shoal_transport_pending(l.t));
	ck_assert_int_eq(shoal_transport_read(l.t, buf + 100, sizeof(buf) - 100), 900);
	ck_assert(memcmp(buf, record, sizeof(record)) == 0);
	ck_assert(!shoal_transport_pending(l.t));
	ck_assert_int_eq(shoal_transport_read(l.t, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	link_close(&l);
}
END_TEST

/* Three records in the socket: one read returns them all, as TCP returns what it has. */
START_TEST(a_read_fills_the_buffer_across_records)
{
	char buf[4096];
	struct link l;

	link_open(&l, TLS1_3_VERSION);
	link_handshake(&l);
	ck_assert_int_eq(SSL_write(l.client, "one|", 4), 4);
	ck_assert_int_eq(SSL_write(l.client, "two|", 4), 4);
	ck_assert_int_eq(SSL_write(l.client, "three", 5), 5);
	ck_assert_int_eq(shoal_transport_read(l.t, buf, sizeof(buf)), 13);
	ck_assert(memcmp(buf, "one|two|three", 13) == 0);
	link_close(&l);
}
END_TEST

/* A read(2) that emptied the socket is the last of the turn: bytes that come after it raise
 * an event of their own (edge-triggered), so a read that follows in the same turn
 * (read_follows) says EAGAIN without a read(2), and leaves them in the socket for the
 * next turn, whose read takes them. */
START_TEST(a_read_after_one_that_emptied_the_socket_waits_for_the_next_turn)
{
	char buf[64];
	struct link l;

	link_open(&l, TLS1_3_VERSION);
	link_handshake(&l);
	ck_assert_int_eq(SSL_write(l.client, "one", 3), 3);
	ck_assert_int_eq(shoal_transport_read(l.t, buf, sizeof(buf)), 3);
	ck_assert_int_eq(SSL_write(l.client, "two", 3), 3);
	shoal_tls_conn_read_follows(&l.server);
	errno = 0;
	ck_assert_int_eq(shoal_transport_read(l.t, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_gt(queued(l.s), 0); /* not read(2) */
	ck_assert_int_eq(shoal_transport_read(l.t, buf, sizeof(buf)), 3);
	ck_assert(memcmp(buf, "two", 3) == 0);
	ck_assert_int_eq(queued(l.s), 0);
	link_close(&l);
}
END_TEST

/* The peer's close_notify behind its last bytes, its TCP connection still open: the read that
 * returns the bytes cannot return the end too, and no event will tell of it, so pending says
 * it is there and the next read returns it. */
START_TEST(an_end_read_behind_the_last_bytes_is_pending)
{
	char buf[64];
	struct link l;

	link_open(&l, TLS1_3_VERSION);
	link_handshake(&l);
	ck_assert_int_eq(SSL_write(l.client, "last", 4), 4);
	ck_assert_int_eq(SSL_shutdown(l.client), 0); /* close_notify sent, the socket open */
	ck_assert(!shoal_transport_pending(l.t));
	ck_assert_int_eq(shoal_transport_read(l.t, buf, sizeof(buf)), 4);
	ck_assert(memcmp(buf, "last", 4) == 0);
	ck_assert_int_eq(queued(l.s), 0);
	ck_assert(shoal_transport_pending(l.t));
	ck_assert_int_eq(shoal_transport_read(l.t, buf, sizeof(buf)), 0);
	link_close(&l);
}
END_TEST

/* shutdown_write sends close_notify and ends our direction; the client may still send, and
 * its own close_notify reads as the end. */
START_TEST(shutdown_write_sends_close_notify_and_reads_go_on)
{
	char buf[16];
	struct link l;

	link_open(&l, TLS1_3_VERSION);
	link_handshake(&l);
	ck_assert_int_eq(shoal_transport_shutdown_write(l.t), 0);
	ck_assert_int_eq(SSL_read(l.client, buf, sizeof(buf)), 0);
	ck_assert_int_eq(SSL_get_error(l.client, 0), SSL_ERROR_ZERO_RETURN);
	ck_assert_int_eq(recv(l.c, buf, sizeof(buf), MSG_PEEK), 0); /* and the socket's end */
	ck_assert_int_eq(SSL_write(l.client, "late", 4), 4);
	ck_assert_int_eq(shoal_transport_read(l.t, buf, sizeof(buf)), 4);
	ck_assert(memcmp(buf, "late", 4) == 0);
	ck_assert_int_eq(SSL_shutdown(l.client), 1);
	ck_assert_int_eq(shoal_transport_read(l.t, buf, sizeof(buf)), 0);
	link_close(&l);
}
END_TEST

/* Without kernel TLS (this kernel has no tls ULP) sendfile says EOPNOTSUPP, sends nothing,
 * and shoal_out copies the body through writev: a head and 100000 bytes of a file. */
START_TEST(without_kernel_tls_a_file_is_copied_through_writev)
{
	static char body[100000], got[100000 + 5];
	char path[PATH_MAX], scratch[16384];
	struct shoal_out o;
	enum shoal_out_result r;
	struct link l;
	off_t off = 0;
	size_t avail, have = 0;
	int fd, before;

	fill(body, sizeof(body), 4);
	fixture_path(&f, "body", path);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	ck_assert_int_eq(write(fd, body, sizeof(body)), (ssize_t)sizeof(body));
	link_open(&l, TLS1_3_VERSION);
	link_handshake(&l);
	before = queued(l.c); /* the session ticket */
	ck_assert_int_eq(shoal_transport_sendfile(l.t, fd, &off, sizeof(body)), -1);
	ck_assert_int_eq(errno, EOPNOTSUPP);
	ck_assert_int_eq(off, 0);
	ck_assert_int_eq(queued(l.c), before);
	shoal_out_init(&o, scratch, sizeof(scratch));
	memcpy(shoal_out_scratch(&o, &avail), "head|", 5);
	shoal_out_commit(&o, 5);
	shoal_out_file(&o, fd, 0, sizeof(body), NULL);
	while ((r = shoal_out_flush(&o, l.t)) != SHOAL_OUT_DONE) {
		ck_assert_int_ne(r, SHOAL_OUT_ERROR);
		have += client_drain(l.client, got + have, sizeof(got) - have);
	}
	fixture_client_read(l.client, got + have, sizeof(got) - have);
	ck_assert(memcmp(got, "head|", 5) == 0);
	ck_assert(memcmp(got + 5, body, sizeof(body)) == 0);
	link_close(&l);
}
END_TEST

/* In a process of its own, as a worker: a context made there over keys serves one
 * handshake on fd, then one byte (behind which the client finds its ticket). Exit status:
 * 0 a full handshake, 1 a resumed one, 2 a failure. */
static int serve_one(const struct tls_pair *pair, const struct shoal_tls_keys *keys, int fd)
{
	struct shoal_tls_server_params p = { .certificate = pair->cert, .key = pair->key,
					     .keys = keys };
	SSL_CTX *ctx = shoal_tls_context_server(&p, NULL);
	struct shoal_tls_context_set *set = ctx ? shoal_tls_context_set_new(ctx, NULL) : NULL;
	struct iovec bang = { "!", 1 };
	enum shoal_tls_step step;
	struct shoal_tls_conn c;

	if (!set || shoal_tls_conn_accept(&c, set, fd, NULL) < 0)
		return 2;
	while ((step = shoal_tls_conn_handshake(&c)) == SHOAL_TLS_NEED_READ ||
	       step == SHOAL_TLS_NEED_WRITE) {
		struct pollfd pfd = { fd, step == SHOAL_TLS_NEED_READ ? POLLIN : POLLOUT, 0 };
		if (poll(&pfd, 1, 5000) != 1)
			return 2;
	}
	if (step != SHOAL_TLS_DONE || shoal_transport_writev(&c.transport, &bang, 1, false) != 1)
		return 2;
	return c.resumed ? 1 : 0;
}

/* The client's side in this process: a handshake offering session (NULL: none), then the
 * server's byte. Returns the session it ends with; *reused: whether it resumed. */
static SSL_SESSION *client_one(SSL_CTX *ctx, int fd, SSL_SESSION *session, bool *reused)
{
	SSL *ssl = fixture_client(ctx, fd, "a.test", session);
	SSL_SESSION *now;
	char byte;
	int r;

	while ((r = SSL_do_handshake(ssl)) != 1) {
		int e = SSL_get_error(ssl, r);
		struct pollfd pfd = { fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, 0 };
		ck_assert(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE);
		ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	}
	fixture_client_read(ssl, &byte, 1);
	*reused = SSL_session_reused(ssl) == 1;
	now = SSL_get1_session(ssl);
	fixture_client_free(ssl);
	return now;
}

/* One connection served by another process; asserts what both ends saw, returns the
 * client's session. */
static SSL_SESSION *resume_elsewhere(struct link *l, SSL_SESSION *session, bool resumed)
{
	SSL_SESSION *now;
	int s, c, status;
	bool reused;
	pid_t pid;

	fixture_socketpair(&s, &c);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(serve_one(&l->pair, l->keys, s));
	close(s);
	now = client_one(l->client_ctx, c, session, &reused);
	close(c);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), resumed ? 1 : 0);
	ck_assert_int_eq(reused, resumed);
	return now;
}

/* A session from a context of this process resumes on a context of another process that
 * shares the ring; after one rotation still (and its ticket is renewed), after two not. */
static void check_resumption_across_processes(int max_version)
{
	SSL_SESSION *first, *renewed, *s;
	struct iovec bang = { "!", 1 };
	struct link l;
	char byte;

	link_open(&l, max_version);
	link_handshake(&l);
	ck_assert_int_eq(shoal_transport_writev(l.t, &bang, 1, false), 1);
	fixture_client_read(l.client, &byte, 1);
	first = SSL_get1_session(l.client);
	ck_assert(SSL_SESSION_is_resumable(first));

	SSL_SESSION_free(resume_elsewhere(&l, first, true));
	ck_assert_int_eq(shoal_tls_keys_rotate(l.keys, NULL), 0);
	renewed = resume_elsewhere(&l, first, true);
	ck_assert_int_eq(shoal_tls_keys_rotate(l.keys, NULL), 0);
	s = resume_elsewhere(&l, first, false);
	SSL_SESSION_free(s);
	s = resume_elsewhere(&l, renewed, true);
	SSL_SESSION_free(s);
	SSL_SESSION_free(renewed);
	SSL_SESSION_free(first);
	link_close(&l);
}

START_TEST(tls13_resumes_in_another_process_through_one_rotation)
{
	check_resumption_across_processes(TLS1_3_VERSION);
}
END_TEST

START_TEST(tls12_tickets_resume_in_another_process_through_one_rotation)
{
	check_resumption_across_processes(TLS1_2_VERSION);
}
END_TEST

/* The certificate follows the name (SNI), the tickets stay the one ring's: a session made
 * under another context than the fallback resumes. */
START_TEST(a_session_resumes_after_the_name_switched_the_context)
{
	struct shoal_tls_keys *keys = NULL;
	struct tls_pair a, b;
	SSL_CTX *ctx_a, *ctx_b, *client_ctx = fixture_client_ctx(TLS1_3_VERSION);
	struct shoal_tls_context_set *set;
	SSL_SESSION *session = NULL;
	char cn[64];

	ck_assert_int_eq(shoal_tls_keys_create(&keys, NULL), 0);
	fixture_self_signed(&f, "a.test", 365 * DAY, &a);
	fixture_self_signed(&f, "b.test", 365 * DAY, &b);
	ctx_a = fixture_server_ctx(&a, keys);
	ctx_b = fixture_server_ctx(&b, keys);
	set = fixture_set(ctx_a);
	ck_assert_int_eq(shoal_tls_context_set_add(set, "b.test", ctx_b, NULL), 0);
	for (int i = 0; i < 2; i++) {
		struct iovec bang = { "!", 1 };
		struct shoal_tls_conn server;
		bool client_ok;
		SSL *client;
		char byte;
		int s, c;

		fixture_socketpair(&s, &c);
		ck_assert_int_eq(shoal_tls_conn_accept(&server, set, s, NULL), 0);
		client = fixture_client(client_ctx, c, "b.test", session);
		ck_assert_int_eq(fixture_handshake(&server, client, &client_ok), SHOAL_TLS_DONE);
		ck_assert_int_eq(server.resumed, i == 1);
		ck_assert_int_eq(shoal_transport_writev(&server.transport, &bang, 1, false), 1);
		fixture_client_read(client, &byte, 1);
		fixture_peer_cn(client, cn, sizeof(cn));
		ck_assert_str_eq(cn, "b.test");
		SSL_SESSION_free(session);
		session = SSL_get1_session(client);
		fixture_client_free(client);
		close(c);
		shoal_transport_close(&server.transport);
	}
	SSL_SESSION_free(session);
	shoal_tls_context_set_free(set);
	shoal_tls_context_free(ctx_a);
	shoal_tls_context_free(ctx_b);
	SSL_CTX_free(client_ctx);
	shoal_tls_keys_close(keys);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tls_conn");
	TCase *handshake = tcase_create("handshake");
	TCase *io = tcase_create("io");
	TCase *resume = tcase_create("resume");

	tcase_add_checked_fixture(handshake, setup, teardown);
	tcase_add_checked_fixture(io, setup, teardown);
	tcase_add_checked_fixture(resume, setup, teardown);
	tcase_add_test(handshake, a_full_handshake_says_its_version_and_that_it_resumed_nothing);
	tcase_add_test(handshake, garbage_instead_of_a_client_hello_fails_as_garbage);
	tcase_add_test(handshake, a_client_that_leaves_mid_handshake_fails_as_closed);
	tcase_add_test(handshake, no_version_in_common_fails_as_protocol);
	tcase_add_test(handshake, read_and_writev_take_the_handshake_on_themselves);
	tcase_add_test(io, bytes_go_both_ways);
	tcase_add_test(io, the_ticket_leaves_with_the_first_answer);
	tcase_add_test(io, small_pieces_are_gathered_into_full_records);
	tcase_add_test(io, a_large_write_takes_part_then_waits_then_goes_on);
	tcase_add_test(io, bytes_held_inside_are_pending);
	tcase_add_test(io, a_read_fills_the_buffer_across_records);
	tcase_add_test(io, a_read_after_one_that_emptied_the_socket_waits_for_the_next_turn);
	tcase_add_test(io, an_end_read_behind_the_last_bytes_is_pending);
	tcase_add_test(io, shutdown_write_sends_close_notify_and_reads_go_on);
	tcase_add_test(io, without_kernel_tls_a_file_is_copied_through_writev);
	tcase_add_test(resume, tls13_resumes_in_another_process_through_one_rotation);
	tcase_add_test(resume, tls12_tickets_resume_in_another_process_through_one_rotation);
	tcase_add_test(resume, a_session_resumes_after_the_name_switched_the_context);
	suite_add_tcase(s, handshake);
	suite_add_tcase(s, io);
	suite_add_tcase(s, resume);
	return shoal_check_run(s);
}
