#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shoal/state/limit.h"
#include "shoal/base/mapfile.h"
#include "shoal/state/state.h"
#include "shoal/state/upstream.h"

#define UPSTREAM_OFFSET sizeof(struct shoal_state_header)
#define ZONE_OFFSET \
	(UPSTREAM_OFFSET + SHOAL_STATE_UPSTREAM_ROOM * sizeof(struct shoal_state_upstream))
#define ZONE_END (ZONE_OFFSET + SHOAL_STATE_ZONE_ROOM * sizeof(struct shoal_state_limit_zone))
/* The tables start on a page: what comes before is allocated at creation, they are not. */
#define LIMIT_OFFSET ((ZONE_END + 4095) / 4096 * 4096)
#define FILE_SIZE ((size_t)SHOAL_STATE_SIZE)

_Static_assert(UPSTREAM_OFFSET % SHOAL_STATE_CACHELINE == 0, "entry alignment");
_Static_assert(ZONE_OFFSET % SHOAL_STATE_CACHELINE == 0, "entry alignment");
_Static_assert(LIMIT_OFFSET < FILE_SIZE / 2, "room for the tables");

static void state_init_header(struct shoal_state_header *h)
{
	memcpy(h->magic, SHOAL_STATE_MAGIC, sizeof(h->magic));
	h->version = SHOAL_STATE_VERSION;
	h->header_size = sizeof(*h);
	h->size = FILE_SIZE;
	h->master_pid = (uint32_t)getpid();
	h->upstream_room = SHOAL_STATE_UPSTREAM_ROOM;
	h->upstream_offset = UPSTREAM_OFFSET;
	h->upstream_entry_size = sizeof(struct shoal_state_upstream);
	h->zone_room = SHOAL_STATE_ZONE_ROOM;
	h->zone_entry_size = sizeof(struct shoal_state_limit_zone);
	h->zone_offset = ZONE_OFFSET;
	h->limit_bucket_size = sizeof(struct shoal_state_limit_bucket);
	h->limit_offset = LIMIT_OFFSET;
	h->limit_size = FILE_SIZE - LIMIT_OFFSET;
}

/* Sizes, owns and fills the not yet visible file. The pages before the tables are allocated
 * up front, a table's when it is made (shoal_state_limit_reserve): a page first touched on a
 * full tmpfs would kill its writer with SIGBUS, and the writers are every worker. */
static int state_prepare(struct shoal_state *st, int fd, const char *tmp, uid_t uid, gid_t gid,
			 struct shoal_err *err)
{
	void *map;
	int rc;

	if (fchmod(fd, 0640) < 0)
		return shoal_err_set(err, "%s: chmod: %s", tmp, strerror(errno));
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid) < 0)
		return shoal_err_set(err, "%s: chown: %s", tmp, strerror(errno));
	if (ftruncate(fd, (off_t)FILE_SIZE) < 0)
		return shoal_err_set(err, "%s: truncate: %s", tmp, strerror(errno));
	rc = posix_fallocate(fd, 0, (off_t)LIMIT_OFFSET);
	if (rc != 0)
		return shoal_err_set(err, "%s: allocate %zu bytes: %s", tmp, (size_t)LIMIT_OFFSET,
				     strerror(rc));
	map = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return shoal_err_set(err, "%s: mmap: %s", tmp, strerror(errno));
	st->hdr = map;
	st->size = FILE_SIZE;
	state_init_header(st->hdr);
	if (getrandom(st->hdr->hash_seed, sizeof(st->hdr->hash_seed), 0) !=
	    (ssize_t)sizeof(st->hdr->hash_seed))
		return shoal_err_set(err, "%s: no random seed for the limit tables: %s", tmp,
				     strerror(errno));
	return 0;
}

int shoal_state_create(struct shoal_state *st, const char *path, uid_t uid, gid_t gid,
		       struct shoal_err *err)
{
	size_t len = strlen(path);
	char *tmp = malloc(len + sizeof(".XXXXXX"));
	int fd = -1;

	*st = (struct shoal_state){ .path = strdup(path), .fd = -1 };
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
	if (state_prepare(st, fd, tmp, uid, gid, err) < 0)
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
	shoal_state_close(st, false);
	return -1;
}

