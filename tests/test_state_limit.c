#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shoal/state/limit.h"
#include "shoal/state/state.h"

#include "check_run.h"
#include "limit_fixture.h"

#define SEC 1000000ull

struct fixture {
	struct limit_state s;
};

static struct shoal_state_limit_zone *rate_zone(struct fixture *f, double rate, uint32_t burst,
						uint32_t size)
{
	struct shoal_state_limit_spec spec = {
		.name = "perip", .key = "client_ip", .size = size, .rate = rate, .burst = burst,
	};

	return limit_state_zone_add(&f->s, &spec);
}

static struct shoal_state_limit_zone *conn_zone(struct fixture *f, uint32_t conn, uint32_t size)
{
	struct shoal_state_limit_spec spec = {
		.name = "inflight", .key = "client_ip", .size = size, .conn = conn,
	};

	return limit_state_zone_add(&f->s, &spec);
}

static bool take(struct fixture *f, struct shoal_state_limit_zone *z, const char *key,
		 uint64_t now, uint64_t *retry)
{
	uint64_t h = shoal_state_limit_hash(&f->s.st, key, strlen(key));
	uint64_t ignored;

	return shoal_state_limit_take(z, h, key, strlen(key), now, retry ? retry : &ignored);
}

static bool acquire(struct fixture *f, struct shoal_state_limit_zone *z, const char *key,
		    struct shoal_state_limit_hold *hold)
{
	uint64_t h = shoal_state_limit_hash(&f->s.st, key, strlen(key));

	return shoal_state_limit_acquire(z, h, key, strlen(key), 0, hold);
}

static struct shoal_state_limit_counts counts(const struct shoal_state_limit_zone *z)
{
	struct shoal_state_limit_counts c;

	shoal_state_limit_counts(z, &c);
	return c;
}

/* The only bucket of a zone of size 8. */
static struct shoal_state_limit_bucket *only_bucket(struct fixture *f,
						    const struct shoal_state_limit_zone *z)
{
	ck_assert_uint_eq(z->buckets, 1);
	return (struct shoal_state_limit_bucket *)((char *)f->s.st.hdr + z->table_offset);
}

START_TEST(file_has_a_directory_and_a_sparse_area)
{
	struct fixture f;
	struct stat sb;
	const struct shoal_state_header *h;

	limit_state_open(&f.s, "limit");
	h = f.s.st.hdr;
	ck_assert_uint_eq(h->version, 3);
	ck_assert_uint_eq(h->zone_room, 256);
	ck_assert_uint_eq(h->zone_entry_size, 384);
	ck_assert_uint_eq(h->zone_offset, 128 + 1024 * 448);
	ck_assert_uint_eq(h->limit_bucket_size, 576);
	ck_assert_uint_eq(h->limit_offset % 4096, 0);
	ck_assert_uint_ge(h->limit_offset, h->zone_offset + 256 * 384);
	ck_assert_uint_eq(h->limit_offset + h->limit_size, 256u << 20);
	ck_assert_uint_eq(h->limit_used, 0);
	ck_assert_uint_eq(shoal_state_limit_count(&f.s.st), 0);
	ck_assert_int_eq(stat(f.s.path, &sb), 0);
	ck_assert_uint_eq((uint64_t)sb.st_size, 256u << 20);
	/* Only what comes before the tables is allocated. */
	ck_assert_uint_le((uint64_t)sb.st_blocks * 512, h->limit_offset + 65536);
	rate_zone(&f, 10, 0, 65536);
	ck_assert_int_eq(stat(f.s.path, &sb), 0);
	ck_assert_uint_ge((uint64_t)sb.st_blocks * 512, h->limit_offset + 8192 * 576);
	limit_state_close(&f.s);
}
END_TEST

/* SipHash-2-4's published vectors: key 00..0f, messages 00 01 02 .. of length 0 and 15. */
START_TEST(hash_is_siphash_keyed_with_the_seed)
{
	struct fixture f;
	unsigned char msg[15];
	uint64_t other;

	limit_state_open(&f.s, "limit");
	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)i;
	other = shoal_state_limit_hash(&f.s.st, msg, sizeof(msg));
	f.s.st.hdr->hash_seed[0] = 0x0706050403020100ull;
	f.s.st.hdr->hash_seed[1] = 0x0f0e0d0c0b0a0908ull;
	ck_assert_uint_eq(shoal_state_limit_hash(&f.s.st, msg, 0), 0x726fdb47dd0e0e31ull);
	ck_assert_uint_eq(shoal_state_limit_hash(&f.s.st, msg, 15), 0xa129ca6149be45e5ull);
	ck_assert_uint_ne(other, 0xa129ca6149be45e5ull);
	limit_state_close(&f.s);
}
END_TEST

