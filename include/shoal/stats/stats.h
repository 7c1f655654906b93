/* Live statistics in a shared file: the master creates it, every worker counts into its own
 * slot, and readers such as shoalctl map it read-only.
 *
 * The file layout is a public interface, readable from any language. All integers are
 * native-endian and fixed width, at the offsets asserted below; a change of layout bumps
 * SHOAL_STATS_VERSION. The file is:
 *
 *   header             (header_size bytes at offset 0)
 *   retired            (counters of the workers that exited, at retired_offset)
 *   retired upstreams  (upstream_retired_room entries of upstream_entry_size bytes, at
 *                       upstream_retired_offset: the upstream counters of the workers that
 *                       exited, one entry per (upstream, server) pair, the first
 *                       upstream_retired_used in use)
 *   slots              (slot_capacity slots of slot_size bytes each, at slots_offset; each
 *                       ends with upstream_room upstream entries, the first `upstreams` of
 *                       them registered by its worker)
 *
 * The master allocates a slot's room in the file when it first claims it, so the file takes
 * memory for the slots ever used (slots_used), not for its capacity: a reader must not
 * expect the pages past slots_used to be backed (they read as zeros).
 *
 * Consistency, for readers written in other languages:
 *   - Each slot has a sequence number `seq` with one writer (the worker that owns the slot).
 *     The writer makes seq odd before a batch of counter updates and even again after. A
 *     reader loads seq (acquire), copies the slot, issues an acquire fence, loads seq again,
 *     and keeps the copy only if both loads returned the same even value.
 *   - The header's `seq` works the same way; only the master writes it, around every change
 *     of the slot set (claim, release), of the retired counters and of the generation. A
 *     snapshot is consistent if the header seq was even and unchanged across reading the
 *     retired block and all the slots, so a worker folded into the retired counters while
 *     the reader looked is never counted twice nor missed.
 *   - Only the first `slots_used` slots (read inside the header's sequence section) can be in
 *     use, so a reader need not touch the rest of a file sized for many workers.
 *   - Totals are the retired counters plus the counters of every slot not free. Counters only
 *     grow; gauges (SHOAL_STATS_CONN_ACTIVE .. SHOAL_STATS_CONN_IDLE) are live values and stay
 *     zero in the retired block.
 *   - Upstream entries are the same: a worker's entries are part of its slot (its `seq`
 *     covers them and its `upstreams` count), the retired upstream entries are part of the
 *     header's section. Totals per upstream server add up the retired entry and the live
 *     slots' entries of the same (upstream, server) names; the gauges
 *     SHOAL_STATS_UP_ACTIVE and SHOAL_STATS_UP_IDLE stay zero in the retired entries. When
 *     the retired upstream area is full, a new pair's counters are dropped as its worker
 *     exits and counted in upstream_dropped.
 *   - A worker's pid, state and heartbeat are single values, stored atomically outside the
 *     sequence sections. */
#ifndef SHOAL_STATS_STATS_H
#define SHOAL_STATS_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "shoal/base/error.h"

#if ATOMIC_LLONG_LOCK_FREE != 2
#error "shared statistics need lock-free 64-bit atomics"
#endif

#define SHOAL_STATS_MAGIC "SHOALSTS"
#define SHOAL_STATS_VERSION 4u
#define SHOAL_STATS_DEFAULT_PATH "/dev/shm/shoal.stats"
#define SHOAL_STATS_MAX_CAPACITY 65536u
#define SHOAL_STATS_CACHELINE 64

/* Latency buckets: bucket i counts requests of at most 2^i microseconds (1 us .. 2^24 us,
 * about 16.8 s); the last one counts the slower ones (+Inf). Counts are per bucket, not
 * cumulative. */
#define SHOAL_STATS_LATENCY_FINITE 25
#define SHOAL_STATS_LATENCY_BUCKETS (SHOAL_STATS_LATENCY_FINITE + 1)

