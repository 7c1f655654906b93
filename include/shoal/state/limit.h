/* Limit zones in the state file (shoal/state/state.h): per key request rates and requests in
 * flight, exact across every worker of every generation without a lock per request.
 *
 * A zone is an entry of the file's directory: its name, its signature (the key as written,
 * the kind, the size: what makes its table reusable), its parameters, its counters and the
 * offset of its table. The master adds a zone, with its table, when a generation needs it and
 * the directory has no live zone of that name and signature; a zone made afresh retires the
 * old entry, whose table the workers of older generations go on using. Tables come from an
 * area of the file by a bump pointer and are never freed while the file lives. A worker finds
 * its zones once, at start (shoal_state_limit_find), and reads the parameters from the entry
 * on every request (two loads), so that a reload that changes a kept zone's rate, burst or
 * conn applies at once to every generation sharing the table.
 *
 * A table is buckets of SHOAL_STATE_LIMIT_WAYS entries, the bucket chosen by the key's hash.
 * A bucket keeps its entries' fields side by side, so that finding a key reads one cache line
 * (the hashes) and deciding reads or writes one more (the values):
 *
 *   key_hash   the key's 64-bit hash; 0: a free entry
 *   value      rate zone: the key's theoretical arrival time (TAT), CLOCK_MONOTONIC
 *              microseconds; concurrency zone: a generation (high 32 bits) and the count of
 *              requests in flight (low 32 bits)
 *   rejected   requests refused to the key (shoalctl's top keys)
 *   lock       taken to put a key in the bucket (never to decide a request)
 *   key        the key's text, cut to SHOAL_STATE_LIMIT_KEY_TEXT bytes, for shoalctl only
 *
 * Rate zones follow GCRA: with an emission interval T = 1e6 / rate us and a tolerance
 * tau = T * burst, a request at now passes iff max(tat, now) - now <= tau, and then moves the
 * key's tat to max(tat, now) + T by compare-and-swap; a refused one may pass again in
 * tat - tau - now us. T is whole microseconds (at least 1): rates above 10,000 per second
 * per key are rounded by up to rate / 2e6 of themselves. We never delay a request: a request
 * within burst passes at once, beyond it is refused (`delayed` stays 0).
 *
 * Keys are known by their hash alone: two keys whose 64-bit hashes are equal share a limit.
 * The hash is keyed with the file's random seed, so that no client can choose keys that fall
 * into one bucket or collide.
 *
 * A key not in its bucket is put there under the bucket's lock, in a free entry or else in
 * the stalest one whose key has been fully refilled for one interval more (tat + T <= now):
 * forgetting a refilled key loses nothing, and a key that asks at least at its rate is never
 * forgotten, so eviction never lets a hot key escape (with tat <= now alone, a key pushed out
 * the moment it is due could find its bucket full and stay untracked). A concurrency key
 * takes a free entry or one whose count is 0. When every entry of the bucket is busy, the
 * key is not tracked: its request passes, counted as untracked (refusing innocent new keys
 * under a flood of keys is worse, and no tracked key escapes; a key that first comes while
 * its bucket is full of hot keys is the one that goes unlimited until an entry frees up,
 * which is why a zone's size should be well above its keys asking at once). The lock makes
 * two processes never put one key in two entries; a process waits for a busy lock, or for
 * an entry being moved, for tens of thousands of loads (tens of microseconds: a holder may
 * take a page fault on a table's first touch), then lets its request pass untracked. A lock left
 * by a dead process is taken over after SHOAL_STATE_LIMIT_STALE_US, and its half-moved
 * entry freed.
 *
 * The races with moving an entry to a new key: the mover first swaps the entry's value to a
 * "moving" mark (rate: SHOAL_STATE_LIMIT_MOVING; concurrency: an odd generation) by
 * compare-and-swap from the value it judged, then writes the key, then the new key's first
 * value. A request reads the value, then checks the entry's key, then swaps the value; it
 * never swaps from a moving mark. Since a rate entry's tat only grows (the new key's first
 * tat, now + T, is past the old key's, <= now) and a concurrency entry's generation grows by
 * two per move, a swap succeeds only if no move began since the value was read, so the key
 * checked is the key the swap counts for. A refusal swaps nothing: it reads the value again
 * after the key and refuses only if it is unchanged, which for the same reason means that
 * value was the key's.
 *
 * Counters are per zone, single atomic values: passed (untracked ones included), delayed,
 * rejected, keys in use, evictions (a key's entry given to another key) and untracked. */
#ifndef SHOAL_STATE_LIMIT_H
#define SHOAL_STATE_LIMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal/base/error.h"
#include "shoal/state/state.h"

