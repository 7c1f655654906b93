#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "shoal/state/limit.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define STORE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)
#define ADD(x, n) atomic_fetch_add_explicit(&(x), (n), memory_order_relaxed)
#define WAYS SHOAL_STATE_LIMIT_WAYS
/* Looks at a key's bucket a request makes before it passes untracked: each time, the key was
 * being moved or the bucket's lock stayed busy. */
#define TRIES 4
/* Loads of a busy lock or a moving entry in one look before giving up: tens of
 * microseconds, enough for a holder that takes a page fault on a table's first touch; one
 * that is descheduled or died costs the key's requests their tracking instead. */
#define WAIT_SPINS 65536
/* A concurrency entry's value: generation << 32 | requests in flight; an odd generation
 * while it moves to another key. */
#define CONN_GEN 0x100000000ull
#define CONN_MOVING(v) (((v) >> 32) & 1u)
#define CONN_COUNT(v) ((uint32_t)(v))

/* How a look at a key's bucket ended. */
enum limit_step {
	STEP_PASS,   /* counted in the key's entry */
	STEP_REFUSE,
	STEP_AGAIN,  /* the key moved under us, or the lock was busy: look again */
	STEP_FULL,   /* every entry of the bucket is busy: not tracked */
};

/* --- the hash: SipHash-2-4 --- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = ROTL(v[1], 13) ^ v[0];
	v[0] = ROTL(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = ROTL(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = ROTL(v[1], 17) ^ v[2];
	v[2] = ROTL(v[2], 32);
}

static void sip_absorb(uint64_t v[4], uint64_t m)
{
	v[3] ^= m;
	sip_round(v);
	sip_round(v);
	v[0] ^= m;
}

/* len bytes of p, little-endian, as the low bytes of a word. */
static uint64_t sip_word(const unsigned char *p, size_t len)
{
	uint64_t w = 0;

	for (size_t i = 0; i < len; i++)
		w |= (uint64_t)p[i] << (8 * i);
	return w;
}

