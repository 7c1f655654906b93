#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shoal/tls/keys.h"

#define RING_MAGIC 0x6b74736cu /* "lstk" */
#define RING_VERSION 1u
/* Enough for any writer that is running (it copies 160 bytes); a writer that died leaves the
 * counter odd for ever and the readers must not spin with it. */
#define READ_TRIES 64

struct ring {
	uint32_t magic;
	uint32_t version;
	_Atomic uint32_t seq; /* odd while the writer is at it */
	uint32_t pad;
	struct shoal_tls_key key[2]; /* [0] current, [1] previous */
};

struct shoal_tls_keys {
	struct ring *ring;
	int fd;
};

static int random_key(struct shoal_tls_key *key)
{
	ssize_t n;

	do
		n = getrandom(key, sizeof(*key), 0);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(*key) ? 0 : -1;
}

/* The only writer: readers see the counter odd from before the first byte changes to after
 * the last. */
static void ring_write(struct ring *r, const struct shoal_tls_key *current,
		       const struct shoal_tls_key *previous)
{
	uint32_t seq = atomic_load_explicit(&r->seq, memory_order_relaxed);

	atomic_store_explicit(&r->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	r->key[0] = *current;
	r->key[1] = *previous;
	atomic_store_explicit(&r->seq, seq + 2, memory_order_release);
}

/* Both keys as they were under one even value of the counter, or false. */
static bool ring_read(const struct ring *r, struct shoal_tls_key key[2])
{
	for (unsigned tries = 0; tries < READ_TRIES; tries++) {
		uint32_t before = atomic_load_explicit(&r->seq, memory_order_acquire);

		if (before & 1u) {
			sched_yield();
			continue;
		}
		memcpy(key, r->key, sizeof(r->key));
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&r->seq, memory_order_relaxed) == before)
			return true;
	}
	return false;
}

/* Maps the ring of fd; keys out of core dumps is best effort (a kernel without
 * MADV_DONTDUMP still serves). */
static int map_ring(int fd, struct shoal_tls_keys **out, struct shoal_err *err)
{
	struct shoal_tls_keys *k = malloc(sizeof(*k));
	void *map;

	if (!k)
		return shoal_err_set(err, "tls ticket keys: out of memory");
	map = mmap(NULL, sizeof(struct ring), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		free(k);
		return shoal_err_set(err, "tls ticket keys: mmap: %s", strerror(errno));
	}
	madvise(map, sizeof(struct ring), MADV_DONTDUMP);
	k->ring = map;
	k->fd = fd;
	*out = k;
	return 0;
}

/* A memfd of the ring's size that can neither grow nor shrink, so that no process mapping
 * it can be made to fault by another truncating it. */
static int ring_fd(struct shoal_err *err)
{
	int fd = memfd_create("shoal-tls-keys", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return shoal_err_set(err, "tls ticket keys: memfd_create: %s", strerror(errno));
	if (ftruncate(fd, sizeof(struct ring)) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		shoal_err_set(err, "tls ticket keys: sizing the memfd: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int shoal_tls_keys_create(struct shoal_tls_keys **out, struct shoal_err *err)
{
	struct shoal_tls_key current, previous;
	struct shoal_tls_keys *k;
	int fd;

	if (random_key(&current) < 0 || random_key(&previous) < 0)
		return shoal_err_set(err, "tls ticket keys: getrandom: %s", strerror(errno));
	fd = ring_fd(err);
	if (fd < 0)
		return -1;
	if (map_ring(fd, &k, err) < 0) {
		close(fd);
		return -1;
	}
	k->ring->magic = RING_MAGIC;
	k->ring->version = RING_VERSION;
	ring_write(k->ring, &current, &previous);
	*out = k;
	return 0;
}

int shoal_tls_keys_adopt(int fd, struct shoal_tls_keys **out, struct shoal_err *err)
{
	struct shoal_tls_keys *k;
	struct stat sb;

	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size != sizeof(struct ring)) {
		close(fd);
		return shoal_err_set(err, "tls ticket keys: descriptor %d is not a key ring", fd);
	}
	if (map_ring(fd, &k, err) < 0) {
		close(fd);
		return -1;
	}
	if (k->ring->magic != RING_MAGIC || k->ring->version != RING_VERSION) {
		shoal_tls_keys_close(k);
		return shoal_err_set(err, "tls ticket keys: descriptor %d is not a key ring", fd);
	}
	*out = k;
	return 0;
}

int shoal_tls_keys_fd(const struct shoal_tls_keys *k)
{
	return k->fd;
}

int shoal_tls_keys_rotate(struct shoal_tls_keys *k, struct shoal_err *err)
{
	struct shoal_tls_key fresh, old[2];

	if (random_key(&fresh) < 0)
		return shoal_err_set(err, "tls ticket keys: getrandom: %s", strerror(errno));
	/* The writer's own copy cannot be torn: nobody else writes. */
	memcpy(old, k->ring->key, sizeof(old));
	ring_write(k->ring, &fresh, &old[0]);
	return 0;
}

bool shoal_tls_keys_current(const struct shoal_tls_keys *k, struct shoal_tls_key *out)
{
	struct shoal_tls_key key[2];

	if (!ring_read(k->ring, key))
		return false;
	*out = key[0];
	return true;
}

enum shoal_tls_keys_found shoal_tls_keys_find(const struct shoal_tls_keys *k,
					      const unsigned char name[SHOAL_TLS_KEY_NAME],
					      struct shoal_tls_key *out)
{
	struct shoal_tls_key key[2];

	if (!ring_read(k->ring, key))
		return SHOAL_TLS_KEYS_UNKNOWN;
	for (int i = 0; i < 2; i++) {
		if (memcmp(key[i].name, name, SHOAL_TLS_KEY_NAME) == 0) {
			*out = key[i];
			return i == 0 ? SHOAL_TLS_KEYS_CURRENT : SHOAL_TLS_KEYS_PREVIOUS;
		}
	}
	return SHOAL_TLS_KEYS_UNKNOWN;
}

void shoal_tls_keys_close(struct shoal_tls_keys *k)
{
	munmap(k->ring, sizeof(struct ring));
	close(k->fd);
	free(k);
}