#define SHOAL_STATE_LIMIT_NAME 64     /* a zone's name: at most 63 bytes, NUL-padded */
#define SHOAL_STATE_LIMIT_KEY 128     /* its key as written, cut to 127 bytes, NUL-padded */
#define SHOAL_STATE_LIMIT_WAYS 8      /* entries of a bucket */
#define SHOAL_STATE_LIMIT_KEY_TEXT 40 /* a key's text in its entry: cut, NUL-padded if shorter */
#define SHOAL_STATE_LIMIT_ZONES 64u   /* live zones at once */
/* A bucket lock older than this (us) was left by a dead process. */
#define SHOAL_STATE_LIMIT_STALE_US 1000000u
/* A rate entry's value while it moves to another key. */
#define SHOAL_STATE_LIMIT_MOVING UINT64_MAX

enum shoal_state_limit_kind {
	SHOAL_STATE_LIMIT_RATE = 1, /* requests per second with a burst (GCRA) */
	SHOAL_STATE_LIMIT_CONN = 2, /* requests in flight */
};

/* A directory entry. The identity is written by the master before it counts the entry in
 * use and never changes after; retired, the parameters and the counters are atomic. */
struct shoal_state_limit_zone {
	_Alignas(SHOAL_STATE_CACHELINE) char name[SHOAL_STATE_LIMIT_NAME];
	char key[SHOAL_STATE_LIMIT_KEY];
	uint64_t key_sig;         /* a hash of the whole key as written */
	uint64_t offset;          /* of this entry in the file */
	uint64_t table_offset;    /* of its buckets in the file */
	uint32_t kind;            /* enum shoal_state_limit_kind */
	uint32_t size;            /* keys, as configured */
	uint32_t buckets;         /* the table's buckets: size / WAYS rounded up */
	_Atomic uint32_t retired; /* 1: made afresh or no longer configured */
	uint8_t reserved0[24];
	/* Parameters, set by the master on every generation that keeps the zone. */
	_Alignas(SHOAL_STATE_CACHELINE) _Atomic uint64_t interval_us; /* rate: T */
	_Atomic uint64_t tau_us;     /* rate: T * burst */
	_Atomic uint64_t rate_milli; /* rate: requests per 1000 s, as configured (shown) */
	_Atomic uint32_t burst;
	_Atomic uint32_t conn;       /* concurrency: requests in flight per key */
	uint8_t reserved1[32];
	/* Counters, every worker. */
	_Alignas(SHOAL_STATE_CACHELINE) _Atomic uint64_t passed;
	_Atomic uint64_t delayed;
	_Atomic uint64_t rejected;
	_Atomic uint64_t keys;
	_Atomic uint64_t evictions;
	_Atomic uint64_t untracked;
	uint8_t reserved2[16];
};

_Static_assert(offsetof(struct shoal_state_limit_zone, key) == 64, "layout");
_Static_assert(offsetof(struct shoal_state_limit_zone, key_sig) == 192, "layout");
_Static_assert(offsetof(struct shoal_state_limit_zone, table_offset) == 208, "layout");
_Static_assert(offsetof(struct shoal_state_limit_zone, kind) == 216, "layout");
_Static_assert(offsetof(struct shoal_state_limit_zone, retired) == 228, "layout");
_Static_assert(offsetof(struct shoal_state_limit_zone, interval_us) == 256, "layout");
_Static_assert(offsetof(struct shoal_state_limit_zone, burst) == 280, "layout");
_Static_assert(offsetof(struct shoal_state_limit_zone, passed) == 320, "layout");
_Static_assert(offsetof(struct shoal_state_limit_zone, untracked) == 360, "layout");
_Static_assert(sizeof(struct shoal_state_limit_zone) == 384, "layout");

struct shoal_state_limit_bucket {
	_Alignas(SHOAL_STATE_CACHELINE) _Atomic uint64_t key_hash[SHOAL_STATE_LIMIT_WAYS];
	_Atomic uint64_t value[SHOAL_STATE_LIMIT_WAYS];
	_Atomic uint64_t rejected[SHOAL_STATE_LIMIT_WAYS];
	_Atomic uint64_t lock; /* 0: free; else 1 + when it was taken (us) */
	uint8_t reserved[56];
	char key[SHOAL_STATE_LIMIT_WAYS][SHOAL_STATE_LIMIT_KEY_TEXT];
};

_Static_assert(offsetof(struct shoal_state_limit_bucket, value) == 64, "layout");
_Static_assert(offsetof(struct shoal_state_limit_bucket, rejected) == 128, "layout");
_Static_assert(offsetof(struct shoal_state_limit_bucket, lock) == 192, "layout");
_Static_assert(offsetof(struct shoal_state_limit_bucket, key) == 256, "layout");
_Static_assert(sizeof(struct shoal_state_limit_bucket) == 576, "layout");

/* A zone as a configuration asks for it: the kind is conn > 0 ? CONN : RATE. */
struct shoal_state_limit_spec {
	const char *name;
	const char *key;  /* as written */
	uint32_t size;    /* keys */
	double rate;      /* rate zone: requests per second, > 0 */
	uint32_t burst;
	uint32_t conn;    /* concurrency zone: requests in flight per key, > 0 */
};

