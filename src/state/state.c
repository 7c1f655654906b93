#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shoal/state/state.h"
#include "shoal/state/upstream.h"

#define UPSTREAM_OFFSET sizeof(struct shoal_state_header)
#define FILE_SIZE \
	(UPSTREAM_OFFSET + SHOAL_STATE_UPSTREAM_ROOM * sizeof(struct shoal_state_upstream))

_Static_assert(UPSTREAM_OFFSET % SHOAL_STATE_CACHELINE == 0, "entry alignment");

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
}

/* Sizes, owns and fills the not yet visible file. Every page is allocated up front (the
 * file is small): a page first touched on a full tmpfs would kill its writer with SIGBUS,
 * and the writers are every worker. */
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
	rc = posix_fallocate(fd, 0, (off_t)FILE_SIZE);
	if (rc != 0)
		return shoal_err_set(err, "%s: allocate %zu bytes: %s", tmp, (size_t)FILE_SIZE,
				     strerror(rc));
	map = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return shoal_err_set(err, "%s: mmap: %s", tmp, strerror(errno));
	st->hdr = map;
	st->size = FILE_SIZE;
	state_init_header(st->hdr);
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
	return 0;
}

static int state_map(struct shoal_state *st, int fd, const char *path, int prot,
		     struct shoal_err *err)
{
	struct stat sb;
	void *map;

	if (fstat(fd, &sb) < 0)
		return shoal_err_set(err, "%s: %s", path, strerror(errno));
	if (!S_ISREG(sb.st_mode) || (size_t)sb.st_size < sizeof(struct shoal_state_header))
		return shoal_err_set(err, "%s: not a shoal state file (%s)", path,
				     S_ISREG(sb.st_mode) ? "too small" : "not a regular file");
	map = mmap(NULL, (size_t)sb.st_size, prot, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return shoal_err_set(err, "%s: mmap: %s", path, strerror(errno));
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