/* Requests at irregular times: never more than 1 + burst + elapsed * rate by any time, and
 * returns how many passed. */
static unsigned hammer(struct fixture *f, struct shoal_state_limit_zone *z, double rate,
		       uint32_t burst, uint64_t until)
{
	unsigned passed = 0, seed = 7;

	for (uint64_t now = 0; now < until; now += seed % 3000) {
		passed += take(f, z, "10.0.0.1", now, NULL);
		ck_assert_uint_le(passed, 1 + burst + (uint64_t)(now * rate / SEC));
		seed = seed * 1103515245u + 12345u;
	}
	return passed;
}

START_TEST(rate_without_burst_is_exact)
{
	struct fixture f;
	struct shoal_state_limit_zone *z;
	unsigned passed = 0;

	limit_state_open(&f.s, "limit");
	z = rate_zone(&f, 100, 0, 1024);
	/* Asked every millisecond for 10 s: one every 10 ms, from the first. */
	for (uint64_t now = 0; now < 10 * SEC; now += 1000)
		passed += take(&f, z, "10.0.0.1", now, NULL);
	ck_assert_uint_eq(passed, 1000);
	ck_assert_uint_eq(counts(z).passed, 1000);
	ck_assert_uint_eq(counts(z).rejected, 9000);
	/* A key of its own, asked at irregular times. */
	z = rate_zone(&f, 100, 0, 1024);
	/* Without burst, the time a request comes late is lost. */
	passed = hammer(&f, z, 100, 0, 10 * SEC);
	ck_assert_uint_ge(passed, 800);
	limit_state_close(&f.s);
}
END_TEST

START_TEST(rate_with_burst_passes_it_at_once_then_the_rate)
{
	struct fixture f;
	struct shoal_state_limit_zone *z;
	unsigned passed = 0;

	limit_state_open(&f.s, "limit");
	z = rate_zone(&f, 100, 20, 1024);
	for (int i = 0; i < 30; i++)
		passed += take(&f, z, "10.0.0.1", 0, NULL);
	ck_assert_uint_eq(passed, 21);
	for (uint64_t now = 1000; now <= SEC; now += 1000)
		passed += take(&f, z, "10.0.0.1", now, NULL);
	ck_assert_uint_eq(passed, 1 + 20 + 100);
	z = rate_zone(&f, 100, 20, 1024);
	ck_assert_uint_ge(hammer(&f, z, 100, 20, 10 * SEC), 1010);
	limit_state_close(&f.s);
}
END_TEST

/* Refused with retry: refused again a microsecond before, passes at it. */
static void expect_retry(struct fixture *f, struct shoal_state_limit_zone *z, uint64_t now,
			 uint64_t want)
{
	uint64_t retry = 0;

	ck_assert(!take(f, z, "k", now, &retry));
	ck_assert_uint_eq(retry, want);
	ck_assert(!take(f, z, "k", now + retry - 1, &retry));
	ck_assert_uint_eq(retry, 1);
	ck_assert(take(f, z, "k", now + want, NULL));
}

START_TEST(retry_after_is_when_a_request_would_pass)
{
	struct fixture f;
	struct shoal_state_limit_zone *z;

	limit_state_open(&f.s, "limit");
	z = rate_zone(&f, 100, 0, 1024);
	ck_assert(take(&f, z, "k", 0, NULL));
	expect_retry(&f, z, 3000, 7000);
	z = rate_zone(&f, 0.5, 2, 1024); /* T = 2 s, tau = 4 s */
	for (int i = 0; i < 3; i++)
		ck_assert(take(&f, z, "k", 0, NULL));
	expect_retry(&f, z, 0, 2 * SEC);
	expect_retry(&f, z, 2 * SEC + 500000, 1500000);
	limit_state_close(&f.s);
}
END_TEST

