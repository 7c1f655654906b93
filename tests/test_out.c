#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shoal/base/ref.h"
#include "shoal/handler/file_cache.h"
#include "shoal/net/out.h"
#include "shoal/net/transport.h"

#include "check_run.h"

static void pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
}

/* Flushes through plain TCP over sock, as a worker does. */
static enum shoal_out_result flush(struct shoal_out *o, int sock)
{
	return shoal_out_flush(o, SHOAL_TRANSPORT_TCP(sock));
}

static size_t drain(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	while (got < cap && (n = read(fd, buf + got, cap - got)) > 0)
		got += (size_t)n;
	return got;
}

START_TEST(batch_goes_out_in_order)
{
	char scratch[64], got[128];
	struct shoal_out o;
	size_t avail;
	int sv[2];
	char *p;

	pair(sv);
	shoal_out_init(&o, scratch, sizeof(scratch));
	ck_assert(shoal_out_empty(&o));
	p = shoal_out_scratch(&o, &avail);
	ck_assert_uint_eq(avail, sizeof(scratch));
	memcpy(p, "head1|", 6);
	shoal_out_commit(&o, 6);
	shoal_out_add(&o, "static|", 7, NULL);
	p = shoal_out_scratch(&o, &avail);
	memcpy(p, "head2|", 6);
	shoal_out_commit(&o, 6);
	ck_assert_uint_eq(o.bytes, 19);
	ck_assert(!shoal_out_empty(&o));
	ck_assert_int_eq(flush(&o, sv[0]), SHOAL_OUT_DONE);
	ck_assert(shoal_out_empty(&o));
	ck_assert_uint_eq(drain(sv[1], got, sizeof(got)), 19);
	ck_assert(memcmp(got, "head1|static|head2|", 19) == 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(adjacent_pieces_merge)
{
	char scratch[64];
	struct shoal_out o;
	size_t avail;
	char *p;

	shoal_out_init(&o, scratch, sizeof(scratch));
	p = shoal_out_scratch(&o, &avail);
	memcpy(p, "abc", 3);
	shoal_out_commit(&o, 3);
	p = shoal_out_scratch(&o, &avail);
	memcpy(p, "def", 3);
	shoal_out_commit(&o, 3);
	ck_assert_uint_eq(o.niov, 1);
	ck_assert_uint_eq(o.iov[0].iov_len, 6);
}
END_TEST

START_TEST(room_accounts_for_pieces_scratch_and_file)
{
	char scratch[100];
	struct shoal_out o;
	int fd = open("/dev/null", O_RDONLY);

	shoal_out_init(&o, scratch, sizeof(scratch));
	ck_assert(shoal_out_room(&o, SHOAL_OUT_IOV, 100));
	ck_assert(!shoal_out_room(&o, SHOAL_OUT_IOV + 1, 0));
	ck_assert(!shoal_out_room(&o, 1, 101));
	shoal_out_file(&o, fd, 0, 0, NULL);
	ck_assert(!shoal_out_room(&o, 1, 0)); /* nothing may follow a file body */
	shoal_out_reset(&o);                 /* closes fd */
	ck_assert(shoal_out_empty(&o));
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
}
END_TEST

/* A client that does not read: the flush stops with AGAIN and resumes where it stopped. */
START_TEST(partial_writes_resume_with_file_body)
{
	static char big[200000], got[300000];
	char scratch[64], path[] = "/tmp/shoal-out-XXXXXX";
	int file = mkstemp(path), sv[2], sndbuf = 4096;
	struct shoal_out o;
	size_t total = 0, expect;
	enum shoal_out_result r;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	ck_assert_int_eq(write(file, big, 50000), 50000);
	unlink(path);
	pair(sv);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	shoal_out_init(&o, scratch, sizeof(scratch));
	shoal_out_add(&o, big, sizeof(big), NULL);
	shoal_out_file(&o, file, 100, 49900, NULL);
	expect = sizeof(big) + 49900;
	ck_assert_int_eq(flush(&o, sv[0]), SHOAL_OUT_AGAIN);
	do {
		total += drain(sv[1], got + total, sizeof(got) - total);
		r = flush(&o, sv[0]);
	} while (r == SHOAL_OUT_AGAIN);
	ck_assert_int_eq(r, SHOAL_OUT_DONE);
	total += drain(sv[1], got + total, sizeof(got) - total);
	ck_assert_uint_eq(total, expect);
	ck_assert(memcmp(got, big, sizeof(big)) == 0);
	ck_assert(memcmp(got + sizeof(big), big + 100, 49900) == 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A body from the open-file cache: the batch holds the entry, never closes its descriptor;
 * an entry dropped meanwhile closes once the body is out. */
START_TEST(a_cached_file_body_is_held_not_closed)
{
	static char body[1000], got[2000];
	char scratch[16], path[] = "/tmp/shoal-out-XXXXXX";
	int file = mkstemp(path), sv[2], owner;
	struct shoal_file_cache cache;
	struct shoal_cache_entry *e;
	struct shoal_out o;
	struct stat st;

	memset(body, 'z', sizeof(body));
	ck_assert_int_eq(write(file, body, sizeof(body)), (ssize_t)sizeof(body));
	unlink(path);
	ck_assert_int_eq(fstat(file, &st), 0);
	ck_assert_int_eq(shoal_file_cache_init(&cache, 4, 1 << 20, 1), 0);
	e = shoal_file_cache_put_fd(&cache, &owner, "/f", 2, &st, file);
	ck_assert_ptr_nonnull(e);

	shoal_out_init(&o, scratch, sizeof(scratch));
	shoal_out_file(&o, e->fd, 0, 1000, &e->ref);
	shoal_out_reset(&o); /* a connection closed mid-body */
	ck_assert_uint_eq(e->ref.count, 0);
	ck_assert_int_ge(fcntl(file, F_GETFD), 0);

	pair(sv);
	shoal_out_file(&o, e->fd, 0, 1000, &e->ref);
	shoal_file_cache_drop(&cache, e); /* the file changed on disk */
	ck_assert_int_ge(fcntl(file, F_GETFD), 0);
	ck_assert_int_eq(flush(&o, sv[0]), SHOAL_OUT_DONE);
	ck_assert_int_eq(fcntl(file, F_GETFD), -1);
	ck_assert_uint_eq(drain(sv[1], got, sizeof(got)), sizeof(body));
	ck_assert(memcmp(got, body, sizeof(body)) == 0);
	close(sv[0]);
	close(sv[1]);
	shoal_file_cache_free(&cache);
}
END_TEST

/* A ref whose freeing is seen: the test's stand-in for a cache entry. */
struct seen_ref {
	struct shoal_ref ref;
	bool freed;
};

static void seen_free(struct shoal_ref *r)
{
	((struct seen_ref *)r)->freed = true;
}

START_TEST(rollback_takes_back_what_followed_the_mark)
{
	char scratch[64], got[64];
	struct seen_ref held = { .ref = { .free = seen_free, .orphaned = true } };
	struct shoal_out_mark m;
	struct shoal_out o;
	size_t avail;
	int sv[2], file;
	char *p;

	pair(sv);
	shoal_out_init(&o, scratch, sizeof(scratch));
	p = shoal_out_scratch(&o, &avail);
	memcpy(p, "first|", 6);
	shoal_out_commit(&o, 6);
	shoal_out_note(&o, 200, 6);
	shoal_out_mark(&o, &m);
	/* Adjacent in the scratch space: merged into the piece the mark saw last. */
	p = shoal_out_scratch(&o, &avail);
	memcpy(p, "second|", 7);
	shoal_out_commit(&o, 7);
	shoal_out_add(&o, "held|", 5, &held.ref);
	file = open("/dev/null", O_RDONLY);
	ck_assert_int_ge(file, 0);
	shoal_out_file(&o, file, 0, 0, NULL);
	shoal_out_note(&o, 405, 12);
	ck_assert(!held.freed);

	shoal_out_rollback(&o, &m);
	ck_assert(held.freed);                           /* its last holder let go */
	ck_assert_int_eq(fcntl(file, F_GETFD), -1);      /* the owned file body is closed */
	ck_assert_uint_eq(o.bytes, 6);
	ck_assert_int_eq(o.last_status, 200);
	ck_assert(shoal_out_room(&o, 1, sizeof(scratch) - 6));
	p = shoal_out_scratch(&o, &avail);
	memcpy(p, "error", 5);
	shoal_out_commit(&o, 5);
	ck_assert_int_eq(flush(&o, sv[0]), SHOAL_OUT_DONE);
	ck_assert_uint_eq(drain(sv[1], got, sizeof(got)), 11);
	ck_assert(memcmp(got, "first|error", 11) == 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A transport that takes every byte and notes what each writev said of what follows. */
static bool mores[8];
static int nwrites;

static ssize_t noting_writev(struct shoal_transport *t, const struct iovec *iov, int iovcnt,
			     bool more)
{
	size_t n = 0;

	(void)t;
	for (int i = 0; i < iovcnt; i++)
		n += iov[i].iov_len;
	mores[nwrites++ % 8] = more;
	return (ssize_t)n;
}

/* A batch after which the connection closes says more follows on every piece (its last
 * bytes then leave with the FIN of the close); otherwise the last piece says nothing
 * follows. The flag lasts one batch. */
START_TEST(a_batch_that_ends_the_stream_says_more_follows)
{
	static const struct shoal_transport_ops ops = { .writev = noting_writev };
	struct shoal_transport t = { .ops = &ops, .fd = -1 };
	char scratch[64];
	struct shoal_out o;

	shoal_out_init(&o, scratch, sizeof(scratch));
	shoal_out_add(&o, "answer", 6, NULL);
	nwrites = 0;
	ck_assert_int_eq(shoal_out_flush(&o, &t), SHOAL_OUT_DONE);
	ck_assert_int_eq(nwrites, 1);
	ck_assert(!mores[0]);

	shoal_out_add(&o, "last answer", 11, NULL);
	o.ends_stream = true;
	nwrites = 0;
	ck_assert_int_eq(shoal_out_flush(&o, &t), SHOAL_OUT_DONE);
	ck_assert_int_eq(nwrites, 1);
	ck_assert(mores[0]);
	ck_assert(!o.ends_stream);
}
END_TEST

START_TEST(peer_gone_is_an_error)
{
	char scratch[16];
	struct shoal_out o;
	int sv[2];

	pair(sv);
	close(sv[1]);
	shoal_out_init(&o, scratch, sizeof(scratch));
	shoal_out_add(&o, "x", 1, NULL);
	ck_assert_int_eq(flush(&o, sv[0]), SHOAL_OUT_ERROR);
	close(sv[0]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("out");

	signal(SIGPIPE, SIG_IGN); /* as in a worker */
	TCase *tc = tcase_create("out");

	tcase_add_test(tc, batch_goes_out_in_order);
	tcase_add_test(tc, adjacent_pieces_merge);
	tcase_add_test(tc, room_accounts_for_pieces_scratch_and_file);
	tcase_add_test(tc, partial_writes_resume_with_file_body);
	tcase_add_test(tc, a_cached_file_body_is_held_not_closed);
	tcase_add_test(tc, rollback_takes_back_what_followed_the_mark);
	tcase_add_test(tc, peer_gone_is_an_error);
	tcase_add_test(tc, a_batch_that_ends_the_stream_says_more_follows);
	suite_add_tcase(s, tc);
	return shoal_check_run(s);
}
