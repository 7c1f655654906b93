/* What a server's shared entry (shoal/state/upstream.h) means for requests: whether it may
 * take one, with what weight, how loaded it is, and how the outcome of a request or of a
 * probe changes that. Every worker and the checker apply the same rules to the same shared
 * values, so a server ejected by one worker is ejected for all of them at once.
 *
 * Passive health: a failure (connect error, timeout, reset, invalid response, a status of
 * fail_status) counts within fail_timeout of the window's first failure; max_fails of them
 * eject the server for fail_timeout times the ejections in a row (at most
 * SHOAL_UPSTREAM_EJECT_MAX times), unless max_ejection_percent of the group is ejected
 * already (one server may always be). A success after the ejection ended, once the server
 * has served for fail_timeout again, forgets the ejections in a row.
 *
 * Active health (the checker): rise consecutive passes bring a server up, fall consecutive
 * failures take it down; a server not yet probed follows the passive rules only.
 *
 * Usable: not down by configuration, admin up, not down by checks, not ejected. Every
 * transition to usable sets usable_since_ms, from which slow start ramps the weight.
 *
 * Limits: a server's `active` counts its requests in flight over every worker; with
 * max_conns it is also the bound, taken by shoal_upstream_reserve. A group's queue is the
 * group's own entry (no server name), whose `active` counts the requests waiting in it over
 * every worker, bounded by `queue` the same way. */
#ifndef SHOAL_UPSTREAM_HEALTH_H
#define SHOAL_UPSTREAM_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "shoal/state/upstream.h"
#include "shoal/upstream/upstream.h"

/* The longest ejection is this many times fail_timeout. */
#define SHOAL_UPSTREAM_EJECT_MAX 10

/* What ended a try, for the passive rules. */
enum shoal_upstream_outcome {
	SHOAL_UPSTREAM_OK = 0,     /* a response that is not a fail_status */
	SHOAL_UPSTREAM_FAILED = 1, /* connect error, timeout, reset, invalid, fail_status */
};

/* Whether s may take a new request at now_ms (see above). */
bool shoal_upstream_usable(const struct shoal_upstream_server *s, uint64_t now_ms);

/* Whether s is taken out by configuration or by shoalctl (drain, down): panic mode does not
 * bring such a server back. */
bool shoal_upstream_excluded(const struct shoal_upstream_server *s);

/* The weight s has now: shoalctl's if set, else the configured one; during slow start a
 * share of it growing linearly from a tenth to the whole. At least 1. */
unsigned shoal_upstream_weight(const struct shoal_upstream_server *s, uint64_t now_ms);

/* Requests in flight on s over every worker. */
unsigned shoal_upstream_active(const struct shoal_upstream_server *s);

/* A request starts (delta +1) or ends (-1) on s. */
void shoal_upstream_busy(struct shoal_upstream_server *s, int delta);

/* Whether s is below its max_conns (always, without one): one load for a server with one. */
bool shoal_upstream_room(const struct shoal_upstream_server *s);

/* A request starts on s if s is below its max_conns: true, and s counts it (as busy +1,
 * which ends it), else false and nothing changes. Exact over every worker: the count moves
 * by a compare-and-swap that only succeeds below the bound, so two workers racing for the
 * last place never both get it (a worker that loses picks again). Without max_conns, the
 * plain add of busy, always true. The bound holds over the processes that share s's entry
 * in the state file; a server without one (no file, or its room full) is bounded per
 * worker. */
bool shoal_upstream_reserve(struct shoal_upstream_server *s);

/* A request of group u takes a place in its queue: true if the requests waiting over every
 * worker were fewer than u's `queue` (then they count it, until shoal_upstream_queue_leave),
 * false when the queue is full or u has none. Exact over every worker, as reserve. */
bool shoal_upstream_queue_enter(struct shoal_upstream *u);

/* A request that entered u's queue leaves it (dispatched, timed out, or gone). */
void shoal_upstream_queue_leave(struct shoal_upstream *u);

/* Requests waiting in u's queue over every worker; 0 without a queue. */
unsigned shoal_upstream_queued(const struct shoal_upstream *u);

/* The outcome of a try on s: the passive rules above. */
void shoal_upstream_report(struct shoal_upstream_server *s, enum shoal_upstream_outcome outcome,
			   uint64_t now_ms);

/* Checker: the result of one probe of s; rise and fall decide whether `check` changes.
 * detail is the HTTP status or a negated errno, kept for shoalctl. Returns true when the
 * server's checked state changed (the checker logs it). */
bool shoal_upstream_probe_result(struct shoal_upstream_server *s, bool passed, int detail,
				 uint64_t now_ms);

/* The first byte of an answer came from s: it is not stalled. One load per call; a store
 * at most once a millisecond, so that workers do not trade the line on every request. */
void shoal_upstream_answered(struct shoal_upstream_server *s, uint64_t now_ms);

/* Whether s is stalled: stall_timeout is set, a try has waited on s since waiting_ms
 * (the oldest of the caller's), and no worker had an answer from s for stall_timeout. */
bool shoal_upstream_stalled(const struct shoal_upstream_server *s, uint64_t waiting_ms,
			    uint64_t now_ms);

/* A stalled server is ejected as after max_fails failures (max_ejection_percent holds;
 * max_fails 0, passive health off, ejects nothing). */
void shoal_upstream_eject(struct shoal_upstream_server *s, uint64_t now_ms);

/* Whether the checker has found s down. */
bool shoal_upstream_checked_down(const struct shoal_upstream_server *s);

/* Whether status is one of the group's fail_status. */
bool shoal_upstream_fail_status(const struct shoal_upstream *u, int status);

#endif
