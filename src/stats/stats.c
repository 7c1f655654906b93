#include <errno.h>
#include <sys/file.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shoal/base/clock.h"
#include "shoal/base/mapfile.h"
#include "shoal/stats/stats.h"
#include "shoal/stats/upstream.h"

#define RETIRED_OFFSET sizeof(struct shoal_stats_header)
#define UPSTREAM_RETIRED_OFFSET (RETIRED_OFFSET + sizeof(struct shoal_stats_block))
#define SLOTS_OFFSET                                                                  \
	(UPSTREAM_RETIRED_OFFSET +                                                    \
	 SHOAL_STATS_UPSTREAM_RETIRED_ROOM * sizeof(struct shoal_stats_upstream_entry))
/* A slot copy is retried this often before the whole snapshot starts over. */
#define SLOT_TRIES 64
/* Snapshot attempts: the first ones spin, the rest sleep SNAPSHOT_SLEEP_NS in between. */
#define SNAPSHOT_TRIES 1000
#define SNAPSHOT_SPINS 16
#define SNAPSHOT_SLEEP_NS 1000000L

_Static_assert(RETIRED_OFFSET % SHOAL_STATS_CACHELINE == 0, "retired block alignment");
_Static_assert(UPSTREAM_RETIRED_OFFSET % SHOAL_STATS_CACHELINE == 0, "upstream alignment");
_Static_assert(SLOTS_OFFSET % SHOAL_STATS_CACHELINE == 0, "slot alignment");

static size_t stats_file_size(unsigned capacity)
{
	return SLOTS_OFFSET + (size_t)capacity * sizeof(struct shoal_stats_slot);
}

static struct shoal_stats_block *stats_retired(const struct shoal_stats_view *v)
{
	return (struct shoal_stats_block *)((char *)v->hdr + v->hdr->retired_offset);
}

static struct shoal_stats_slot *stats_slot(const struct shoal_stats_view *v, unsigned index)
{
	return (struct shoal_stats_slot *)((char *)v->hdr + v->hdr->slots_offset) + index;
}

static bool stats_is_gauge(unsigned counter)
{
	return counter >= SHOAL_STATS_CONN_ACTIVE && counter <= SHOAL_STATS_CONN_IDLE;
}

static void stats_init_header(struct shoal_stats_header *h, unsigned capacity)
{
	memcpy(h->magic, SHOAL_STATS_MAGIC, sizeof(h->magic));
	h->version = SHOAL_STATS_VERSION;
	h->header_size = sizeof(*h);
	h->slot_size = sizeof(struct shoal_stats_slot);
	h->slot_capacity = capacity;
	h->retired_offset = RETIRED_OFFSET;
	h->slots_offset = SLOTS_OFFSET;
	h->master_pid = (uint32_t)getpid();
	h->counter_room = SHOAL_STATS_COUNTER_ROOM;
	h->start_time = (uint64_t)time(NULL);
	h->upstream_room = SHOAL_STATS_UPSTREAM_ROOM;
	h->upstream_retired_offset = UPSTREAM_RETIRED_OFFSET;
	h->upstream_retired_room = SHOAL_STATS_UPSTREAM_RETIRED_ROOM;
	h->upstream_entry_size = sizeof(struct shoal_stats_upstream_entry);
	atomic_store_explicit(&h->updated_ms, shoal_clock_unix_ms(), memory_order_relaxed);
}

/* Sizes, owns and fills the not yet visible file. The space is allocated before it is
 * written, as a page first touched on a full tmpfs would kill the writer with SIGBUS: here
 * the header and the retired areas, a slot when it is first claimed (stats_allocate_slot),
 * so that a file sized for many workers takes memory only for those that ran. */
static int stats_prepare(struct shoal_stats *st, int fd, const char *tmp, unsigned capacity,
			 uid_t uid, gid_t gid, struct shoal_err *err)
{
	size_t size = stats_file_size(capacity);
	int rc;
	void *map;

	if (fchmod(fd, 0640) < 0)
		return shoal_err_set(err, "%s: chmod: %s", tmp, strerror(errno));
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid) < 0)
		return shoal_err_set(err, "%s: chown: %s", tmp, strerror(errno));
	if (ftruncate(fd, (off_t)size) < 0)
		return shoal_err_set(err, "%s: truncate: %s", tmp, strerror(errno));
	rc = posix_fallocate(fd, 0, (off_t)SLOTS_OFFSET);
	if (rc != 0)
		return shoal_err_set(err, "%s: allocate %zu bytes: %s", tmp, (size_t)SLOTS_OFFSET,
				     strerror(rc));
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return shoal_err_set(err, "%s: mmap: %s", tmp, strerror(errno));
	st->view.hdr = map;
	st->view.size = size;
	stats_init_header(st->view.hdr, capacity);
	return 0;
}