START_TEST(parameters_apply_to_the_next_request)
{
	struct fixture f;
	struct shoal_state_limit_zone *z;
	struct shoal_state_limit_spec faster = {
		.name = "perip", .key = "client_ip", .size = 1024, .rate = 1000, .burst = 0,
	};

	limit_state_open(&f.s, "limit");
	z = rate_zone(&f, 10, 0, 1024);
	ck_assert(take(&f, z, "k", 0, NULL));
	ck_assert(!take(&f, z, "k", 50000, NULL));
	ck_assert_uint_eq(z->rate_milli, 10000);
	shoal_state_limit_set(z, &faster);
	ck_assert_uint_eq(z->interval_us, 1000);
	ck_assert_uint_eq(z->rate_milli, 1000000);
	/* The key's tat (100 ms) stays: it passes at 100 ms, then every millisecond. */
	ck_assert(!take(&f, z, "k", 99999, NULL));
	ck_assert(take(&f, z, "k", 100000, NULL));
	ck_assert(!take(&f, z, "k", 100999, NULL));
	ck_assert(take(&f, z, "k", 101000, NULL));
	limit_state_close(&f.s);
}
END_TEST

/* 100,000 keys, one every 20 us for 2 s, through a zone of 1024 keys; the first key asked
 * every 10 ms at 10 per second passes once every 100 ms, no more. */
START_TEST(eviction_keeps_a_hot_key_limited)
{
	struct fixture f;
	struct shoal_state_limit_zone *z;
	unsigned hot = 0;
	char key[32];

	limit_state_open(&f.s, "limit");
	z = rate_zone(&f, 10, 0, 1024);
	for (unsigned i = 0; i < 100000; i++) {
		uint64_t now = (uint64_t)i * 20;
		if (now % 10000 == 0) {
			hot += take(&f, z, "hot", now, NULL);
			ck_assert_uint_le(hot, 1 + now * 10 / SEC);
		}
		snprintf(key, sizeof(key), "key-%u", i);
		ck_assert(take(&f, z, key, now, NULL)); /* new keys pass, tracked or not */
	}
	ck_assert_uint_eq(hot, 20);
	ck_assert_uint_gt(counts(z).evictions, 1000);
	ck_assert_uint_eq(counts(z).keys, 1024);
	/* Every key was put in an entry (free or evicted) or passed untracked. */
	ck_assert_uint_eq(counts(z).keys + counts(z).evictions + counts(z).untracked, 100001);
	/* Still working: after a quiet second, a new key is tracked again. */
	ck_assert(take(&f, z, "late", 3 * SEC, NULL));
	ck_assert(!take(&f, z, "late", 3 * SEC, NULL));
	limit_state_close(&f.s);
}
END_TEST

START_TEST(a_key_whose_bucket_is_hot_passes_untracked)
{
	struct fixture f;
	struct shoal_state_limit_zone *z;
	char key[16];

	limit_state_open(&f.s, "limit");
	z = rate_zone(&f, 1, 0, 8); /* one bucket, T = 1 s */
	only_bucket(&f, z);
	for (int i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert(take(&f, z, key, 0, NULL));
	}
	ck_assert(take(&f, z, "ninth", 0, NULL));
	ck_assert(take(&f, z, "ninth", 1000, NULL));
	ck_assert_uint_eq(counts(z).untracked, 2);
	ck_assert_uint_eq(counts(z).passed, 10);
	/* Refilled (tat 1 s) but not for an interval more: still hot. */
	ck_assert(take(&f, z, "ninth", SEC + 500000, NULL));
	ck_assert_uint_eq(counts(z).untracked, 3);
	ck_assert(take(&f, z, "ninth", 2 * SEC, NULL));
	ck_assert(!take(&f, z, "ninth", 2 * SEC, NULL));
	ck_assert_uint_eq(counts(z).untracked, 3);
	ck_assert_uint_eq(counts(z).evictions, 1);
	ck_assert_uint_eq(counts(z).keys, 8);
	limit_state_close(&f.s);
}
END_TEST