/* Indices into a counters array. The values are part of the layout. */
enum shoal_stats_counter {
	SHOAL_STATS_CONN_ACCEPTED = 0,
	SHOAL_STATS_CONN_CLOSED = 1,
	SHOAL_STATS_CONN_ACTIVE = 2,  /* gauge */
	SHOAL_STATS_CONN_READING = 3, /* gauge: waiting for or reading a request */
	SHOAL_STATS_CONN_WRITING = 4, /* gauge: sending a response */
	SHOAL_STATS_CONN_IDLE = 5,    /* gauge: keep-alive between requests */
	SHOAL_STATS_REQUESTS = 6,
	SHOAL_STATS_BYTES_IN = 7,
	SHOAL_STATS_BYTES_OUT = 8,
	SHOAL_STATS_RESP_1XX = 9, /* then 2xx .. 5xx at 10 .. 13 */
	SHOAL_STATS_RESP_CODE = 14, /* one per entry of SHOAL_STATS_CODES, in that order */
	SHOAL_STATS_ERR_PARSE = 30,
	SHOAL_STATS_ERR_TIMEOUT = 31,
	SHOAL_STATS_ERR_RESET = 32,
	SHOAL_STATS_ERR_LIMIT = 33, /* refused by a limit (connections, sizes) */
	SHOAL_STATS_LATENCY_SUM_US = 34,
	SHOAL_STATS_LATENCY = 35, /* SHOAL_STATS_LATENCY_BUCKETS buckets */
	/* PROXY protocol headers on the addresses that require one (layout 4): taken, refused
	 * with their connection as its peer is not in proxy_protocol_from, malformed (or longer
	 * than the buffer), not whole within proxy_protocol_timeout. */
	SHOAL_STATS_PROXY_ACCEPTED = SHOAL_STATS_LATENCY + SHOAL_STATS_LATENCY_BUCKETS,
	SHOAL_STATS_PROXY_REFUSED = SHOAL_STATS_PROXY_ACCEPTED + 1,
	SHOAL_STATS_PROXY_MALFORMED = SHOAL_STATS_PROXY_ACCEPTED + 2,
	SHOAL_STATS_PROXY_TIMEOUT = SHOAL_STATS_PROXY_ACCEPTED + 3,
	/* TLS handshakes on the addresses with the tls flag (layout 4, in its room): done in
	 * full, done by resuming a session (a ticket accepted), failed by reason (enum
	 * shoal_stats_tls_fail), and those done by protocol version (TLSv1.2, TLSv1.3). */
	SHOAL_STATS_TLS_FULL = SHOAL_STATS_PROXY_ACCEPTED + 4,
	SHOAL_STATS_TLS_RESUMED = SHOAL_STATS_TLS_FULL + 1,
	SHOAL_STATS_TLS_FAIL = SHOAL_STATS_TLS_FULL + 2,
	SHOAL_STATS_TLS_VERSION = SHOAL_STATS_TLS_FAIL + 6,
	SHOAL_STATS_NCOUNTERS = SHOAL_STATS_TLS_VERSION + 2,
};

/* Room for counters in the layout; the ones past SHOAL_STATS_NCOUNTERS stay zero. */
#define SHOAL_STATS_COUNTER_ROOM 128

/* The status codes counted one by one, in the order of their counters. */
#define SHOAL_STATS_CODES \
	200, 206, 301, 304, 400, 403, 404, 405, 408, 413, 414, 416, 431, 500, 503, 505
#define SHOAL_STATS_NCODES 16

/* Upstream servers a worker can count (entries per slot), and (upstream, server) pairs the
 * retired upstream area keeps. A worker's servers beyond the room are not counted. */
#define SHOAL_STATS_UPSTREAM_ROOM 64
#define SHOAL_STATS_UPSTREAM_RETIRED_ROOM 256
/* The upstream name and the server address of an entry: text, NUL-padded to this size, so
 * at most 63 bytes (longer ones are cut). */
#define SHOAL_STATS_UPSTREAM_TEXT 64