static int stats_identify(struct shoal_stats_view *v, int fd)
{
	struct stat sb;

	if (fstat(fd, &sb) < 0)
		return -1;
	v->dev = sb.st_dev;
	v->ino = sb.st_ino;
	return 0;
}

int shoal_stats_create(struct shoal_stats *st, const char *path, unsigned capacity, uid_t uid,
		       gid_t gid, struct shoal_err *err)
{
	size_t len = strlen(path);
	char *tmp = malloc(len + sizeof(".XXXXXX"));
	int fd = -1;

	*st = (struct shoal_stats){ .path = strdup(path), .fd = -1 };
	if (capacity == 0 || capacity > SHOAL_STATS_MAX_CAPACITY) {
		shoal_err_set(err, "%s: room for %u workers asked, 1 to %u possible", path, capacity,
			      SHOAL_STATS_MAX_CAPACITY);
		goto fail;
	}
	if (!tmp || !st->path) {
		shoal_err_set(err, "out of memory");
		goto fail;
	}
	memcpy(tmp, path, len);
	memcpy(tmp + len, ".XXXXXX", sizeof(".XXXXXX"));
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		shoal_err_set(err, "%s: cannot create: %s", path, strerror(errno));
		goto fail;
	}
	/* Readers only ever see a complete file: it appears under its name once filled. */
	if (stats_prepare(st, fd, tmp, capacity, uid, gid, err) < 0 || stats_identify(&st->view, fd) < 0)
		goto fail;
	if (rename(tmp, path) < 0) {
		shoal_err_set(err, "%s: cannot replace: %s", path, strerror(errno));
		goto fail;
	}
	st->fd = fd;
	free(tmp);
	return 0;
fail:
	if (fd >= 0) {
		unlink(tmp);
		close(fd);
	}
	free(tmp);
	shoal_stats_close(st, false);
	return -1;
}

void shoal_stats_close(struct shoal_stats *st, bool remove_file)
{
	if (remove_file && st->path && st->view.hdr)
		unlink(st->path);
	shoal_stats_view_close(&st->view);
	free(st->path);
	st->path = NULL;
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
}

static void stats_lock(const struct shoal_stats *st)
{
	while (st->fd >= 0 && flock(st->fd, LOCK_EX) < 0 && errno == EINTR)
		;
}

static void stats_unlock(const struct shoal_stats *st)
{
	if (st->fd >= 0)
		flock(st->fd, LOCK_UN);
}

