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
 *
 * Times are CLOCK_MONOTONIC milliseconds, which every process of the machine shares. What
 * the fields mean for a request is decided in the upstream layer (shoal/upstream/health.h);
 * this module only stores them. */
#ifndef SHOAL_STATE_UPSTREAM_H
#define SHOAL_STATE_UPSTREAM_H

#include <stdatomic.h>
#include <stdint.h>

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
};

_Static_assert(offsetof(struct shoal_state_upstream, server) == 64, "layout");
_Static_assert(offsetof(struct shoal_state_upstream, admin) == 128, "layout");
_Static_assert(offsetof(struct shoal_state_upstream, fail_window_ms) == 160, "layout");
_Static_assert(offsetof(struct shoal_state_upstream, ejected_total) == 208, "layout");
_Static_assert(sizeof(struct shoal_state_upstream) == 256, "layout");

/* The entry of (upstream, server), or NULL if there is none. Any process. */
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

#endif