/* Indices into an upstream entry's counters. The values are part of the layout. */
enum shoal_stats_upstream_counter {
	SHOAL_STATS_UP_REQUESTS = 0,    /* requests sent */
	SHOAL_STATS_UP_RESP_1XX = 1,    /* then 2xx .. 5xx at 2 .. 5 */
	SHOAL_STATS_UP_FAIL_CONNECT = 6,
	SHOAL_STATS_UP_FAIL_TIMEOUT = 7,
	SHOAL_STATS_UP_FAIL_RESET = 8,
	SHOAL_STATS_UP_FAIL_INVALID = 9, /* a bad response head or framing */
	SHOAL_STATS_UP_ACTIVE = 10,     /* gauge: connections busy with a request */
	SHOAL_STATS_UP_IDLE = 11,       /* gauge: connections in the keep-alive pool */
	SHOAL_STATS_UP_BYTES_SENT = 12,
	SHOAL_STATS_UP_BYTES_RECEIVED = 13,
	SHOAL_STATS_UP_TTFB_SUM_US = 14, /* time to the first byte of the response */
	SHOAL_STATS_UP_TTFB = 15,       /* SHOAL_STATS_LATENCY_BUCKETS buckets, as the latency */
	/* A group's queue (below): requests that waited in it, that found it full, and that
	 * waited queue_timeout for nothing. */
	SHOAL_STATS_UP_QUEUED = SHOAL_STATS_UP_TTFB + SHOAL_STATS_LATENCY_BUCKETS,
	SHOAL_STATS_UP_QUEUE_FULL = SHOAL_STATS_UP_QUEUED + 1,
	SHOAL_STATS_UP_QUEUE_TIMEOUT = SHOAL_STATS_UP_QUEUED + 2,
	SHOAL_STATS_UP_NCOUNTERS = SHOAL_STATS_UP_QUEUED + 3,
};

/* An upstream entry whose server name is empty is an upstream group's queue (a group with
 * `queue`), not a server: its SHOAL_STATS_UP_ACTIVE gauge counts the requests waiting in
 * the queue, its SHOAL_STATS_UP_QUEUE* counters what the queue did; the others stay zero. */

/* Room for counters in an upstream entry; the ones past SHOAL_STATS_UP_NCOUNTERS stay zero.
 * Counters added within the room keep the layout version: a reader that does not know them
 * ignores them, and in an older file they read as zeros. */
#define SHOAL_STATS_UP_COUNTER_ROOM 48

enum shoal_stats_state {
	SHOAL_STATS_FREE = 0,
	SHOAL_STATS_STARTING = 1,
	SHOAL_STATS_RUNNING = 2,
	SHOAL_STATS_DRAINING = 3,
};

enum shoal_stats_phase {
	SHOAL_STATS_PHASE_READING = 0,
	SHOAL_STATS_PHASE_WRITING = 1,
	SHOAL_STATS_PHASE_IDLE = 2,
};

enum shoal_stats_error {
	SHOAL_STATS_ERROR_PARSE = 0,
	SHOAL_STATS_ERROR_TIMEOUT = 1,
	SHOAL_STATS_ERROR_RESET = 2,
	SHOAL_STATS_ERROR_LIMIT = 3,
};

/* What became of a PROXY protocol header, in the order of its counters. */
enum shoal_stats_proxy {
	SHOAL_STATS_PROXY_HEADER_ACCEPTED = 0,
	SHOAL_STATS_PROXY_HEADER_REFUSED = 1,
	SHOAL_STATS_PROXY_HEADER_MALFORMED = 2,
	SHOAL_STATS_PROXY_HEADER_TIMEOUT = 3,
};

/* Why a TLS handshake failed, in the order of its counters: no version, cipher or group in
 * common; a certificate refused; not TLS (plain HTTP, a scan); the peer closed or reset
 * mid-handshake; not done within header_timeout; anything else. */
