/* Upstream servers in the state file (shoal/state/state.h): one entry per (upstream group,
 * server) pair, found by their names, so a reload that keeps a server keeps its entry and
 * a new one gets a fresh entry. What an entry holds is read and written by every worker,
 * the checker and shoalctl, each field a single atomic value:
 *
 *   admin, weight     written by shoalctl (drain, down, up, weight N)
 *   check, check_*    written by the checker process (active health checks)
 *   active            every worker: requests in flight there (least_conn, bounded hash);
 *                     the master takes back the share of a worker that died
 *   fails .. ejected  every worker: passive health (failures, outlier ejection)
 *   last_answer_ms    every worker: when the server last answered (stall detection)
 *   usable_since_ms   whoever brings the server back: where slow start ramps from
 *   addr_*            the checker (and the master, filling a new entry): the addresses of
 *                     a server given by name (resolve), read by every worker
 *
 * A group with a queue (`queue`) has an entry of its own besides its servers': the group's
 * name and an empty server name. Its `active` counts the requests waiting in the group's
 * queue over every worker (the master takes back the share of a worker that died, as for a
 * server); its other fields stay as the master made them.
 *
 * Times are CLOCK_MONOTONIC milliseconds, which every process of the machine shares. What
 * the fields mean for a request is decided in the upstream layer (shoal/upstream/health.h);
 * this module only stores them.
 *
 * The address set is the one group of fields changed together: it is written under a
 * sequence counter, addr_seq, odd while a writer is at it (a seqlock). A writer makes it odd
 * with a compare-and-swap, so that two writers (the checkers of two generations, for a
 * moment) take turns; a reader copies the set between two reads of one even value and tries
 * again otherwise. Every write moves the counter on, so a worker that remembers the value it
 * opened a connection under knows whether the set changed since. A writer killed while
 * writing would leave the counter odd for ever: the next writer waits a while, then takes
 * the set over. */
#ifndef SHOAL_STATE_UPSTREAM_H
#define SHOAL_STATE_UPSTREAM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "shoal/state/state.h"

/* Names are NUL-padded text of this size (at most 63 bytes; longer ones are cut). */
#define SHOAL_STATE_UPSTREAM_TEXT 64

enum shoal_state_admin {
	SHOAL_STATE_ADMIN_UP = 0,    /* as configured */
	SHOAL_STATE_ADMIN_DRAIN = 1, /* no new request; in-flight and pooled ones finish */
	SHOAL_STATE_ADMIN_DOWN = 2,  /* no new request, no pooled connection reused */
};

enum shoal_state_check {
	SHOAL_STATE_CHECK_NONE = 0, /* not checked actively (or not yet): passive health rules */
	SHOAL_STATE_CHECK_UP = 1,
	SHOAL_STATE_CHECK_DOWN = 2,
};

/* Addresses an entry holds: a name's first ones beyond are not used. */
#define SHOAL_STATE_UPSTREAM_ADDRS 8

/* One address of a server: family AF_INET or AF_INET6 (Linux's values, 2 and 10), the port
 * in native byte order, the address in network byte order (its first 4 bytes for IPv4). */
struct shoal_state_addr {
	uint16_t family;
	uint16_t port;
	uint8_t addr[16];
};

_Static_assert(sizeof(struct shoal_state_addr) == 20, "layout");