START_TEST(concurrency_acquire_and_release)
{
	struct fixture f;
	struct shoal_state_limit_zone *z;
	struct shoal_state_limit_hold a1, a2, a3, b1;

	limit_state_open(&f.s, "limit");
	z = conn_zone(&f, 2, 1024);
	ck_assert(acquire(&f, z, "a", &a1));
	ck_assert(acquire(&f, z, "a", &a2));
	ck_assert(!acquire(&f, z, "a", &a3));
	ck_assert_ptr_null(a3.value);
	ck_assert(acquire(&f, z, "b", &b1));
	shoal_state_limit_release(&a1);
	ck_assert_ptr_null(a1.value);
	shoal_state_limit_release(&a1); /* nothing: it was given back */
	ck_assert(acquire(&f, z, "a", &a3));
	ck_assert(!acquire(&f, z, "a", &a1));
	shoal_state_limit_release(&a2);
	shoal_state_limit_release(&a3);
	shoal_state_limit_release(&b1);
	ck_assert(acquire(&f, z, "a", &a1));
	ck_assert(acquire(&f, z, "a", &a2));
	ck_assert(!acquire(&f, z, "a", &a3));
	ck_assert_uint_eq(counts(z).passed, 6);
	ck_assert_uint_eq(counts(z).rejected, 3);
	ck_assert_uint_eq(counts(z).keys, 2);
	limit_state_close(&f.s);
}
END_TEST

START_TEST(concurrency_reuses_idle_entries_and_passes_untracked_when_busy)
{
	struct fixture f;
	struct shoal_state_limit_zone *z;
	struct shoal_state_limit_hold held[8], extra, again;
	char key[16];

	limit_state_open(&f.s, "limit");
	z = conn_zone(&f, 1, 8);
	only_bucket(&f, z);
	for (int i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert(acquire(&f, z, key, &held[i]));
		ck_assert_ptr_nonnull(held[i].value);
	}
	ck_assert(acquire(&f, z, "ninth", &extra));
	ck_assert_ptr_null(extra.value);
	ck_assert_uint_eq(counts(z).untracked, 1);
	shoal_state_limit_release(&held[3]);
	ck_assert(acquire(&f, z, "ninth", &extra));
	ck_assert_ptr_nonnull(extra.value);
	ck_assert(!acquire(&f, z, "ninth", &again));
	ck_assert_uint_eq(counts(z).evictions, 1);
	ck_assert_uint_eq(counts(z).keys, 8);
	/* k3 lost its entry while idle; now every entry is busy again. */
	ck_assert(acquire(&f, z, "k3", &again));
	ck_assert_ptr_null(again.value);
	limit_state_close(&f.s);
}
END_TEST

/* A process died holding a bucket's lock, half-way through moving an entry: the lock is
 * waited for (new keys pass untracked) until it is stale, then taken over, the entry freed. */
START_TEST(a_dead_movers_lock_is_taken_over)
{
	struct fixture f;
	struct shoal_state_limit_zone *z;
	struct shoal_state_limit_bucket *b;

	limit_state_open(&f.s, "limit");
	z = rate_zone(&f, 1, 0, 8);
	b = only_bucket(&f, z);
	ck_assert(take(&f, z, "k0", 0, NULL));
	ck_assert_uint_eq(counts(z).keys, 1);
	atomic_store(&b->value[0], SHOAL_STATE_LIMIT_MOVING);
	atomic_store(&b->lock, 1 + 5 * SEC);
	ck_assert(take(&f, z, "k0", 5 * SEC, NULL));
	ck_assert(take(&f, z, "k1", 5 * SEC, NULL));
	ck_assert_uint_eq(counts(z).untracked, 2);
	ck_assert(take(&f, z, "k1", 6 * SEC + 1, NULL));
	ck_assert(!take(&f, z, "k1", 6 * SEC + 2, NULL));
	ck_assert(take(&f, z, "k0", 6 * SEC + 2, NULL));
	ck_assert(!take(&f, z, "k0", 6 * SEC + 3, NULL));
	ck_assert_uint_eq(atomic_load(&b->lock), 0);
	ck_assert_uint_eq(counts(z).untracked, 2);
	ck_assert_uint_eq(counts(z).keys, 2);
	limit_state_close(&f.s);
}
END_TEST