enum shoal_stats_tls_fail {
	SHOAL_STATS_TLS_FAIL_PROTOCOL = 0,
	SHOAL_STATS_TLS_FAIL_CERTIFICATE = 1,
	SHOAL_STATS_TLS_FAIL_GARBAGE = 2,
	SHOAL_STATS_TLS_FAIL_CLOSED = 3,
	SHOAL_STATS_TLS_FAIL_TIMEOUT = 4,
	SHOAL_STATS_TLS_FAIL_OTHER = 5,
};

/* The protocol version of a TLS handshake done, in the order of its counters. */
enum shoal_stats_tls_version {
	SHOAL_STATS_TLS_V1_2 = 0,
	SHOAL_STATS_TLS_V1_3 = 1,
};

struct shoal_stats_header {
	char magic[8];                 /* "SHOALSTS", no NUL */
	uint32_t version;              /* SHOAL_STATS_VERSION */
	uint32_t header_size;          /* sizeof(struct shoal_stats_header) */
	uint32_t slot_size;            /* sizeof(struct shoal_stats_slot) */
	uint32_t slot_capacity;
	uint64_t retired_offset;
	uint64_t slots_offset;
	uint32_t master_pid;
	uint32_t counter_room;         /* SHOAL_STATS_COUNTER_ROOM */
	uint64_t start_time;           /* unix seconds */
	_Atomic uint64_t seq;          /* the file-wide sequence, written by the master only */
	_Atomic uint64_t generation;   /* configuration generation */
	_Atomic uint64_t updated_ms;   /* unix ms of the master's last change */
	_Atomic uint64_t retired_workers;
	_Atomic uint32_t slots_used;   /* slots at this index and above are free (never shrinks) */
	uint32_t upstream_room;        /* SHOAL_STATS_UPSTREAM_ROOM entries per slot */
	uint64_t upstream_retired_offset;
	uint32_t upstream_retired_room; /* SHOAL_STATS_UPSTREAM_RETIRED_ROOM */
	uint32_t upstream_entry_size;  /* sizeof(struct shoal_stats_upstream_entry) */
	_Atomic uint32_t upstream_retired_used;
	uint8_t reserved[4];
	_Atomic uint64_t upstream_dropped; /* exited workers' entries the retired area had no room for */
};

struct shoal_stats_block {
	_Atomic uint64_t counters[SHOAL_STATS_COUNTER_ROOM];
};

/* The counters of one upstream server (a server of an upstream group) in one worker, or of
 * the workers that exited. Both texts are NUL-padded, so equal names are equal bytes. */
struct shoal_stats_upstream_entry {
	_Alignas(SHOAL_STATS_CACHELINE) char upstream[SHOAL_STATS_UPSTREAM_TEXT];
	char server[SHOAL_STATS_UPSTREAM_TEXT]; /* its address as text: "127.0.0.1:9001" */
	_Atomic uint64_t counters[SHOAL_STATS_UP_COUNTER_ROOM];
};

/* One worker process. Cacheline-aligned so that workers never share a line. */
struct shoal_stats_slot {
	_Alignas(SHOAL_STATS_CACHELINE) _Atomic uint64_t seq;
	_Atomic uint32_t pid;          /* 0 until the worker has started */
	_Atomic uint32_t worker_slot;  /* the master's slot number; shared during a reload */
	_Atomic uint32_t generation;
	_Atomic uint32_t state;        /* enum shoal_stats_state */
	_Atomic uint64_t start_ms;     /* unix ms of the claim */
	_Atomic uint64_t heartbeat_ms; /* CLOCK_MONOTONIC ms of the worker's last loop turn */
	_Atomic uint32_t upstreams;    /* entries of upstream[] registered, in order */
	uint8_t reserved[20];
	struct shoal_stats_block block;
	struct shoal_stats_upstream_entry upstream[SHOAL_STATS_UPSTREAM_ROOM];
};

_Static_assert(sizeof(_Atomic uint64_t) == 8 && sizeof(_Atomic uint32_t) == 4,
	       "atomics must have the size of the plain types");
