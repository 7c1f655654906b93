/* The session ticket keys every worker shares, so that a client resumes its session on
 * whichever worker the kernel hands its next connection. The ring holds two keys: the current
 * one seals new tickets, the previous one still opens the tickets it sealed (a ticket opened
 * with it is renewed under the current key). Rotating makes a new random key current and the
 * old current previous, so a ticket lives through one rotation and dies at the second.
 *
 * The ring lives in memory made with memfd_create and mapped shared: never a file on disk,
 * kept out of core dumps, and seen by every process forked after it was made. Its descriptor
 * (close-on-exec) can be handed across the exec of a binary upgrade like the listeners, and
 * mapped there with shoal_tls_keys_adopt.
 *
 * One process writes (the master: create, rotate); any number read, without a lock: a reader
 * copies a key between two reads of an even sequence counter and tries again when a write
 * came between (a seqlock). A writer killed mid-write leaves the counter odd; readers then
 * give up after a bounded number of tries rather than spin (no ticket, a full handshake). */
#ifndef SHOAL_TLS_KEYS_H
#define SHOAL_TLS_KEYS_H

#include <stdbool.h>

#include "shoal/base/error.h"

#define SHOAL_TLS_KEY_NAME 16 /* a ticket's key name, the first bytes of every ticket */

/* One ticket key: OpenSSL's own ticket format, AES-256-CBC sealed and HMAC-SHA256 signed. */
struct shoal_tls_key {
	unsigned char name[SHOAL_TLS_KEY_NAME];
	unsigned char hmac[32];
	unsigned char aes[32];
};

enum shoal_tls_keys_found {
	SHOAL_TLS_KEYS_UNKNOWN,  /* no key of that name: a full handshake */
	SHOAL_TLS_KEYS_CURRENT,  /* the current key: resume */
	SHOAL_TLS_KEYS_PREVIOUS, /* the previous key: resume and renew the ticket */
};

struct shoal_tls_keys;

/* Makes a ring with a random current key (and a random previous one that sealed nothing).
 * *out on success; -1 with err set (memfd_create, mmap or getrandom failed). */
int shoal_tls_keys_create(struct shoal_tls_keys **out, struct shoal_err *err);

/* Maps the ring of fd, the descriptor of a ring handed across exec (shoal_tls_keys_fd of the
 * old process); the ring owns fd from then on, also when this fails. -1 with err set when
 * fd is not such a ring. */
int shoal_tls_keys_adopt(int fd, struct shoal_tls_keys **out, struct shoal_err *err);

/* The ring's descriptor, close-on-exec: clear that flag to hand it to an exec'd binary. */
int shoal_tls_keys_fd(const struct shoal_tls_keys *k);

/* The writer only: a new random key becomes current, the current one previous. -1 with err
 * set when no random bytes could be had (the ring is then unchanged). */
int shoal_tls_keys_rotate(struct shoal_tls_keys *k, struct shoal_err *err);

/* A copy of the current key, to seal a new ticket. false when no consistent copy could be
 * had (a writer died mid-write): issue no ticket. */
bool shoal_tls_keys_current(const struct shoal_tls_keys *k, struct shoal_tls_key *out);

/* The key named name, copied into *out, to open a ticket: which of the two it is, or
 * UNKNOWN (then *out is unspecified), also when no consistent copy could be had. */
enum shoal_tls_keys_found shoal_tls_keys_find(const struct shoal_tls_keys *k,
					      const unsigned char name[SHOAL_TLS_KEY_NAME],
					      struct shoal_tls_key *out);

/* Unmaps the ring and closes its descriptor in this process; other processes keep theirs. */
void shoal_tls_keys_close(struct shoal_tls_keys *k);

#endif