START_TEST(zones_are_found_by_name_and_signature)
{
	struct fixture f;
	struct shoal_state_limit_spec old = {
		.name = "perip", .key = "client_ip", .size = 1024, .rate = 10, .burst = 5,
	};
	struct shoal_state_limit_spec changed = old;
	struct shoal_state_limit_zone *z1, *z2;

	limit_state_open(&f.s, "limit");
	ck_assert_ptr_null(shoal_state_limit_find(&f.s.st, &old));
	z1 = limit_state_zone_add(&f.s, &old);
	ck_assert_ptr_eq(shoal_state_limit_find(&f.s.st, &old), z1);
	ck_assert_ptr_eq(shoal_state_limit_live(&f.s.st, "perip"), z1);
	ck_assert_ptr_null(shoal_state_limit_differs(z1, &old));
	changed.rate = 20;
	ck_assert_ptr_null(shoal_state_limit_differs(z1, &changed));
	changed.key = "client_ip+uri";
	ck_assert_str_eq(shoal_state_limit_differs(z1, &changed), "key");
	changed.key = old.key;
	changed.size = 2048;
	ck_assert_str_eq(shoal_state_limit_differs(z1, &changed), "size");
	changed.size = old.size;
	changed.conn = 3;
	ck_assert_str_eq(shoal_state_limit_differs(z1, &changed), "kind");
	shoal_state_limit_retire(z1);
	ck_assert_ptr_null(shoal_state_limit_live(&f.s.st, "perip"));
	z2 = limit_state_zone_add(&f.s, &changed);
	ck_assert_ptr_eq(shoal_state_limit_live(&f.s.st, "perip"), z2);
	ck_assert_ptr_eq(shoal_state_limit_find(&f.s.st, &changed), z2);
	ck_assert_ptr_eq(shoal_state_limit_find(&f.s.st, &old), z1);
	ck_assert_uint_eq(shoal_state_limit_count(&f.s.st), 2);
	ck_assert_ptr_eq(shoal_state_limit_at(&f.s.st, 1), z2);
	ck_assert_uint_eq(z2->table_offset, z1->table_offset + 128 * 576);
	limit_state_close(&f.s);
}
END_TEST

START_TEST(reserve_refuses_what_does_not_fit)
{
	struct fixture f;
	struct shoal_err err = { "" };
	struct shoal_state_limit_spec huge = {
		.name = "huge", .key = "uri", .size = 1000000000, .rate = 1,
	};
	uint64_t left;

	limit_state_open(&f.s, "limit");
	left = f.s.st.hdr->limit_size;
	ck_assert_int_eq(shoal_state_limit_reserve(&f.s.st, 1, shoal_state_limit_table_bytes(&huge),
						   &err), -1);
	ck_assert_msg(strstr(err.msg, "restart to compact"), "%s", err.msg);
	ck_assert_ptr_null(shoal_state_limit_add(&f.s.st, &huge));
	ck_assert_int_eq(shoal_state_limit_reserve(&f.s.st, 257, 0, &err), -1);
	ck_assert_msg(strstr(err.msg, "no room for 257 more limit zones"), "%s", err.msg);
	ck_assert_int_eq(shoal_state_limit_reserve(&f.s.st, 1, left + 1, &err), -1);
	ck_assert_msg(strstr(err.msg, "of limit tables"), "%s", err.msg);
	ck_assert_int_eq(shoal_state_limit_reserve(&f.s.st, 256, 1 << 20, &err), 0);
	ck_assert_uint_eq(shoal_state_limit_count(&f.s.st), 0);
	limit_state_close(&f.s);
}
END_TEST

START_TEST(top_keys_are_the_most_refused)
{
	struct fixture f;
	struct shoal_state_limit_zone *z;
	struct shoal_state_limit_top top[2];
	uint64_t saved;

	limit_state_open(&f.s, "limit");
	z = rate_zone(&f, 1, 0, 1024);
	for (int i = 0; i < 4; i++)
		take(&f, z, "10.0.0.1", 0, NULL);
	for (int i = 0; i < 6; i++)
		take(&f, z, "a key longer than forty bytes, cut in its entry", 0, NULL);
	take(&f, z, "10.0.0.3", 0, NULL);
	take(&f, z, "10.0.0.3", 0, NULL);
	take(&f, z, "10.0.0.4", 0, NULL);
	ck_assert_uint_eq(shoal_state_limit_top(&f.s.st, z, top, 2), 2);
	ck_assert_str_eq(top[0].key, "a key longer than forty bytes, cut in it");
	ck_assert_uint_eq(top[0].rejected, 5);
	ck_assert_str_eq(top[1].key, "10.0.0.1");
	ck_assert_uint_eq(top[1].rejected, 3);
	/* A table said to lie beyond the file is not read. */
	saved = z->table_offset;
	z->table_offset = f.s.st.hdr->limit_offset + f.s.st.hdr->limit_size - 576;
	ck_assert_uint_eq(shoal_state_limit_top(&f.s.st, z, top, 2), 0);
	z->table_offset = saved;
	limit_state_close(&f.s);
}
END_TEST