_Static_assert(offsetof(struct shoal_stats_header, version) == 8, "layout");
_Static_assert(offsetof(struct shoal_stats_header, retired_offset) == 24, "layout");
_Static_assert(offsetof(struct shoal_stats_header, master_pid) == 40, "layout");
_Static_assert(offsetof(struct shoal_stats_header, start_time) == 48, "layout");
_Static_assert(offsetof(struct shoal_stats_header, seq) == 56, "layout");
_Static_assert(offsetof(struct shoal_stats_header, retired_workers) == 80, "layout");
_Static_assert(offsetof(struct shoal_stats_header, slots_used) == 88, "layout");
_Static_assert(offsetof(struct shoal_stats_header, upstream_room) == 92, "layout");
_Static_assert(offsetof(struct shoal_stats_header, upstream_retired_offset) == 96, "layout");
_Static_assert(offsetof(struct shoal_stats_header, upstream_retired_room) == 104, "layout");
_Static_assert(offsetof(struct shoal_stats_header, upstream_entry_size) == 108, "layout");
_Static_assert(offsetof(struct shoal_stats_header, upstream_retired_used) == 112, "layout");
_Static_assert(offsetof(struct shoal_stats_header, upstream_dropped) == 120, "layout");
_Static_assert(sizeof(struct shoal_stats_header) == 128, "layout");
_Static_assert(sizeof(struct shoal_stats_block) == 1024, "layout");
_Static_assert(offsetof(struct shoal_stats_upstream_entry, server) == 64, "layout");
_Static_assert(offsetof(struct shoal_stats_upstream_entry, counters) == 128, "layout");
_Static_assert(sizeof(struct shoal_stats_upstream_entry) == 512, "layout");
_Static_assert(offsetof(struct shoal_stats_slot, state) == 20, "layout");
_Static_assert(offsetof(struct shoal_stats_slot, heartbeat_ms) == 32, "layout");
_Static_assert(offsetof(struct shoal_stats_slot, upstreams) == 40, "layout");
_Static_assert(offsetof(struct shoal_stats_slot, block) == 64, "layout");
_Static_assert(offsetof(struct shoal_stats_slot, upstream) == 1088, "layout");
_Static_assert(sizeof(struct shoal_stats_slot) == 1088 + 64 * 512, "layout");
_Static_assert(SHOAL_STATS_RESP_CODE + SHOAL_STATS_NCODES == SHOAL_STATS_ERR_PARSE, "codes");
_Static_assert(SHOAL_STATS_TLS_FAIL + SHOAL_STATS_TLS_FAIL_OTHER + 1 == SHOAL_STATS_TLS_VERSION,
	       "tls failure reasons");
_Static_assert(SHOAL_STATS_NCOUNTERS <= SHOAL_STATS_COUNTER_ROOM, "counter room");
_Static_assert(SHOAL_STATS_UP_NCOUNTERS <= SHOAL_STATS_UP_COUNTER_ROOM, "upstream counter room");

/* A mapping of a stats file: the master's (writable) or a reader's. */
struct shoal_stats_view {
	struct shoal_stats_header *hdr;
	size_t size;
	dev_t dev; /* identify the file, so a reader can notice it was recreated */
	ino_t ino;
};

/* The master's handle. Workers inherit the mapping across fork. */
struct shoal_stats {
	struct shoal_stats_view view;
	char *path;
	/* Kept open for flock: during a binary upgrade two masters change the header and the
	 * retired block, and the lock keeps their sections from interleaving. */
	int fd;
};

/* A consistent copy of one worker's slot. */
struct shoal_stats_worker {
	unsigned index; /* stats slot index */
	pid_t pid;
	unsigned worker_slot;
	unsigned generation;
	enum shoal_stats_state state;
	uint64_t start_ms;
	uint64_t heartbeat_ms;
	uint64_t counters[SHOAL_STATS_NCOUNTERS];
};