struct shoal_state_upstream {
	_Alignas(SHOAL_STATE_CACHELINE) char upstream[SHOAL_STATE_UPSTREAM_TEXT];
	char server[SHOAL_STATE_UPSTREAM_TEXT];
	_Atomic uint32_t admin;            /* enum shoal_state_admin */
	_Atomic uint32_t weight;           /* set by shoalctl; 0: the configured weight */
	_Atomic uint32_t active;           /* requests in flight there, all workers */
	_Atomic uint32_t check;            /* enum shoal_state_check */
	_Atomic uint32_t check_streak;     /* consecutive probe results against `check` */
	_Atomic uint32_t fails;            /* passive failures in the window */
	_Atomic uint32_t ejections;        /* ejections in a row: the next lasts longer */
	_Atomic uint32_t check_detail;     /* last probe: HTTP status, or errno negated */
	_Atomic uint64_t fail_window_ms;   /* when the window of `fails` began */
	_Atomic uint64_t ejected_until_ms; /* passive: out until then */
	_Atomic uint64_t usable_since_ms;  /* back in service since (slow start) */
	_Atomic uint64_t last_check_ms;
	_Atomic uint64_t checks_passed;
	_Atomic uint64_t checks_failed;
	_Atomic uint64_t ejected_total;    /* ejections ever */
	_Atomic uint64_t last_answer_ms;   /* the last response byte any worker got from it */
	_Atomic uint32_t addr_seq;         /* odd while addr_count and addrs are written */
	uint32_t addr_count;               /* addresses in addrs; 0: the configured one */
	struct shoal_state_addr addrs[SHOAL_STATE_UPSTREAM_ADDRS];
	uint8_t reserved[56];
};

_Static_assert(offsetof(struct shoal_state_upstream, server) == 64, "layout");
_Static_assert(offsetof(struct shoal_state_upstream, admin) == 128, "layout");
_Static_assert(offsetof(struct shoal_state_upstream, fail_window_ms) == 160, "layout");
_Static_assert(offsetof(struct shoal_state_upstream, ejected_total) == 208, "layout");
_Static_assert(offsetof(struct shoal_state_upstream, last_answer_ms) == 216, "layout");
_Static_assert(offsetof(struct shoal_state_upstream, addr_seq) == 224, "layout");
_Static_assert(offsetof(struct shoal_state_upstream, addrs) == 232, "layout");
_Static_assert(offsetof(struct shoal_state_upstream, reserved) == 392, "layout");
_Static_assert(sizeof(struct shoal_state_upstream) == 448, "layout");

/* Whether e is a group's queue (a group's name, no server name) rather than a server. */
static inline bool shoal_state_upstream_is_queue(const struct shoal_state_upstream *e)
{
	return e->upstream[0] != '\0' && e->server[0] == '\0';
}

/* The entry of (upstream, server), or NULL if there is none; server "" is the group's
 * queue. Any process. */
struct shoal_state_upstream *shoal_state_upstream_find(const struct shoal_state *st,
							 const char *upstream,
							 const char *server);

/* Master, holding the file lock: the entry of (upstream, server), appended if new (with
 * usable_since_ms = now_ms, so a server added by a reload starts slowly), or NULL when the
 * file's room is full. */
struct shoal_state_upstream *shoal_state_upstream_add(struct shoal_state *st,
							const char *upstream, const char *server,
							uint64_t now_ms);

/* Readers: the entries in use, and the i-th of them. */
unsigned shoal_state_upstream_count(const struct shoal_state *st);
struct shoal_state_upstream *shoal_state_upstream_at(const struct shoal_state *st, unsigned i);

/* The checker, or the master filling an entry it adds: publishes the first of the n
 * addresses (AF_INET and AF_INET6 ones; others are skipped) as e's set, at most
 * SHOAL_STATE_UPSTREAM_ADDRS, in order, and moves addr_seq on. Returns how many it stored. */
unsigned shoal_state_upstream_set_addrs(struct shoal_state_upstream *e,
					const struct sockaddr_storage *addrs, unsigned n);

/* Any process: copies e's set, consistent, into out (at most max addresses, in order, each an
 * AF_INET or AF_INET6 address) and returns how many; *seq gets the addr_seq it was read
 * under. 0 when e has no set, or when a writer holds it so long that the reader gives up
 * (the caller then uses the configured address). Costs two loads and a copy; no system
 * call. */
unsigned shoal_state_upstream_addrs(const struct shoal_state_upstream *e,
				    struct sockaddr_storage *out, unsigned max, uint32_t *seq);

/* addr_seq now: different from the one a set was read under once the set has changed. */
uint32_t shoal_state_upstream_addr_seq(const struct shoal_state_upstream *e);

#endif