/* --- several processes, real time --- */

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec / 1000;
}

/* What a child saw: its passes and the times of its first and last requests. */
struct run {
	uint64_t passed, first, last;
};

/* When the children asked the hot key, by TICK_US from the start: shared across fork. */
#define TICK_US 100
#define TICKS (2 * SEC / TICK_US)

struct timeline {
	uint64_t start;
	_Atomic uint8_t asked[TICKS];
};

/* In a child: its own mapping of the file; key (NULL: a new key every time) asked as fast
 * as it can from begin until start + 1 s; what it saw written to out (unless out is -1). */
static void child_hammer(const char *path, const struct shoal_state_limit_spec *spec,
			 const char *key, uint64_t begin, struct timeline *tl, int out)
{
	struct shoal_state st;
	struct shoal_err err;
	struct shoal_state_limit_zone *z;
	struct run r = { 0, 0, 0 };
	char buf[32];
	uint64_t retry, now;

	if (shoal_state_open(&st, path, true, &err) < 0 || !(z = shoal_state_limit_find(&st, spec)))
		_exit(2);
	while ((now = mono_us()) < begin)
		;
	r.first = now;
	for (unsigned n = 0; now < tl->start + SEC; now = mono_us(), n++) {
		if (!key)
			snprintf(buf, sizeof(buf), "%d-%u", (int)getpid(), n);
		else
			atomic_store_explicit(&tl->asked[(now - tl->start) / TICK_US], 1,
					      memory_order_relaxed);
		const char *k = key ? key : buf;
		r.passed += shoal_state_limit_take(z, shoal_state_limit_hash(&st, k, strlen(k)), k,
						   strlen(k), now, &retry);
		r.last = now;
	}
	_exit(out < 0 || write(out, &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 3);
}

/* Forks one child per key of keys, for a second; those of a NULL key (new keys every time)
 * begin flood_delay us later. Sums what the others (one key) saw into *hot. */
static void run_children(struct fixture *f, const struct shoal_state_limit_spec *spec,
			 const char *const *keys, int n, uint64_t flood_delay,
			 struct timeline *tl, struct run *hot)
{
	int fds[2];

	tl->start = mono_us() + 100000;
	ck_assert_int_eq(pipe(fds), 0);
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		uint64_t begin = tl->start + (keys[i] ? 0 : flood_delay);
		if (pid == 0)
			child_hammer(f->s.path, spec, keys[i], begin, tl, keys[i] ? fds[1] : -1);
	}
	close(fds[1]);
	*hot = (struct run){ 0, UINT64_MAX, 0 };
	for (struct run r; read(fds[0], &r, sizeof(r)) == (ssize_t)sizeof(r);) {
		hot->passed += r.passed;
		hot->first = r.first < hot->first ? r.first : hot->first;
		hot->last = r.last > hot->last ? r.last : hot->last;
	}
	close(fds[0]);
	for (int i = 0, status; i < n; i++) {
		ck_assert_int_gt(wait(&status), 0);
		ck_assert(WIFEXITED(status));
		ck_assert_int_eq(WEXITSTATUS(status), 0);
	}
}

/* What GCRA without burst lets through of the requests the timeline holds, each taken at
 * the start of its tick: with burst 0, a request that comes late (no child was running
 * when one was due) moves every later one, so this is what the children could get. */
static uint64_t ideal_passes(const struct timeline *tl, double rate)
{
	uint64_t interval = (uint64_t)(SEC / rate + 0.5), tat = 0, n = 0;

	for (uint64_t i = 0; i < TICKS; i++) {
		uint64_t t = tl->start + i * TICK_US;
		if (atomic_load(&tl->asked[i]) && tat <= t) {
			n++;
			tat = t + interval;
		}
	}
	return n;
}

/* Never more than GCRA allows over the time the children asked (exact), and within 2% of
 * what it lets through of the requests they made (at least one). */
static void expect_rate(const struct run *hot, const struct timeline *tl, double rate)
{
	double most = 1 + rate * (double)(hot->last - hot->first) / SEC;
	uint64_t ideal = ideal_passes(tl, rate), slack = (ideal + 49) / 50;

	ck_assert_msg(hot->passed <= (uint64_t)most, "%llu passed, at most %.1f allowed",
		      (unsigned long long)hot->passed, most);
	ck_assert_msg(hot->passed + slack >= ideal && hot->passed <= ideal + slack,
		      "%llu passed, %llu wanted", (unsigned long long)hot->passed,
		      (unsigned long long)ideal);
}

