/* The state file: memory the master owns and shares with every worker and the checker, for
 * what must be exact across processes and outlive a worker generation: the health and load
 * of upstream servers (shoal/state/upstream.h) and the limit zones' tables
 * (shoal/state/limit.h).
 *
 * The master creates the file when it starts (a new master of a binary upgrade adopts the
 * old one's, so nothing learnt is lost), keeps it across reloads, and removes it when it
 * stops. Workers and the checker inherit the master's mapping across fork; shoalctl maps it
 * to read it, and writably (as the file's owner) to drain or take down a server.
 *
 * The layout is public, like the stats file's: native-endian fixed-width integers at the
 * offsets asserted below; a change of layout bumps SHOAL_STATE_VERSION. The file is
 *
 *   header            (header_size bytes at offset 0)
 *   upstream servers  (upstream_room entries of upstream_entry_size bytes at upstream_offset,
 *                      the first upstream_used in use; entries are only ever appended)
 *   zone directory    (zone_room entries of zone_entry_size bytes at zone_offset, the first
 *                      zone_used in use; only ever appended, a zone made afresh retired)
 *   limit tables      (limit_size bytes at limit_offset, the first limit_used allocated to
 *                      zones' tables by a bump pointer, never freed while the file lives)
 *
 * The file is SHOAL_STATE_SIZE bytes, sparse: what comes before the tables is allocated when
 * it is created, and each table's pages when the master gives the zone its table, so that a
 * full tmpfs fails the master's allocation (a start or reload then fails) rather than kill a
 * worker with SIGBUS on a page it touches first. Tables are added on reload within the one
 * mapping every process inherited: the file is never resized nor remapped.
 *
 * Every field a process changes after creation is a single atomic value, but for an
 * entry's address set, written under a sequence counter of its own (shoal/state/upstream.h);
 * there is no lock. Only the master appends entries, under the file lock (two masters
 * live at once during an upgrade); it publishes an entry by storing upstream_used with
 * release order after filling it, so a reader that loads upstream_used with acquire order
 * sees whole entries. */
#ifndef SHOAL_STATE_STATE_H
#define SHOAL_STATE_STATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shoal/base/error.h"

#if ATOMIC_LLONG_LOCK_FREE != 2
#error "shared state needs lock-free 64-bit atomics"
#endif

#define SHOAL_STATE_MAGIC "SHOALSTA"
#define SHOAL_STATE_VERSION 3u
#define SHOAL_STATE_DEFAULT_PATH "/dev/shm/shoal.state"
#define SHOAL_STATE_CACHELINE 64
/* Upstream servers the file can hold over its lifetime, across every configuration. */
#define SHOAL_STATE_UPSTREAM_ROOM 1024u
/* Limit zones' directory entries over the file's lifetime, retired ones included. */
#define SHOAL_STATE_ZONE_ROOM 256u
/* The whole file (256 MiB): on tmpfs only the pages allocated cost memory. */
#define SHOAL_STATE_SIZE (256u << 20)

struct shoal_state_header {
	char magic[8];            /* "SHOALSTA", no NUL */
	uint32_t version;         /* SHOAL_STATE_VERSION */
	uint32_t header_size;     /* sizeof(struct shoal_state_header) */
	uint64_t size;            /* of the file */
	uint32_t master_pid;      /* the master that created it */
	uint32_t upstream_room;
	uint64_t upstream_offset;
	uint32_t upstream_entry_size;
	_Atomic uint32_t upstream_used;
	uint32_t zone_room;
	uint32_t zone_entry_size;
	uint64_t zone_offset;
	_Atomic uint32_t zone_used;
	uint32_t limit_bucket_size; /* of a table's bucket */
	uint64_t limit_offset;      /* the tables' area */
	uint64_t limit_size;
	_Atomic uint64_t limit_used; /* bytes of the area given to tables */
	uint64_t hash_seed[2];      /* random, the key of the limit tables' hash */
	uint8_t reserved[16];
};

_Static_assert(offsetof(struct shoal_state_header, version) == 8, "layout");
_Static_assert(offsetof(struct shoal_state_header, size) == 16, "layout");
_Static_assert(offsetof(struct shoal_state_header, upstream_offset) == 32, "layout");
_Static_assert(offsetof(struct shoal_state_header, upstream_used) == 44, "layout");
_Static_assert(offsetof(struct shoal_state_header, zone_room) == 48, "layout");
_Static_assert(offsetof(struct shoal_state_header, zone_offset) == 56, "layout");
_Static_assert(offsetof(struct shoal_state_header, zone_used) == 64, "layout");
_Static_assert(offsetof(struct shoal_state_header, limit_offset) == 72, "layout");
_Static_assert(offsetof(struct shoal_state_header, limit_used) == 88, "layout");
_Static_assert(offsetof(struct shoal_state_header, hash_seed) == 96, "layout");
_Static_assert(sizeof(struct shoal_state_header) == 128, "layout");

/* A mapping of the state file. The master's handle keeps the file open for its lock. */
struct shoal_state {
	struct shoal_state_header *hdr;
	size_t size;
	char *path; /* the master's: to remove it at the end */
	int fd;     /* the master's: kept open for flock and to allocate tables; -1 in a reader */
};

/* --- master --- */

/* Creates (or atomically replaces) the file at path, mode 0640, owned by uid/gid
 * ((uid_t)-1 / (gid_t)-1: unchanged), and maps it writably. */
int shoal_state_create(struct shoal_state *st, const char *path, uid_t uid, gid_t gid,
		       struct shoal_err *err);

/* Maps the state file an earlier master made (binary upgrade), so health, loads and limit
 * zones go on.
 * Fails if it is not a file of this layout version; the caller then creates a new one. */
int shoal_state_adopt(struct shoal_state *st, const char *path, struct shoal_err *err);

/* Holds the file lock around appending entries (shoal/state/upstream.h, limit.h). */
void shoal_state_lock(struct shoal_state *st);
void shoal_state_unlock(struct shoal_state *st);

/* Unmaps and closes; with remove_file, also removes the file (a stopping master). */
void shoal_state_close(struct shoal_state *st, bool remove_file);

/* --- readers (shoalctl) --- */

/* Maps the file at path, writably if asked (drain, down, weight). Checks magic, version and
 * sizes; err says which is wrong, and errno is ENOENT when there is no such file. */
int shoal_state_open(struct shoal_state *st, const char *path, bool writable,
		     struct shoal_err *err);

#endif
