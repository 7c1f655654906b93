#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shoal/base/util.h"
#include "shoal/handler/file_cache.h"

static uint64_t key_hash(const void *owner, const char *path, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)(uintptr_t)owner;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)path[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

int shoal_file_cache_init(struct shoal_file_cache *c, size_t max_entries, size_t max_bytes,
			  size_t max_fds)
{
	size_t n = 16;

	while (n < max_entries + max_fds)
		n <<= 1;
	memset(c, 0, sizeof(*c));
	c->buckets = calloc(n, sizeof(*c->buckets));
	if (!c->buckets)
		return -1;
	c->nbuckets = n;
	c->lru.lru_next = c->lru.lru_prev = &c->lru;
	c->fd_lru.lru_next = c->fd_lru.lru_prev = &c->fd_lru;
	c->max_entries = max_entries;
	c->max_bytes = max_bytes;
	c->max_fds = max_fds;
	return 0;
}

static void entry_free(struct shoal_cache_entry *e)
{
	if (e->fd >= 0)
		close(e->fd);
	free(e->data);
	free(e->path);
	free(e);
}

static void entry_release(struct shoal_ref *r)
{
	entry_free(container_of(r, struct shoal_cache_entry, ref));
}

static void lru_unlink(struct shoal_cache_entry *e)
{
	e->lru_prev->lru_next = e->lru_next;
	e->lru_next->lru_prev = e->lru_prev;
}

static void lru_push_front(struct shoal_file_cache *c, struct shoal_cache_entry *e)
{
	struct shoal_cache_entry *head = e->fd >= 0 ? &c->fd_lru : &c->lru;

	e->lru_next = head->lru_next;
	e->lru_prev = head;
	head->lru_next->lru_prev = e;
	head->lru_next = e;
}

static size_t entry_bytes(const struct shoal_cache_entry *e)
{
	return e->head_len + 2 + e->body_len + e->path_len + sizeof(*e);
}

void shoal_file_cache_drop(struct shoal_file_cache *c, struct shoal_cache_entry *e)
{
	struct shoal_cache_entry **p = &c->buckets[e->hash & (c->nbuckets - 1)];

	if (e->ref.orphaned)
		return;
	while (*p != e)
		p = &(*p)->hash_next;
	*p = e->hash_next;
	lru_unlink(e);
	if (e->fd >= 0) {
		c->nfds--;
	} else {
		c->nentries--;
		c->bytes -= entry_bytes(e);
	}
	shoal_ref_orphan(&e->ref);
}

void shoal_file_cache_free(struct shoal_file_cache *c)
{
	if (!c->buckets)
		return;
	while (c->lru.lru_next != &c->lru)
		shoal_file_cache_drop(c, c->lru.lru_next);
	while (c->fd_lru.lru_next != &c->fd_lru)
		shoal_file_cache_drop(c, c->fd_lru.lru_next);
	free(c->buckets);
	c->buckets = NULL;
}

struct shoal_cache_entry *shoal_file_cache_get(struct shoal_file_cache *c, const void *owner,
					       const char *path, size_t path_len)
{
	uint64_t h = key_hash(owner, path, path_len);
	struct shoal_cache_entry *e = c->buckets[h & (c->nbuckets - 1)];

	for (; e; e = e->hash_next) {
		if (e->hash == h && e->owner == owner && e->path_len == path_len &&
		    memcmp(e->path, path, path_len) == 0) {
			lru_unlink(e);
			lru_push_front(c, e);
			return e;
		}
	}
	return NULL;
}

static bool cache_make_room(struct shoal_file_cache *c, size_t bytes)
{
	if (bytes > c->max_bytes)
		return false;
	while (c->nentries && (c->nentries >= c->max_entries || c->bytes + bytes > c->max_bytes))
		shoal_file_cache_drop(c, c->lru.lru_prev);
	return true;
}

static struct shoal_cache_entry *entry_new(const void *owner, const char *path, size_t path_len,
					   const struct stat *st)
{
	struct shoal_cache_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->path = malloc(path_len + 1);
	if (!e->path) {
		free(e);
		return NULL;
	}
	memcpy(e->path, path, path_len);
	e->path[path_len] = '\0';
	e->fd = -1;
	e->ref.free = entry_release;
	e->path_len = path_len;
	e->owner = owner;
	e->hash = key_hash(owner, path, path_len);
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->size = st->st_size;
	e->mtime = st->st_mtim;
	return e;
}

/* Drops the entry of the key, if any: a new one is about to take its place. */
static void cache_forget(struct shoal_file_cache *c, const void *owner, const char *path,
			 size_t path_len)
{
	struct shoal_cache_entry *old = shoal_file_cache_get(c, owner, path, path_len);

	if (old)
		shoal_file_cache_drop(c, old);
}

static void cache_insert(struct shoal_file_cache *c, struct shoal_cache_entry *e)
{
	e->hash_next = c->buckets[e->hash & (c->nbuckets - 1)];
	c->buckets[e->hash & (c->nbuckets - 1)] = e;
	lru_push_front(c, e);
}

struct shoal_cache_entry *shoal_file_cache_put(struct shoal_file_cache *c, const void *owner,
					       const char *path, size_t path_len,
					       const struct stat *st, char *data, size_t head_len,
					       size_t body_len)
{
	struct shoal_cache_entry *e;

	cache_forget(c, owner, path, path_len);
	e = entry_new(owner, path, path_len, st);
	if (!e) {
		free(data);
		return NULL;
	}
	e->data = data;
	e->head_len = head_len;
	e->body_len = body_len;
	if (!cache_make_room(c, entry_bytes(e))) {
		entry_free(e);
		return NULL;
	}
	cache_insert(c, e);
	c->nentries++;
	c->bytes += entry_bytes(e);
	return e;
}

struct shoal_cache_entry *shoal_file_cache_put_fd(struct shoal_file_cache *c, const void *owner,
						  const char *path, size_t path_len,
						  const struct stat *st, int fd)
{
	struct shoal_cache_entry *e;

	cache_forget(c, owner, path, path_len);
	e = c->max_fds ? entry_new(owner, path, path_len, st) : NULL;
	if (!e)
		return NULL;
	e->fd = fd;
	while (c->nfds >= c->max_fds)
		shoal_file_cache_drop(c, c->fd_lru.lru_prev);
	cache_insert(c, e);
	c->nfds++;
	return e;
}

struct shoal_cache_entry *shoal_cache_entry_adopt(char *data, size_t len)
{
	struct shoal_cache_entry *e = calloc(1, sizeof(*e));

	if (!e) {
		free(data);
		return NULL;
	}
	e->data = data;
	e->body_len = len;
	e->fd = -1;
	e->ref.free = entry_release;
	e->ref.orphaned = true;
	return e;
}

bool shoal_cache_entry_matches(const struct shoal_cache_entry *e, const struct stat *st)
{
	return e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size &&
	       e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}