static struct timeline *timeline_map(void)
{
	struct timeline *tl = mmap(NULL, sizeof(*tl), PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(tl, MAP_FAILED);
	return tl;
}

START_TEST(processes_hammering_one_key_get_the_rate)
{
	struct fixture f;
	struct shoal_state_limit_spec spec = {
		.name = "perip", .key = "client_ip", .size = 1024, .rate = 100,
	};
	const char *keys[] = { "hot", "hot", "hot", "hot" };
	struct timeline *tl = timeline_map();
	struct shoal_state_limit_zone *z;
	struct run hot;

	limit_state_open(&f.s, "limit");
	z = limit_state_zone_add(&f.s, &spec);
	run_children(&f, &spec, keys, 4, 0, tl, &hot);
	ck_assert_uint_eq(counts(z).untracked, 0);
	expect_rate(&hot, tl, 100);
	ck_assert_uint_ge(hot.passed, 50); /* the children ran most of the second */
	ck_assert_uint_eq(counts(z).passed, hot.passed);
	munmap(tl, sizeof(*tl));
	limit_state_close(&f.s);
}
END_TEST

/* Two processes flood the hot key's only bucket with new keys while two others ask it
 * (from 50 ms before the flood: a key that first comes during a flood may find its bucket
 * full and pass untracked). At 10 per second, only a gap of 100 ms with neither asking
 * would let the hot key be forgotten. */
START_TEST(a_flood_of_keys_in_its_bucket_leaves_a_hot_key_exact)
{
	struct fixture f;
	struct shoal_state_limit_spec spec = {
		.name = "tiny", .key = "client_ip", .size = 8, .rate = 10,
	};
	const char *keys[] = { "hot", "hot", NULL, NULL };
	struct timeline *tl = timeline_map();
	struct shoal_state_limit_zone *z;
	struct run hot;

	limit_state_open(&f.s, "limit");
	z = limit_state_zone_add(&f.s, &spec);
	run_children(&f, &spec, keys, 4, 50000, tl, &hot);
	expect_rate(&hot, tl, 10);
	ck_assert_uint_gt(counts(z).evictions, 10);
	ck_assert_uint_gt(counts(z).untracked, 0);
	munmap(tl, sizeof(*tl));
	limit_state_close(&f.s);
}
END_TEST

static Suite *limit_suite(void)
{
	Suite *s = suite_create("state_limit");
	TCase *tables = tcase_create("tables");
	TCase *dir = tcase_create("directory");
	TCase *procs = tcase_create("processes");

	tcase_add_test(tables, file_has_a_directory_and_a_sparse_area);
	tcase_add_test(tables, hash_is_siphash_keyed_with_the_seed);
	tcase_add_test(tables, rate_without_burst_is_exact);
	tcase_add_test(tables, rate_with_burst_passes_it_at_once_then_the_rate);
	tcase_add_test(tables, retry_after_is_when_a_request_would_pass);
	tcase_add_test(tables, parameters_apply_to_the_next_request);
	tcase_add_test(tables, eviction_keeps_a_hot_key_limited);
	tcase_add_test(tables, a_key_whose_bucket_is_hot_passes_untracked);
	tcase_add_test(tables, concurrency_acquire_and_release);
	tcase_add_test(tables, concurrency_reuses_idle_entries_and_passes_untracked_when_busy);
	tcase_add_test(tables, a_dead_movers_lock_is_taken_over);
	tcase_add_test(dir, zones_are_found_by_name_and_signature);
	tcase_add_test(dir, reserve_refuses_what_does_not_fit);
	tcase_add_test(dir, top_keys_are_the_most_refused);
	tcase_add_test(procs, processes_hammering_one_key_get_the_rate);
	tcase_add_test(procs, a_flood_of_keys_in_its_bucket_leaves_a_hot_key_exact);
	tcase_set_timeout(procs, 30);
	suite_add_tcase(s, tables);
	suite_add_tcase(s, dir);
	suite_add_tcase(s, procs);
	return s;
}

int main(void)
{
	return shoal_check_run(limit_suite());
}