/* The zone directory and the tables' area lie after the upstream entries, in order. */
static bool state_limit_consistent(const struct shoal_state_header *h, size_t size)
{
	uint64_t upstream_end = h->upstream_offset +
				(uint64_t)h->upstream_room * h->upstream_entry_size;

	return h->zone_entry_size == sizeof(struct shoal_state_limit_zone) &&
	       h->limit_bucket_size == sizeof(struct shoal_state_limit_bucket) &&
	       h->zone_room <= SHOAL_STATE_ZONE_ROOM && h->zone_offset >= upstream_end &&
	       h->zone_offset % SHOAL_STATE_CACHELINE == 0 &&
	       h->limit_offset % SHOAL_STATE_CACHELINE == 0 &&
	       h->zone_offset + (uint64_t)h->zone_room * h->zone_entry_size <= h->limit_offset &&
	       h->limit_offset <= size && h->limit_size <= size - h->limit_offset;
}

static int state_check_layout(const struct shoal_state_header *h, size_t size, const char *path,
			      struct shoal_err *err)
{
	if (memcmp(h->magic, SHOAL_STATE_MAGIC, sizeof(h->magic)) != 0)
		return shoal_err_set(err, "%s: not a shoal state file (bad magic)", path);
	if (h->version != SHOAL_STATE_VERSION)
		return shoal_err_set(err, "%s: state layout version %u; this shoal reads version %u",
				     path, h->version, SHOAL_STATE_VERSION);
	if (h->header_size != sizeof(*h) ||
	    h->upstream_entry_size != sizeof(struct shoal_state_upstream) ||
	    h->upstream_offset < sizeof(*h) || h->upstream_offset % SHOAL_STATE_CACHELINE != 0 ||
	    h->upstream_room > SHOAL_STATE_UPSTREAM_ROOM)
		return shoal_err_set(err, "%s: not a shoal state file (inconsistent header)", path);
	if (h->size != size ||
	    h->upstream_offset + (uint64_t)h->upstream_room * h->upstream_entry_size > size)
		return shoal_err_set(err, "%s: truncated state file (%zu bytes, header says %llu)",
				     path, size, (unsigned long long)h->size);
	if (!state_limit_consistent(h, size))
		return shoal_err_set(err, "%s: not a shoal state file (inconsistent header)", path);
	return 0;
}

static int state_map(struct shoal_state *st, int fd, const char *path, int prot,
		     struct shoal_err *err)
{
	struct stat sb;
	void *map;

	if (shoal_mapfile(fd, path, "state", sizeof(struct shoal_state_header), prot, &map, &sb,
			  err) < 0)
		return -1;
	st->hdr = map;
	st->size = (size_t)sb.st_size;
	return state_check_layout(st->hdr, st->size, path, err);
}

int shoal_state_adopt(struct shoal_state *st, const char *path, struct shoal_err *err)
{
	*st = (struct shoal_state){ .path = strdup(path), .fd = open(path, O_RDWR | O_CLOEXEC) };
	if (!st->path || st->fd < 0) {
		shoal_err_set(err, "%s: %s", path, st->path ? strerror(errno) : "out of memory");
		shoal_state_close(st, false);
		return -1;
	}
	if (state_map(st, st->fd, path, PROT_READ | PROT_WRITE, err) < 0) {
		shoal_state_close(st, false);
		return -1;
	}
	shoal_state_lock(st);
	st->hdr->master_pid = (uint32_t)getpid();
	shoal_state_unlock(st);
	return 0;
}

void shoal_state_lock(struct shoal_state *st)
{
	while (st->fd >= 0 && flock(st->fd, LOCK_EX) < 0 && errno == EINTR)
		;
}

void shoal_state_unlock(struct shoal_state *st)
{
	if (st->fd >= 0)
		flock(st->fd, LOCK_UN);
}

void shoal_state_close(struct shoal_state *st, bool remove_file)
{
	if (remove_file && st->path && st->hdr)
		unlink(st->path);
	if (st->hdr)
		munmap(st->hdr, st->size);
	st->hdr = NULL;
	st->size = 0;
	free(st->path);
	st->path = NULL;
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
}

int shoal_state_open(struct shoal_state *st, const char *path, bool writable,
		     struct shoal_err *err)
{
	int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	int rc;

	*st = (struct shoal_state){ .fd = -1 };
	if (fd < 0 && errno == ENOENT) {
		shoal_err_set(err, "%s: no such file (is shoal running?)", path);
		errno = ENOENT;
		return -1;
	}
	if (fd < 0)
		return shoal_err_set(err, "%s: %s", path, strerror(errno));
	rc = state_map(st, fd, path, writable ? PROT_READ | PROT_WRITE : PROT_READ, err);
	close(fd);
	if (rc < 0)
		shoal_state_close(st, false);
	return rc;
}
