/* How the limit zones of the state file (shoal/state/limit.h) are shown by `shoalctl limits`:
 * as a table, as JSON and as Prometheus series.
 *
 * Only live zones are shown, in the directory's order: a retired zone was made afresh by a
 * reload (a live zone of its name has taken over) or is no longer configured, and is left to
 * the workers of older generations that still count in it. The counters are those of the
 * zone's entry since the master made it: a zone made afresh starts from zero.
 *
 * Each zone's keys with the most requests refused are read from its table into the caller's
 * top[0..max), max 0 showing none; the Prometheus series leave them out, as a series per
 * client would grow without bound. A key's text is what its entry keeps, cut to
 * SHOAL_STATE_LIMIT_KEY_TEXT bytes. Each function leaves its write errors in out's error
 * indicator. */
#ifndef SHOAL_STATE_LIMIT_FORMAT_H
#define SHOAL_STATE_LIMIT_FORMAT_H

#include <stddef.h>
#include <stdio.h>

#include "shoal/state/limit.h"
#include "shoal/state/state.h"

/* A table with a row per live zone: ZONE, KIND (rate or conn), KEY (as written), RATE
 * (requests per second) and BURST of a rate zone, CONN (requests in flight per key) of a
 * concurrency zone ("-" where a kind has none), SIZE, KEYS in use, PASSED, DELAYED,
 * REJECTED, EVICTIONS, UNTRACKED; then per zone its top keys (REJECTED and KEY), or that no
 * key was refused. "no limit zones" when st has no live zone. Control bytes of names and
 * keys are shown as '?'. */
void shoal_state_limit_format_text(FILE *out, const struct shoal_state *st,
				   struct shoal_state_limit_top *top, size_t max);

/* {"zones": [...]} with an object per live zone: "name", "kind" ("rate" or "conn"), "key",
 * "rate" and "burst" (null in a concurrency zone), "conn" (null in a rate zone), "size",
 * "keys", "passed", "delayed", "rejected", "evictions", "untracked", and "top", a list of
 * {"key", "rejected"} objects, most refused first. Strings are written in ASCII: a byte
 * outside printable ASCII as \u00XX (a key cut inside a UTF-8 character is shown as the
 * bytes it has). */
void shoal_state_limit_format_json(FILE *out, const struct shoal_state *st,
				   struct shoal_state_limit_top *top, size_t max);

/* The live zones as series labelled zone: shoal_limit_requests_total{result} (passed,
 * delayed, rejected), shoal_limit_keys, shoal_limit_evictions_total and
 * shoal_limit_untracked_total. Nothing when st has no live zone. */
void shoal_state_limit_format_prometheus(FILE *out, const struct shoal_state *st);

#endif