/* One upstream server's totals: the retired entry and every live worker's, added up. */
struct shoal_stats_upstream_stat {
	char upstream[SHOAL_STATS_UPSTREAM_TEXT];
	char server[SHOAL_STATS_UPSTREAM_TEXT];
	uint64_t counters[SHOAL_STATS_UP_NCOUNTERS];
};

struct shoal_stats_snapshot {
	pid_t master_pid;
	uint64_t start_time;
	uint64_t generation;
	uint64_t updated_ms;
	uint64_t retired_workers;
	uint64_t taken_ms; /* unix ms when the snapshot was taken */
	uint64_t retired[SHOAL_STATS_NCOUNTERS];
	uint64_t totals[SHOAL_STATS_NCOUNTERS];
	unsigned nworkers; /* live workers, in workers[], by slot index */
	unsigned capacity;
	struct shoal_stats_worker *workers;
	uint64_t upstream_dropped;
	unsigned nupstreams; /* upstream servers, in upstreams[], by upstream then server name */
	unsigned upstreams_room;
	struct shoal_stats_upstream_stat *upstreams;
	struct shoal_stats_upstream_stat *upstream_scratch; /* one slot's, while copying it */
};

/* --- master --- */

/* Creates (or atomically replaces) the file at path with room for capacity workers, mode
 * 0640, owned by uid/gid ((uid_t)-1 / (gid_t)-1: unchanged), and maps it. */
int shoal_stats_create(struct shoal_stats *st, const char *path, unsigned capacity, uid_t uid,
		       gid_t gid, struct shoal_err *err);

/* Maps the stats file an earlier master made (binary upgrade): counters continue. Fails if
 * it is not a file of this layout version, which the caller then replaces. */
int shoal_stats_adopt(struct shoal_stats *st, const char *path, struct shoal_err *err);

/* Takes a free slot for a worker about to be forked; returns its index, or -1 when full
 * (or when a slot used for the first time finds no room on the file system). The child then
 * owns the slot (shoal_stats_slot_at) until the master releases it. */
int shoal_stats_claim(struct shoal_stats *st, unsigned worker_slot, unsigned generation);

/* Folds the counters of a worker that has been reaped (or never started) into the retired
 * block, and its upstream entries into the retired upstream area (shoal/stats/upstream.h),
 * and frees its slot. A negative index is ignored. */
void shoal_stats_release(struct shoal_stats *st, int index);

void shoal_stats_set_generation(struct shoal_stats *st, unsigned generation);

/* Unmaps; with remove_file, also removes the file (a stopping master). */
void shoal_stats_close(struct shoal_stats *st, bool remove_file);

/* --- worker: every call below accepts a NULL slot (no statistics) and does nothing --- */

/* NULL if index is out of range. */
struct shoal_stats_slot *shoal_stats_slot_at(struct shoal_stats *st, int index);

/* First call of a forked worker: records its pid and marks it running. */
void shoal_stats_worker_start(struct shoal_stats_slot *slot, pid_t pid);

static inline void shoal_stats_worker_state(struct shoal_stats_slot *slot,
					    enum shoal_stats_state state)
{
	if (slot)
		atomic_store_explicit(&slot->state, (uint32_t)state, memory_order_relaxed);
}

static inline void shoal_stats_heartbeat(struct shoal_stats_slot *slot, uint64_t now_ms)
{
	if (slot)
		atomic_store_explicit(&slot->heartbeat_ms, now_ms, memory_order_relaxed);
}

static inline void shoal_stats_write_begin(struct shoal_stats_slot *slot)
{
	uint64_t seq = atomic_load_explicit(&slot->seq, memory_order_relaxed);

	atomic_store_explicit(&slot->seq, seq + 1, memory_order_relaxed);
	/* No counter store may become visible before the odd sequence. */
	atomic_thread_fence(memory_order_release);
}

static inline void shoal_stats_write_end(struct shoal_stats_slot *slot)
{
	uint64_t seq = atomic_load_explicit(&slot->seq, memory_order_relaxed);

	atomic_store_explicit(&slot->seq, seq + 1, memory_order_release);
}

