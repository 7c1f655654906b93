/* A worker's cache of files. Small files are kept in memory with their response heads
 * prebuilt, so that a hit costs no system call but the write; larger ones are kept open, with
 * what their heads need, so that a hit costs no open, fstat or close before the sendfile.
 * Entries are referenced by responses in flight and are freed (closed) only when the last of
 * those is out, even if the file changed or the entry was evicted meanwhile. */
#ifndef SHOAL_HANDLER_FILE_CACHE_H
#define SHOAL_HANDLER_FILE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "shoal/base/ref.h"

struct shoal_cache_entry {
	struct shoal_cache_entry *hash_next;
	struct shoal_cache_entry *lru_prev, *lru_next;
	uint64_t hash;
	const void *owner; /* with path, the key: whose root the path is relative to */
	char *path;
	size_t path_len;
	int fd;              /* an open file entry's descriptor; -1 for data entries */
	/* Held by responses in flight; orphaned once out of the table (or never in it). */
	struct shoal_ref ref;
	uint64_t checked_ms; /* last time the file was found unchanged */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	time_t date_sec;     /* the second the Date header in data shows */
	const char *content_type;
	/* data = head (without its final CRLF) + CRLF + body */
	char *data;
	size_t head_len;
	size_t date_off;     /* offset of the 29-byte date text in data */
	char etag[48];
	size_t body_len;
};

struct shoal_file_cache {
	struct shoal_cache_entry **buckets;
	size_t nbuckets; /* a power of two */
	struct shoal_cache_entry lru; /* data entries; sentinel: lru.lru_next is the newest */
	struct shoal_cache_entry fd_lru; /* open file entries, the same way */
	size_t nentries, max_entries;
	size_t bytes, max_bytes;
	size_t nfds, max_fds;
};

/* At most max_entries data entries holding max_bytes in all, and max_fds open files. */
int shoal_file_cache_init(struct shoal_file_cache *c, size_t max_entries, size_t max_bytes,
			  size_t max_fds);
void shoal_file_cache_free(struct shoal_file_cache *c);

/* Finds the entry for (owner, path) and marks it most recently used, or returns NULL. */
struct shoal_cache_entry *shoal_file_cache_get(struct shoal_file_cache *c, const void *owner,
					       const char *path, size_t path_len);

/* Takes ownership of data (malloc'ed, laid out as described above) and adds an entry,
 * replacing any entry with the same key and evicting the least recently used ones that do
 * not fit. Returns NULL (and frees data) if it cannot fit at all or memory runs out. */
struct shoal_cache_entry *shoal_file_cache_put(struct shoal_file_cache *c, const void *owner,
					       const char *path, size_t path_len,
					       const struct stat *st, char *data, size_t head_len,
					       size_t body_len);

/* Adds an open file entry that owns fd, an open regular file described by st, replacing any
 * entry with the same key and closing the least recently used open files over the limit.
 * Returns NULL if no file may be kept open or memory runs out; fd stays the caller's then. */
struct shoal_cache_entry *shoal_file_cache_put_fd(struct shoal_file_cache *c, const void *owner,
						  const char *path, size_t path_len,
						  const struct stat *st, int fd);

/* Removes an entry, e.g. when its file changed. */
void shoal_file_cache_drop(struct shoal_file_cache *c, struct shoal_cache_entry *e);

/* An entry outside any cache that owns data (len bytes, all body): a generated response
 * body that must outlive the call that made it. It is born orphaned: hold its ref before
 * handing it on, and it is freed when its last holder drops it. */
struct shoal_cache_entry *shoal_cache_entry_adopt(char *data, size_t len);

/* Whether st still describes the file the entry was made from. */
bool shoal_cache_entry_matches(const struct shoal_cache_entry *e, const struct stat *st);

#endif