static void stats_master_begin(struct shoal_stats_header *h)
{
	uint64_t seq = atomic_load_explicit(&h->seq, memory_order_relaxed);

	atomic_store_explicit(&h->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

static void stats_master_end(struct shoal_stats_header *h)
{
	uint64_t seq = atomic_load_explicit(&h->seq, memory_order_relaxed);

	atomic_store_explicit(&h->updated_ms, shoal_clock_unix_ms(), memory_order_relaxed);
	atomic_store_explicit(&h->seq, seq + 1, memory_order_release);
}

/* A slot past slots_used gets its room in the file. The page the slot starts in is shared
 * with the slot before it (or the retired area), which has its room already; only the pages
 * of this slot alone are allocated, so that glibc's fallback for file systems without
 * fallocate, which writes zero bytes into holes, never touches a byte a worker writes. */
static int stats_allocate_slot(const struct shoal_stats *st, unsigned index)
{
	const struct shoal_stats_header *h = st->view.hdr;
	off_t page = (off_t)sysconf(_SC_PAGESIZE);
	off_t start = (off_t)(h->slots_offset + (uint64_t)index * h->slot_size);
	off_t end = start + (off_t)h->slot_size;
	off_t from = (start + page - 1) / page * page;

	if (st->fd < 0 || index < atomic_load_explicit(&h->slots_used, memory_order_relaxed) ||
	    from >= end)
		return 0;
	return posix_fallocate(st->fd, from, end - from) == 0 ? 0 : -1;
}

int shoal_stats_claim(struct shoal_stats *st, unsigned worker_slot, unsigned generation)
{
	struct shoal_stats_header *h = st->view.hdr;
	int index = -1;

	stats_lock(st);
	for (unsigned i = 0; i < h->slot_capacity && index < 0; i++) {
		struct shoal_stats_slot *s = stats_slot(&st->view, i);
		if (atomic_load_explicit(&s->state, memory_order_relaxed) != SHOAL_STATS_FREE)
			continue;
		if (stats_allocate_slot(st, i) < 0)
			break;
		stats_master_begin(h);
		atomic_store_explicit(&s->pid, 0, memory_order_relaxed);
		atomic_store_explicit(&s->worker_slot, worker_slot, memory_order_relaxed);
		atomic_store_explicit(&s->generation, generation, memory_order_relaxed);
		atomic_store_explicit(&s->start_ms, shoal_clock_unix_ms(), memory_order_relaxed);
		atomic_store_explicit(&s->heartbeat_ms, shoal_clock_mono_us() / 1000,
				      memory_order_relaxed);
		atomic_store_explicit(&s->state, SHOAL_STATS_STARTING, memory_order_relaxed);
		if (atomic_load_explicit(&h->slots_used, memory_order_relaxed) <= i)
			atomic_store_explicit(&h->slots_used, i + 1, memory_order_relaxed);
		stats_master_end(h);
		index = (int)i;
	}
	stats_unlock(st);
	return index;
}

/* The worker is gone, so the master is the slot's only writer. A worker killed inside a
 * section left its sequence odd; whatever it had stored by then is folded. */
void shoal_stats_release(struct shoal_stats *st, int index)
{
	struct shoal_stats_slot *s = shoal_stats_slot_at(st, index);
	struct shoal_stats_header *h = st->view.hdr;
	struct shoal_stats_block *retired;
	uint64_t seq;

	if (!s || atomic_load_explicit(&s->state, memory_order_relaxed) == SHOAL_STATS_FREE)
		return;
	retired = stats_retired(&st->view);
	stats_lock(st);
	stats_master_begin(h);
	for (unsigned i = 0; i < SHOAL_STATS_NCOUNTERS; i++) {
		uint64_t n = atomic_load_explicit(&s->block.counters[i], memory_order_relaxed);
		if (!stats_is_gauge(i))
			atomic_store_explicit(&retired->counters[i],
					      atomic_load_explicit(&retired->counters[i],
								   memory_order_relaxed) + n,
					      memory_order_relaxed);
		atomic_store_explicit(&s->block.counters[i], 0, memory_order_relaxed);
	}
	shoal_stats_upstream_fold(h, s);
	atomic_store_explicit(&h->retired_workers,
			      atomic_load_explicit(&h->retired_workers, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	atomic_store_explicit(&s->pid, 0, memory_order_relaxed);
	atomic_store_explicit(&s->state, SHOAL_STATS_FREE, memory_order_relaxed);
	seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
	atomic_store_explicit(&s->seq, seq + (seq & 1), memory_order_relaxed);
	stats_master_end(h);
	stats_unlock(st);
}

void shoal_stats_set_generation(struct shoal_stats *st, unsigned generation)
{
	stats_lock(st);
	stats_master_begin(st->view.hdr);
	atomic_store_explicit(&st->view.hdr->generation, generation, memory_order_relaxed);
	stats_master_end(st->view.hdr);
	stats_unlock(st);
}

struct shoal_stats_slot *shoal_stats_slot_at(struct shoal_stats *st, int index)
{
	if (!st->view.hdr || index < 0 || (unsigned)index >= st->view.hdr->slot_capacity)
		return NULL;
	return stats_slot(&st->view, (unsigned)index);
}

void shoal_stats_worker_start(struct shoal_stats_slot *slot, pid_t pid)
{
	if (!slot)
		return;
	atomic_store_explicit(&slot->pid, (uint32_t)pid, memory_order_relaxed);
	atomic_store_explicit(&slot->heartbeat_ms, shoal_clock_mono_us() / 1000,
			      memory_order_relaxed);
	shoal_stats_worker_state(slot, SHOAL_STATS_RUNNING);
}

static int stats_check_layout(const struct shoal_stats_header *h, size_t size, const char *path,
			      struct shoal_err *err)
{
	if (memcmp(h->magic, SHOAL_STATS_MAGIC, sizeof(h->magic)) != 0)
		return shoal_err_set(err, "%s: not a shoal stats file (bad magic)", path);
	if (h->version != SHOAL_STATS_VERSION)
		return shoal_err_set(err, "%s: stats layout version %u; this tool reads version %u",
				     path, h->version, SHOAL_STATS_VERSION);
	if (h->header_size != sizeof(*h) || h->slot_size != sizeof(struct shoal_stats_slot) ||
	    h->counter_room != SHOAL_STATS_COUNTER_ROOM || h->retired_offset < sizeof(*h) ||
	    h->retired_offset % SHOAL_STATS_CACHELINE != 0 ||
	    h->upstream_room != SHOAL_STATS_UPSTREAM_ROOM ||
	    h->upstream_retired_room != SHOAL_STATS_UPSTREAM_RETIRED_ROOM ||
	    h->upstream_entry_size != sizeof(struct shoal_stats_upstream_entry) ||
	    h->upstream_retired_offset < h->retired_offset + sizeof(struct shoal_stats_block) ||
	    h->upstream_retired_offset % SHOAL_STATS_CACHELINE != 0 ||
	    h->slots_offset < h->upstream_retired_offset + (uint64_t)h->upstream_retired_room *
							     h->upstream_entry_size ||
	    h->slots_offset % SHOAL_STATS_CACHELINE != 0 || h->slot_capacity == 0 ||
	    h->slot_capacity > SHOAL_STATS_MAX_CAPACITY)
		return shoal_err_set(err, "%s: not a shoal stats file (inconsistent header)", path);
	if (h->slots_offset + (uint64_t)h->slot_capacity * h->slot_size > size)
		return shoal_err_set(err, "%s: truncated stats file (%zu bytes for %u slots)", path,
				     size, h->slot_capacity);
	return 0;
}

static int stats_map(struct shoal_stats_view *v, int fd, const char *path, int prot,
		     struct shoal_err *err)
{
	struct stat sb;
	void *map;

	if (shoal_mapfile(fd, path, "stats", sizeof(struct shoal_stats_header), prot, &map, &sb,
			  err) < 0)
		return -1;
	*v = (struct shoal_stats_view){
		.hdr = map, .size = (size_t)sb.st_size, .dev = sb.st_dev, .ino = sb.st_ino,
	};
	return 0;
}

int shoal_stats_open_read(struct shoal_stats_view *v, const char *path, struct shoal_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc;

	*v = (struct shoal_stats_view){ 0 };
	if (fd < 0 && errno == ENOENT)
		return shoal_err_set(err, "%s: no such file (is shoal running with statistics on?)",
				     path);
	if (fd < 0)
		return shoal_err_set(err, "%s: %s", path, strerror(errno));
	rc = stats_map(v, fd, path, PROT_READ, err);
	close(fd);
	if (rc == 0 && stats_check_layout(v->hdr, v->size, path, err) < 0) {
		shoal_stats_view_close(v);
		rc = -1;
	}
	return rc;
}

int shoal_stats_adopt(struct shoal_stats *st, const char *path, struct shoal_err *err)
{
	*st = (struct shoal_stats){ .path = strdup(path), .fd = open(path, O_RDWR | O_CLOEXEC) };
	if (!st->path || st->fd < 0) {
		shoal_err_set(err, "%s: %s", path, st->path ? strerror(errno) : "out of memory");
		shoal_stats_close(st, false);
		return -1;
	}
	if (stats_map(&st->view, st->fd, path, PROT_READ | PROT_WRITE, err) < 0 ||
	    stats_check_layout(st->view.hdr, st->view.size, path, err) < 0) {
		shoal_stats_close(st, false);
		return -1;
	}
	stats_lock(st);
	stats_master_begin(st->view.hdr);
	st->view.hdr->master_pid = (uint32_t)getpid();
	stats_master_end(st->view.hdr);
	stats_unlock(st);
	return 0;
}

void shoal_stats_view_close(struct shoal_stats_view *v)
{
	if (v->hdr)
		munmap(v->hdr, v->size);
	v->hdr = NULL;
	v->size = 0;
}

int shoal_stats_snapshot_init(struct shoal_stats_snapshot *snap, const struct shoal_stats_view *v,
			      struct shoal_err *err)
{
	*snap = (struct shoal_stats_snapshot){ .capacity = v->hdr->slot_capacity };
	snap->workers = calloc(snap->capacity, sizeof(*snap->workers));
	snap->upstream_scratch = calloc(SHOAL_STATS_UPSTREAM_ROOM, sizeof(*snap->upstream_scratch));
	if (!snap->workers || !snap->upstream_scratch) {
		shoal_stats_snapshot_free(snap);
		return shoal_err_set(err, "out of memory");
	}
	return 0;
}

void shoal_stats_snapshot_free(struct shoal_stats_snapshot *snap)
{
	free(snap->workers);
	free(snap->upstreams);
	free(snap->upstream_scratch);
	snap->workers = NULL;
	snap->upstreams = snap->upstream_scratch = NULL;
	snap->capacity = snap->nworkers = 0;
	snap->upstreams_room = snap->nupstreams = 0;
}

/* Copies the slot and its upstream entries (into up; *nup of them). */
static bool stats_read_slot(const struct shoal_stats_slot *s, struct shoal_stats_worker *w,
			    struct shoal_stats_upstream_stat *up, unsigned *nup)
{
	for (int tries = 0; tries < SLOT_TRIES; tries++) {
		uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
		if (seq & 1) {
			sched_yield();
			continue;
		}
		w->pid = (pid_t)atomic_load_explicit(&s->pid, memory_order_relaxed);
		w->worker_slot = atomic_load_explicit(&s->worker_slot, memory_order_relaxed);
		w->generation = atomic_load_explicit(&s->generation, memory_order_relaxed);
		w->state = (enum shoal_stats_state)atomic_load_explicit(&s->state, memory_order_relaxed);
		w->start_ms = atomic_load_explicit(&s->start_ms, memory_order_relaxed);
		w->heartbeat_ms = atomic_load_explicit(&s->heartbeat_ms, memory_order_relaxed);
		for (unsigned i = 0; i < SHOAL_STATS_NCOUNTERS; i++)
			w->counters[i] = atomic_load_explicit(&s->block.counters[i], memory_order_relaxed);
		*nup = shoal_stats_upstream_copy(s, up);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&s->seq, memory_order_relaxed) == seq)
			return true;
	}
	return false;
}

enum attempt { ATTEMPT_DONE, ATTEMPT_AGAIN, ATTEMPT_NO_MEMORY };

/* One attempt at a consistent copy; again if the master or a worker got in the way. */
static enum attempt stats_try_snapshot(const struct shoal_stats_view *v,
				       struct shoal_stats_snapshot *snap)
{
	const struct shoal_stats_header *h = v->hdr;
	const struct shoal_stats_block *retired = stats_retired(v);
	uint64_t seq = atomic_load_explicit(&h->seq, memory_order_acquire);
	unsigned used, nup;

	if (seq & 1)
		return ATTEMPT_AGAIN;
	used = atomic_load_explicit(&h->slots_used, memory_order_relaxed);
	if (used > snap->capacity)
		used = snap->capacity;
	snap->generation = atomic_load_explicit(&h->generation, memory_order_relaxed);
	snap->updated_ms = atomic_load_explicit(&h->updated_ms, memory_order_relaxed);
	snap->retired_workers = atomic_load_explicit(&h->retired_workers, memory_order_relaxed);
	for (unsigned i = 0; i < SHOAL_STATS_NCOUNTERS; i++)
		snap->retired[i] = atomic_load_explicit(&retired->counters[i], memory_order_relaxed);
	snap->upstream_dropped = atomic_load_explicit(&h->upstream_dropped, memory_order_relaxed);
	if (shoal_stats_upstream_read_retired(h, snap) < 0)
		return ATTEMPT_NO_MEMORY;
	snap->nworkers = 0;
	for (unsigned i = 0; i < used; i++) {
		const struct shoal_stats_slot *s = stats_slot(v, i);
		struct shoal_stats_worker *w = &snap->workers[snap->nworkers];
		if (atomic_load_explicit(&s->state, memory_order_relaxed) == SHOAL_STATS_FREE)
			continue;
		if (!stats_read_slot(s, w, snap->upstream_scratch, &nup))
			return ATTEMPT_AGAIN;
		if (shoal_stats_upstream_merge(snap, snap->upstream_scratch, nup) < 0)
			return ATTEMPT_NO_MEMORY;
		w->index = i;
		snap->nworkers++;
	}
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(&h->seq, memory_order_relaxed) == seq ? ATTEMPT_DONE
									   : ATTEMPT_AGAIN;
}

static void stats_sum_totals(struct shoal_stats_snapshot *snap)
{
	memcpy(snap->totals, snap->retired, sizeof(snap->totals));
	for (unsigned w = 0; w < snap->nworkers; w++)
		for (unsigned i = 0; i < SHOAL_STATS_NCOUNTERS; i++)
			snap->totals[i] += snap->workers[w].counters[i];
}

int shoal_stats_snapshot(const struct shoal_stats_view *v, struct shoal_stats_snapshot *snap,
			 struct shoal_err *err)
{
	const struct timespec pause = { .tv_nsec = SNAPSHOT_SLEEP_NS };

	if (snap->capacity < v->hdr->slot_capacity)
		return shoal_err_set(err, "snapshot has room for %u workers, the file for %u",
				     snap->capacity, v->hdr->slot_capacity);
	snap->master_pid = (pid_t)v->hdr->master_pid;
	snap->start_time = v->hdr->start_time;
	for (int attempt = 0; attempt < SNAPSHOT_TRIES; attempt++) {
		enum attempt a = stats_try_snapshot(v, snap);
		if (a == ATTEMPT_NO_MEMORY)
			return shoal_err_set(err, "out of memory for the upstream servers");
		if (a == ATTEMPT_DONE) {
			stats_sum_totals(snap);
			shoal_stats_upstream_sort(snap);
			snap->taken_ms = shoal_clock_unix_ms();
			return 0;
		}
		if (attempt >= SNAPSHOT_SPINS)
			nanosleep(&pause, NULL);
	}
	return shoal_err_set(err, "statistics stayed in mid-update; try again");
}

double shoal_stats_histogram_quantile_us(const uint64_t *b, double q)
{
	uint64_t total = 0, seen = 0;
	double rank;

	for (unsigned i = 0; i < SHOAL_STATS_LATENCY_BUCKETS; i++)
		total += b[i];
	if (total == 0)
		return 0;
	rank = q * (double)total;
	for (unsigned i = 0; i < SHOAL_STATS_LATENCY_FINITE; i++) {
		if (b[i] && (double)(seen + b[i]) >= rank) {
			double lower = i ? (double)shoal_stats_bucket_bound_us(i - 1) : 0;
			double upper = (double)shoal_stats_bucket_bound_us(i);
			return lower + (upper - lower) * (rank - (double)seen) / (double)b[i];
		}
		seen += b[i];
	}
	/* In the +Inf bucket: the last finite bound is all that is known. */
	return (double)shoal_stats_bucket_bound_us(SHOAL_STATS_LATENCY_FINITE - 1);
}

double shoal_stats_latency_quantile_us(const uint64_t *counters, double q)
{
	return shoal_stats_histogram_quantile_us(counters + SHOAL_STATS_LATENCY, q);
}

const char *shoal_stats_counter_name(unsigned counter)
{
	static const char *const names[SHOAL_STATS_LATENCY] = {
		"connections_accepted", "connections_closed", "connections_active",
		"connections_reading", "connections_writing", "connections_idle",
		"requests", "bytes_in", "bytes_out",
		"responses_1xx", "responses_2xx", "responses_3xx", "responses_4xx", "responses_5xx",
		"responses_200", "responses_206", "responses_301", "responses_304",
		"responses_400", "responses_403", "responses_404", "responses_405",
		"responses_408", "responses_413", "responses_414", "responses_416",
		"responses_431", "responses_500", "responses_503", "responses_505",
		"errors_parse", "errors_timeout", "errors_reset", "errors_limit",
		"latency_sum_us",
	};
	static const char *const proxy[SHOAL_STATS_NCOUNTERS - SHOAL_STATS_PROXY_ACCEPTED] = {
		"proxy_protocol_accepted", "proxy_protocol_refused", "proxy_protocol_malformed",
		"proxy_protocol_timeout",
		"tls_handshakes_full", "tls_handshakes_resumed",
		"tls_failed_protocol", "tls_failed_certificate", "tls_failed_garbage",
		"tls_failed_closed", "tls_failed_timeout", "tls_failed_other",
		"tls_version_1_2", "tls_version_1_3",
	};

	if (counter < SHOAL_STATS_LATENCY)
		return names[counter];
	if (counter >= SHOAL_STATS_PROXY_ACCEPTED && counter < SHOAL_STATS_NCOUNTERS)
		return proxy[counter - SHOAL_STATS_PROXY_ACCEPTED];
	return NULL;
}

const char *shoal_stats_state_name(enum shoal_stats_state state)
{
	switch (state) {
	case SHOAL_STATS_FREE:
		return "free";
	case SHOAL_STATS_STARTING:
		return "starting";
	case SHOAL_STATS_RUNNING:
		return "running";
	case SHOAL_STATS_DRAINING:
		return "draining";
	}
	return "unknown";
}