/* Single writer: a load and a store, no read-modify-write instruction needed. */
static inline void shoal_stats_add(struct shoal_stats_slot *slot, unsigned counter, uint64_t n)
{
	_Atomic uint64_t *c = &slot->block.counters[counter];

	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline void shoal_stats_sub(struct shoal_stats_slot *slot, unsigned counter, uint64_t n)
{
	_Atomic uint64_t *c = &slot->block.counters[counter];

	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) - n,
			      memory_order_relaxed);
}

/* A new connection starts in the reading phase. */
static inline void shoal_stats_conn_opened(struct shoal_stats_slot *slot)
{
	if (!slot)
		return;
	shoal_stats_write_begin(slot);
	shoal_stats_add(slot, SHOAL_STATS_CONN_ACCEPTED, 1);
	shoal_stats_add(slot, SHOAL_STATS_CONN_ACTIVE, 1);
	shoal_stats_add(slot, SHOAL_STATS_CONN_READING, 1);
	shoal_stats_write_end(slot);
}

/* phase: the one the connection was in when it closed. */
static inline void shoal_stats_conn_closed(struct shoal_stats_slot *slot,
					   enum shoal_stats_phase phase)
{
	if (!slot)
		return;
	shoal_stats_write_begin(slot);
	shoal_stats_add(slot, SHOAL_STATS_CONN_CLOSED, 1);
	shoal_stats_sub(slot, SHOAL_STATS_CONN_ACTIVE, 1);
	shoal_stats_sub(slot, SHOAL_STATS_CONN_READING + (unsigned)phase, 1);
	shoal_stats_write_end(slot);
}

static inline void shoal_stats_conn_phase(struct shoal_stats_slot *slot,
					  enum shoal_stats_phase from, enum shoal_stats_phase to)
{
	if (!slot || from == to)
		return;
	shoal_stats_write_begin(slot);
	shoal_stats_sub(slot, SHOAL_STATS_CONN_READING + (unsigned)from, 1);
	shoal_stats_add(slot, SHOAL_STATS_CONN_READING + (unsigned)to, 1);
	shoal_stats_write_end(slot);
}

/* Counter index of a status code counted one by one, or -1. */
static inline int shoal_stats_code_counter(int status)
{
	static const int codes[SHOAL_STATS_NCODES] = { SHOAL_STATS_CODES };

	for (int i = 0; i < SHOAL_STATS_NCODES; i++)
		if (codes[i] == status)
			return SHOAL_STATS_RESP_CODE + i;
	return -1;
}

/* Bucket of a latency: the smallest i with latency_us <= 2^i, or the +Inf bucket. */
static inline unsigned shoal_stats_latency_bucket(uint64_t latency_us)
{
	unsigned bucket = latency_us <= 1 ? 0 : 64 - (unsigned)__builtin_clzll(latency_us - 1);

	return bucket < SHOAL_STATS_LATENCY_FINITE ? bucket : SHOAL_STATS_LATENCY_FINITE;
}

/* One answered request, in one sequence section. A status outside 100..599 counts as a
 * request but in no class. */
static inline void shoal_stats_request_done(struct shoal_stats_slot *slot, int status,
					    uint64_t bytes_in, uint64_t bytes_out,
					    uint64_t latency_us)
{
	int code;

	if (!slot)
		return;
	code = shoal_stats_code_counter(status);
	shoal_stats_write_begin(slot);
	shoal_stats_add(slot, SHOAL_STATS_REQUESTS, 1);
	if (status >= 100 && status < 600)
		shoal_stats_add(slot, SHOAL_STATS_RESP_1XX + (unsigned)(status / 100 - 1), 1);
	if (code >= 0)
		shoal_stats_add(slot, (unsigned)code, 1);
	shoal_stats_add(slot, SHOAL_STATS_BYTES_IN, bytes_in);
	shoal_stats_add(slot, SHOAL_STATS_BYTES_OUT, bytes_out);
	shoal_stats_add(slot, SHOAL_STATS_LATENCY_SUM_US, latency_us);
	shoal_stats_add(slot, SHOAL_STATS_LATENCY + shoal_stats_latency_bucket(latency_us), 1);
	shoal_stats_write_end(slot);
}