/* What a request holds in a concurrency zone, to give back: value NULL for nothing. */
struct shoal_state_limit_hold {
	_Atomic uint64_t *value;
};

struct shoal_state_limit_counts {
	uint64_t passed, delayed, rejected, keys, evictions, untracked;
};

/* One key of a zone and the requests it had refused. */
struct shoal_state_limit_top {
	char key[SHOAL_STATE_LIMIT_KEY_TEXT + 1];
	uint64_t rejected;
};

/* --- any process --- */

/* The hash a zone knows key's len bytes by: keyed with st's seed, never 0. */
uint64_t shoal_state_limit_hash(const struct shoal_state *st, const void *key, size_t len);

/* The newest zone of spec's name and signature (key, kind, size), retired or not: the one
 * the generation of that configuration uses. NULL if there is none. A worker calls it once
 * per zone at start. */
struct shoal_state_limit_zone *shoal_state_limit_find(const struct shoal_state *st,
						      const struct shoal_state_limit_spec *spec);

/* The live zone of that name, or NULL. */
struct shoal_state_limit_zone *shoal_state_limit_live(const struct shoal_state *st,
						      const char *name);

/* Rate zone z, a request of the key key_hash (whose text is key, len bytes) at now_us
 * (CLOCK_MONOTONIC us): true if it passes, counted; false if refused, with *retry_after_us
 * set (more than 0; Retry-After is it in seconds rounded up). Lock-free, no system call. */
bool shoal_state_limit_take(struct shoal_state_limit_zone *z, uint64_t key_hash,
			    const char *key, size_t len, uint64_t now_us,
			    uint64_t *retry_after_us);

/* Concurrency zone z: true if the request may go on, with *hold to release when it ends
 * (hold->value NULL if the key is not tracked); false if the key has conn requests in
 * flight already. */
bool shoal_state_limit_acquire(struct shoal_state_limit_zone *z, uint64_t key_hash,
			       const char *key, size_t len, uint64_t now_us,
			       struct shoal_state_limit_hold *hold);

/* Ends what acquire let go on (nothing if hold->value is NULL); clears *hold. */
void shoal_state_limit_release(struct shoal_state_limit_hold *hold);

/* Where in st's file the value hold counts on lies (a multiple of 8 inside the tables' area),
 * for a record that outlives the process holding it; 0 when hold->value is NULL. */
uint64_t shoal_state_limit_hold_offset(const struct shoal_state *st,
				       const struct shoal_state_limit_hold *hold);

/* Ends a request in flight that a process which died counted at offset (as hold_offset gave
 * it): what release would have done. false, changing nothing, when offset is not a place in
 * st's tables or its count is already 0. */
bool shoal_state_limit_release_at(const struct shoal_state *st, uint64_t offset);

/* --- the master, holding the file lock --- */

/* Bytes of the table a zone of spec needs. */
uint64_t shoal_state_limit_table_bytes(const struct shoal_state_limit_spec *spec);

/* What of z's signature differs from spec's: "key", "kind" or "size"; NULL if none. */
const char *shoal_state_limit_differs(const struct shoal_state_limit_zone *z,
				      const struct shoal_state_limit_spec *spec);

/* Makes sure that zones more entries and bytes more table bytes can be added: room in the
 * directory and the area, the area's pages allocated. -1 with err set if not (restart to
 * compact). */
int shoal_state_limit_reserve(struct shoal_state *st, unsigned zones, uint64_t bytes,
			      struct shoal_err *err);

/* Appends a live zone of spec with a table of zeros, within what was reserved (NULL
 * otherwise), and sets its parameters. */
struct shoal_state_limit_zone *shoal_state_limit_add(struct shoal_state *st,
						     const struct shoal_state_limit_spec *spec);

/* Sets z's rate, burst and conn from spec; the signature is unchanged. */
void shoal_state_limit_set(struct shoal_state_limit_zone *z,
			   const struct shoal_state_limit_spec *spec);

/* z is no longer found live; the processes that use it go on. */
void shoal_state_limit_retire(struct shoal_state_limit_zone *z);

/* --- readers (shoalctl, the master) --- */

/* The directory's entries in use, and the i-th of them. */
unsigned shoal_state_limit_count(const struct shoal_state *st);
struct shoal_state_limit_zone *shoal_state_limit_at(const struct shoal_state *st, unsigned i);

void shoal_state_limit_counts(const struct shoal_state_limit_zone *z,
			      struct shoal_state_limit_counts *out);

/* The keys of z that had the most requests refused, most first, at most max of them, into
 * out; returns how many (keys with none refused are left out). 0 if z's table is not inside
 * st's file. Reads the whole table. */
size_t shoal_state_limit_top(const struct shoal_state *st, const struct shoal_state_limit_zone *z,
			     struct shoal_state_limit_top *out, size_t max);

#endif