static uint64_t sip_hash(const uint64_t k[2], const unsigned char *p, size_t len)
{
	uint64_t v[4] = { k[0] ^ 0x736f6d6570736575ull, k[1] ^ 0x646f72616e646f6dull,
			  k[0] ^ 0x6c7967656e657261ull, k[1] ^ 0x7465646279746573ull };
	size_t i = 0;

	for (; len - i >= 8; i += 8)
		sip_absorb(v, sip_word(p + i, 8));
	sip_absorb(v, sip_word(p + i, len - i) | (uint64_t)len << 56);
	v[2] ^= 0xff;
	for (int r = 0; r < 4; r++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

uint64_t shoal_state_limit_hash(const struct shoal_state *st, const void *key, size_t len)
{
	uint64_t h = sip_hash(st->hdr->hash_seed, key, len);

	return h ? h : 1; /* 0 marks a free entry */
}

/* --- a zone's table --- */

static struct shoal_state_limit_bucket *limit_bucket(struct shoal_state_limit_zone *z,
						      uint64_t h)
{
	char *file = (char *)z - z->offset;
	struct shoal_state_limit_bucket *table = (void *)(file + z->table_offset);

	/* The hash's high half scaled to the bucket count: any count, no division. */
	return &table[((h >> 32) * z->buckets) >> 32];
}

static int limit_find_way(struct shoal_state_limit_bucket *b, uint64_t h)
{
	for (int i = 0; i < WAYS; i++)
		if (atomic_load(&b->key_hash[i]) == h)
			return i;
	return -1;
}

/* A move's mark, and the value that frees an entry left with one. */
static bool limit_moving(const struct shoal_state_limit_zone *z, uint64_t v)
{
	return z->kind == SHOAL_STATE_LIMIT_RATE ? v == SHOAL_STATE_LIMIT_MOVING
						 : CONN_MOVING(v);
}

static uint64_t limit_freed(const struct shoal_state_limit_zone *z, uint64_t v)
{
	return z->kind == SHOAL_STATE_LIMIT_RATE ? 0 : (v & ~(CONN_GEN - 1)) + CONN_GEN;
}

/* Way i's value once no move is under way, or a moving mark still there after WAIT_SPINS. */
static uint64_t limit_settled(struct shoal_state_limit_zone *z, struct shoal_state_limit_bucket *b,
			      int i)
{
	uint64_t v = atomic_load(&b->value[i]);

	for (unsigned spin = 0; spin < WAIT_SPINS && limit_moving(z, v); spin++)
		v = atomic_load(&b->value[i]);
	return v;
}

/* Before a refusal, which swaps nothing: way i's value is still *v, so *v was the value of
 * the key read after it. Else *v is the value now, to judge again. */
static bool limit_still(struct shoal_state_limit_bucket *b, int i, uint64_t *v)
{
	uint64_t now = atomic_load(&b->value[i]);

	if (now == *v)
		return true;
	*v = now;
	return false;
}

/* The lock's holder died in a move (its lock is stale): what it was moving is freed. */
static void limit_repair(struct shoal_state_limit_zone *z, struct shoal_state_limit_bucket *b)
{
	for (int i = 0; i < WAYS; i++) {
		uint64_t v = atomic_load(&b->value[i]);
		if (!limit_moving(z, v))
			continue;
		if (atomic_exchange(&b->key_hash[i], 0))
			atomic_fetch_sub_explicit(&z->keys, 1, memory_order_relaxed);
		memset(b->key[i], 0, sizeof(b->key[i]));
		atomic_store(&b->value[i], limit_freed(z, v));
	}
}

/* Takes b's lock as stamp (1 + now), or a stale one over; false if it stays busy. */
static bool limit_lock(struct shoal_state_limit_zone *z, struct shoal_state_limit_bucket *b,
		       uint64_t stamp)
{
	for (unsigned spin = 0; spin < WAIT_SPINS; spin++) {
		uint64_t held = atomic_load(&b->lock);
		bool stale = held && stamp > held + SHOAL_STATE_LIMIT_STALE_US;
		if ((!held || stale) && atomic_compare_exchange_strong(&b->lock, &held, stamp)) {
			if (stale)
				limit_repair(z, b);
			return true;
		}
	}
	return false;
}

/* Only if still ours: a holder thought dead must not free the lock of the one that took it
 * over. */
static void limit_unlock(struct shoal_state_limit_bucket *b, uint64_t stamp)
{
	atomic_compare_exchange_strong(&b->lock, &stamp, 0);
}

/* Way i, marked moving, becomes h's. */
static void limit_rekey(struct shoal_state_limit_zone *z, struct shoal_state_limit_bucket *b,
			int i, uint64_t h, const char *key, size_t len)
{
	uint64_t old = atomic_exchange(&b->key_hash[i], h);

	memset(b->key[i], 0, sizeof(b->key[i]));
	if (len)
		memcpy(b->key[i], key, len < sizeof(b->key[i]) ? len : sizeof(b->key[i]));
	STORE(b->rejected[i], 0);
	ADD(*(old ? &z->evictions : &z->keys), 1);
}

/* Counts how a request ended; true if it passes. */
static bool limit_count(struct shoal_state_limit_zone *z, enum limit_step s)
{
	if (s == STEP_REFUSE) {
		ADD(z->rejected, 1);
		return false;
	}
	if (s != STEP_PASS)
		ADD(z->untracked, 1);
	ADD(z->passed, 1);
	return true;
}

/* --- rate zones (GCRA) --- */

struct rate_params {
	uint64_t interval; /* T */
	uint64_t tau;
};

static enum limit_step rate_at(struct shoal_state_limit_zone *z, struct shoal_state_limit_bucket *b,
			       int i, uint64_t h, const struct rate_params *p, uint64_t now,
			       uint64_t *retry)
{
	uint64_t tat = limit_settled(z, b, i);

	for (;;) {
		/* The key read after the value is the value's key: a move marks the value
		 * before it changes the key. */
		if (tat == SHOAL_STATE_LIMIT_MOVING || atomic_load(&b->key_hash[i]) != h)
			return STEP_AGAIN;
		uint64_t from = tat > now ? tat : now;
		if (from - now <= p->tau) {
			if (atomic_compare_exchange_weak(&b->value[i], &tat, from + p->interval))
				return STEP_PASS;
		} else if (limit_still(b, i, &tat)) {
			*retry = from - p->tau - now;
			ADD(b->rejected[i], 1);
			return STEP_REFUSE;
		}
	}
}

/* A free way, else the stalest whose key has been fully refilled for one interval more
 * (tat + T <= now): a key that asks at least at its rate is never forgotten, so it cannot
 * be pushed out when it is due and then find its bucket full. -1 if none. */
static int rate_victim(struct shoal_state_limit_bucket *b, uint64_t now, uint64_t interval,
		       uint64_t *tat)
{
	int victim = -1;

	for (int i = 0; i < WAYS; i++) {
		uint64_t v = atomic_load(&b->value[i]);
		if (v == SHOAL_STATE_LIMIT_MOVING)
			continue;
		if (!atomic_load(&b->key_hash[i])) {
			*tat = v;
			return i;
		}
		if (v <= now && now - v >= interval && (victim < 0 || v < *tat)) {
			victim = i;
			*tat = v;
		}
	}
	return victim;
}

/* Holding the lock: h, not in b, takes a way, charged with this request. */
static enum limit_step rate_move(struct shoal_state_limit_zone *z,
				 struct shoal_state_limit_bucket *b, uint64_t h, const char *key,
				 size_t len, uint64_t now, uint64_t interval)
{
	uint64_t tat = 0, moving = SHOAL_STATE_LIMIT_MOVING;
	int i = rate_victim(b, now, interval, &tat);

	if (i < 0)
		return STEP_FULL;
	/* From the value judged: a request of the old key since then made it hot again. */
	if (!atomic_compare_exchange_strong(&b->value[i], &tat, SHOAL_STATE_LIMIT_MOVING))
		return STEP_AGAIN;
	limit_rekey(z, b, i, h, key, len);
	/* Fails only if we were thought dead and the way was freed: look again. */
	return atomic_compare_exchange_strong(&b->value[i], &moving, now + interval) ? STEP_PASS
										     : STEP_AGAIN;
}

static enum limit_step rate_insert(struct shoal_state_limit_zone *z,
				   struct shoal_state_limit_bucket *b, uint64_t h, const char *key,
				   size_t len, uint64_t now, uint64_t interval)
{
	uint64_t stamp = now + 1;
	enum limit_step s = STEP_AGAIN;

	if (!limit_lock(z, b, stamp))
		return STEP_AGAIN;
	/* Another process may have put it there while we waited. */
	if (limit_find_way(b, h) < 0)
		s = rate_move(z, b, h, key, len, now, interval);
	limit_unlock(b, stamp);
	return s;
}

bool shoal_state_limit_take(struct shoal_state_limit_zone *z, uint64_t key_hash,
			    const char *key, size_t len, uint64_t now_us,
			    uint64_t *retry_after_us)
{
	struct rate_params p = { LOAD(z->interval_us), LOAD(z->tau_us) };
	uint64_t h = key_hash ? key_hash : 1;
	struct shoal_state_limit_bucket *b = limit_bucket(z, h);
	enum limit_step s = STEP_AGAIN;

	for (unsigned t = 0; t < TRIES && s == STEP_AGAIN; t++) {
		int i = limit_find_way(b, h);
		s = i >= 0 ? rate_at(z, b, i, h, &p, now_us, retry_after_us)
			   : rate_insert(z, b, h, key, len, now_us, p.interval);
	}
	return limit_count(z, s);
}

/* --- concurrency zones --- */

static enum limit_step conn_at(struct shoal_state_limit_zone *z, struct shoal_state_limit_bucket *b,
			       int i, uint64_t h, uint32_t conn,
			       struct shoal_state_limit_hold *hold)
{
	uint64_t v = limit_settled(z, b, i);

	for (;;) {
		if (CONN_MOVING(v) || atomic_load(&b->key_hash[i]) != h)
			return STEP_AGAIN;
		if (CONN_COUNT(v) < conn) {
			if (atomic_compare_exchange_weak(&b->value[i], &v, v + 1)) {
				hold->value = &b->value[i];
				return STEP_PASS;
			}
		} else if (limit_still(b, i, &v)) {
			ADD(b->rejected[i], 1);
			return STEP_REFUSE;
		}
	}
}

/* A free way, else the first with nothing in flight; -1 if none. */
static int conn_victim(struct shoal_state_limit_bucket *b, uint64_t *value)
{
	int victim = -1;

	for (int i = 0; i < WAYS; i++) {
		uint64_t v = atomic_load(&b->value[i]);
		if (CONN_MOVING(v) || CONN_COUNT(v))
			continue;
		if (!atomic_load(&b->key_hash[i])) {
			*value = v;
			return i;
		}
		if (victim < 0) {
			victim = i;
			*value = v;
		}
	}
	return victim;
}

static enum limit_step conn_move(struct shoal_state_limit_zone *z,
				 struct shoal_state_limit_bucket *b, uint64_t h, const char *key,
				 size_t len, struct shoal_state_limit_hold *hold)
{
	uint64_t v = 0, moving;
	int i = conn_victim(b, &v);

	if (i < 0)
		return STEP_FULL;
	moving = v + CONN_GEN;
	if (!atomic_compare_exchange_strong(&b->value[i], &v, moving))
		return STEP_AGAIN;
	limit_rekey(z, b, i, h, key, len);
	if (!atomic_compare_exchange_strong(&b->value[i], &moving, moving + CONN_GEN + 1))
		return STEP_AGAIN;
	hold->value = &b->value[i];
	return STEP_PASS;
}

static enum limit_step conn_insert(struct shoal_state_limit_zone *z,
				   struct shoal_state_limit_bucket *b, uint64_t h, const char *key,
				   size_t len, uint64_t now, struct shoal_state_limit_hold *hold)
{
	uint64_t stamp = now + 1;
	enum limit_step s = STEP_AGAIN;

	if (!limit_lock(z, b, stamp))
		return STEP_AGAIN;
	if (limit_find_way(b, h) < 0)
		s = conn_move(z, b, h, key, len, hold);
	limit_unlock(b, stamp);
	return s;
}

bool shoal_state_limit_acquire(struct shoal_state_limit_zone *z, uint64_t key_hash,
			       const char *key, size_t len, uint64_t now_us,
			       struct shoal_state_limit_hold *hold)
{
	uint32_t conn = LOAD(z->conn);
	uint64_t h = key_hash ? key_hash : 1;
	struct shoal_state_limit_bucket *b = limit_bucket(z, h);
	enum limit_step s = STEP_AGAIN;

	hold->value = NULL;
	for (unsigned t = 0; t < TRIES && s == STEP_AGAIN; t++) {
		int i = limit_find_way(b, h);
		s = i >= 0 ? conn_at(z, b, i, h, conn, hold)
			   : conn_insert(z, b, h, key, len, now_us, hold);
	}
	return limit_count(z, s);
}

void shoal_state_limit_release(struct shoal_state_limit_hold *hold)
{
	uint64_t v;

	if (!hold->value)
		return;
	/* An entry in use never moves, so its generation stays; never below zero. */
	v = atomic_load(hold->value);
	while (CONN_COUNT(v) && !atomic_compare_exchange_weak(hold->value, &v, v - 1))
		;
	hold->value = NULL;
}

uint64_t shoal_state_limit_hold_offset(const struct shoal_state *st,
				       const struct shoal_state_limit_hold *hold)
{
	if (!hold->value)
		return 0;
	return (uint64_t)((const char *)hold->value - (const char *)st->hdr);
}

bool shoal_state_limit_release_at(const struct shoal_state *st, uint64_t offset)
{
	uint64_t start = st->hdr->limit_offset, used = LOAD(st->hdr->limit_used);
	struct shoal_state_limit_hold hold;
	uint64_t v;

	/* The record comes from a process that died: check it before trusting it. */
	if (offset < start || offset >= start + used || offset % sizeof(uint64_t) ||
	    offset + sizeof(uint64_t) > st->size)
		return false;
	hold.value = (_Atomic uint64_t *)((char *)st->hdr + offset);
	v = atomic_load(hold.value);
	if (!CONN_COUNT(v))
		return false;
	shoal_state_limit_release(&hold);
	return true;
}

/* --- the directory --- */

static void limit_text(char *dst, size_t size, const char *src)
{
	size_t len = strnlen(src, size - 1);

	memset(dst, 0, size);
	memcpy(dst, src, len);
}

/* FNV-1a: the master compares configurations, no client chooses them. */
static uint64_t limit_key_sig(const char *key)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return h;
}

static uint32_t limit_kind(const struct shoal_state_limit_spec *spec)
{
	return spec->conn ? SHOAL_STATE_LIMIT_CONN : SHOAL_STATE_LIMIT_RATE;
}

static uint32_t limit_buckets(uint32_t size)
{
	uint32_t n = size / WAYS + (size % WAYS != 0);

	return n ? n : 1;
}

unsigned shoal_state_limit_count(const struct shoal_state *st)
{
	unsigned used = atomic_load_explicit(&st->hdr->zone_used, memory_order_acquire);

	return used < st->hdr->zone_room ? used : st->hdr->zone_room;
}

struct shoal_state_limit_zone *shoal_state_limit_at(const struct shoal_state *st, unsigned i)
{
	char *base = (char *)st->hdr + st->hdr->zone_offset;

	return (struct shoal_state_limit_zone *)(base + (size_t)i * st->hdr->zone_entry_size);
}

static bool limit_named(const struct shoal_state_limit_zone *z, const char *name)
{
	char text[SHOAL_STATE_LIMIT_NAME];

	limit_text(text, sizeof(text), name);
	return memcmp(z->name, text, sizeof(text)) == 0;
}

struct shoal_state_limit_zone *shoal_state_limit_find(const struct shoal_state *st,
						      const struct shoal_state_limit_spec *spec)
{
	for (unsigned i = shoal_state_limit_count(st); i-- > 0;) {
		struct shoal_state_limit_zone *z = shoal_state_limit_at(st, i);
		if (limit_named(z, spec->name) && !shoal_state_limit_differs(z, spec))
			return z;
	}
	return NULL;
}

struct shoal_state_limit_zone *shoal_state_limit_live(const struct shoal_state *st,
						      const char *name)
{
	for (unsigned i = shoal_state_limit_count(st); i-- > 0;) {
		struct shoal_state_limit_zone *z = shoal_state_limit_at(st, i);
		if (!LOAD(z->retired) && limit_named(z, name))
			return z;
	}
	return NULL;
}

const char *shoal_state_limit_differs(const struct shoal_state_limit_zone *z,
				      const struct shoal_state_limit_spec *spec)
{
	char key[SHOAL_STATE_LIMIT_KEY];

	limit_text(key, sizeof(key), spec->key);
	if (z->key_sig != limit_key_sig(spec->key) || memcmp(z->key, key, sizeof(key)) != 0)
		return "key";
	if (z->kind != limit_kind(spec))
		return "kind";
	return z->size != spec->size ? "size" : NULL;
}

uint64_t shoal_state_limit_table_bytes(const struct shoal_state_limit_spec *spec)
{
	return (uint64_t)limit_buckets(spec->size) * sizeof(struct shoal_state_limit_bucket);
}

int shoal_state_limit_reserve(struct shoal_state *st, unsigned zones, uint64_t bytes,
			      struct shoal_err *err)
{
	struct shoal_state_header *h = st->hdr;
	uint64_t used = LOAD(h->limit_used);
	int rc;

	if (shoal_state_limit_count(st) + (uint64_t)zones > h->zone_room)
		return shoal_err_set(err, "%s: no room for %u more limit zones (%u made while it "
				     "lives, at most %u); restart to compact", st->path, zones,
				     shoal_state_limit_count(st), h->zone_room);
	if (bytes > h->limit_size - used)
		return shoal_err_set(err, "%s: no room for %llu more bytes of limit tables (%llu "
				     "of %llu left: tables are kept while it lives); restart to "
				     "compact", st->path, (unsigned long long)bytes,
				     (unsigned long long)(h->limit_size - used),
				     (unsigned long long)h->limit_size);
	rc = bytes ? posix_fallocate(st->fd, (off_t)(h->limit_offset + used), (off_t)bytes) : 0;
	if (rc != 0)
		return shoal_err_set(err, "%s: cannot allocate %llu bytes of limit tables: %s",
				     st->path, (unsigned long long)bytes, strerror(rc));
	return 0;
}

struct shoal_state_limit_zone *shoal_state_limit_add(struct shoal_state *st,
						     const struct shoal_state_limit_spec *spec)
{
	struct shoal_state_header *h = st->hdr;
	unsigned n = shoal_state_limit_count(st);
	uint64_t used = LOAD(h->limit_used), bytes = shoal_state_limit_table_bytes(spec);
	struct shoal_state_limit_zone *z;

	if (n >= h->zone_room || bytes > h->limit_size - used)
		return NULL;
	z = shoal_state_limit_at(st, n);
	memset(z, 0, sizeof(*z));
	limit_text(z->name, sizeof(z->name), spec->name);
	limit_text(z->key, sizeof(z->key), spec->key);
	z->key_sig = limit_key_sig(spec->key);
	z->offset = (uint64_t)((char *)z - (char *)h);
	z->table_offset = h->limit_offset + used;
	z->kind = limit_kind(spec);
	z->size = spec->size;
	z->buckets = limit_buckets(spec->size);
	shoal_state_limit_set(z, spec);
	STORE(h->limit_used, used + bytes);
	/* Release: a process that sees the new count sees the entry whole. */
	atomic_store_explicit(&h->zone_used, n + 1, memory_order_release);
	return z;
}

void shoal_state_limit_set(struct shoal_state_limit_zone *z,
			   const struct shoal_state_limit_spec *spec)
{
	uint64_t interval = spec->rate > 0 ? (uint64_t)(1e6 / spec->rate + 0.5) : 1;

	if (!interval)
		interval = 1;
	STORE(z->interval_us, interval);
	STORE(z->tau_us, interval * spec->burst);
	STORE(z->rate_milli, spec->rate > 0 ? (uint64_t)(spec->rate * 1000 + 0.5) : 0);
	STORE(z->burst, spec->burst);
	STORE(z->conn, spec->conn);
}

void shoal_state_limit_retire(struct shoal_state_limit_zone *z)
{
	STORE(z->retired, 1);
}

/* --- readers --- */

void shoal_state_limit_counts(const struct shoal_state_limit_zone *z,
			      struct shoal_state_limit_counts *out)
{
	*out = (struct shoal_state_limit_counts){
		.passed = LOAD(z->passed),
		.delayed = LOAD(z->delayed),
		.rejected = LOAD(z->rejected),
		.keys = LOAD(z->keys),
		.evictions = LOAD(z->evictions),
		.untracked = LOAD(z->untracked),
	};
}

/* z's table inside the file's area: a reader trusts nothing a writer left. */
static const struct shoal_state_limit_bucket *limit_table(const struct shoal_state *st,
							   const struct shoal_state_limit_zone *z)
{
	const struct shoal_state_header *h = st->hdr;
	uint64_t bytes = (uint64_t)z->buckets * sizeof(struct shoal_state_limit_bucket);

	if (z->table_offset < h->limit_offset || z->table_offset % SHOAL_STATE_CACHELINE ||
	    z->table_offset - h->limit_offset > h->limit_size ||
	    bytes > h->limit_size - (z->table_offset - h->limit_offset))
		return NULL;
	return (const void *)((const char *)h + z->table_offset);
}

/* Keeps out[0..*n) the most refused first, at most max. */
static void limit_top_insert(struct shoal_state_limit_top *out, size_t *n, size_t max,
			     const char *key, uint64_t rejected)
{
	size_t j;

	if (*n == max && out[max - 1].rejected >= rejected)
		return;
	j = *n < max ? (*n)++ : max - 1;
	for (; j > 0 && out[j - 1].rejected < rejected; j--)
		out[j] = out[j - 1];
	memcpy(out[j].key, key, SHOAL_STATE_LIMIT_KEY_TEXT);
	out[j].key[SHOAL_STATE_LIMIT_KEY_TEXT] = '\0';
	out[j].rejected = rejected;
}

size_t shoal_state_limit_top(const struct shoal_state *st, const struct shoal_state_limit_zone *z,
			     struct shoal_state_limit_top *out, size_t max)
{
	const struct shoal_state_limit_bucket *table = limit_table(st, z);
	size_t n = 0;

	for (uint32_t i = 0; table && max && i < z->buckets; i++) {
		const struct shoal_state_limit_bucket *b = &table[i];
		for (int w = 0; w < WAYS; w++) {
			uint64_t rejected = LOAD(b->rejected[w]);
			if (rejected && LOAD(b->key_hash[w]))
				limit_top_insert(out, &n, max, b->key[w], rejected);
		}
	}
	return n;
}