/* One event counted alone: counter + 1 in a write of its own; nothing without a slot. */
static inline void shoal_stats_count(struct shoal_stats_slot *slot, unsigned counter)
{
	if (!slot)
		return;
	shoal_stats_write_begin(slot);
	shoal_stats_add(slot, counter, 1);
	shoal_stats_write_end(slot);
}

static inline void shoal_stats_error(struct shoal_stats_slot *slot, enum shoal_stats_error kind)
{
	shoal_stats_count(slot, SHOAL_STATS_ERR_PARSE + (unsigned)kind);
}

static inline void shoal_stats_proxy_header(struct shoal_stats_slot *slot,
					    enum shoal_stats_proxy outcome)
{
	shoal_stats_count(slot, SHOAL_STATS_PROXY_ACCEPTED + (unsigned)outcome);
}

/* A TLS handshake done: resumed or in full, and its version. */
static inline void shoal_stats_tls_handshake(struct shoal_stats_slot *slot, bool resumed,
					     enum shoal_stats_tls_version version)
{
	if (!slot)
		return;
	shoal_stats_write_begin(slot);
	shoal_stats_add(slot, resumed ? SHOAL_STATS_TLS_RESUMED : SHOAL_STATS_TLS_FULL, 1);
	if ((unsigned)version <= SHOAL_STATS_TLS_V1_3)
		shoal_stats_add(slot, SHOAL_STATS_TLS_VERSION + (unsigned)version, 1);
	shoal_stats_write_end(slot);
}

static inline void shoal_stats_tls_failed(struct shoal_stats_slot *slot,
					  enum shoal_stats_tls_fail why)
{
	shoal_stats_count(slot, SHOAL_STATS_TLS_FAIL + (unsigned)why);
}

/* --- readers --- */

/* Maps path read-only after checking it is a stats file of this layout version. */
int shoal_stats_open_read(struct shoal_stats_view *v, const char *path, struct shoal_err *err);
void shoal_stats_view_close(struct shoal_stats_view *v);

/* Allocates room for every slot of v (upstream servers get room as the snapshot finds them). */
int shoal_stats_snapshot_init(struct shoal_stats_snapshot *snap, const struct shoal_stats_view *v,
			      struct shoal_err *err);
void shoal_stats_snapshot_free(struct shoal_stats_snapshot *snap);

/* Copies totals, live workers and upstream servers consistently without ever blocking a
 * writer. Fails only if the file stays in mid-update for about a second (a worker killed
 * mid-section, not reaped), or if memory for the upstream servers runs out. */
int shoal_stats_snapshot(const struct shoal_stats_view *v, struct shoal_stats_snapshot *snap,
			 struct shoal_err *err);

/* Quantile (0 < q <= 1) in microseconds of SHOAL_STATS_LATENCY_BUCKETS histogram buckets
 * (the latency's, or an upstream's time to first byte), interpolated within the bucket; 0
 * when the buckets are empty. */
double shoal_stats_histogram_quantile_us(const uint64_t *buckets, double q);

/* The request latency quantile of a counters array (see above). */
double shoal_stats_latency_quantile_us(const uint64_t *counters, double q);

/* Stable snake_case names (JSON keys): "requests", "responses_404", "errors_timeout",
 * "proxy_protocol_refused", ...; NULL for the latency buckets and past the end. */
const char *shoal_stats_counter_name(unsigned counter);
const char *shoal_stats_state_name(enum shoal_stats_state state);

/* Upper bound of a finite latency bucket, in microseconds. */
static inline uint64_t shoal_stats_bucket_bound_us(unsigned bucket)
{
	return (uint64_t)1 << bucket;
}

#endif
