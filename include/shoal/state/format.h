/* How an upstream server's shared entry (shoal/state/upstream.h) is shown: by shoalctl,
 * as columns added to each server's row of `shoalctl upstreams` (text and JSON) and as
 * Prometheus series, and by the master when it logs a change.
 *
 * Its escaping of Prometheus label values serves the limit zones' series too
 * (shoal/state/limit_format.h).
 *
 * What the file cannot tell is not shown: a server down by configuration has an entry like
 * any other (only the configuration knows it is out). A group's queue (an entry with no
 * server name) shows as state "queue" with the requests waiting in it as in flight, the
 * rest "-" (null in JSON); its Prometheus series are the stats'. Each function that writes
 * to out leaves its errors in out's error indicator. */
#ifndef SHOAL_STATE_FORMAT_H
#define SHOAL_STATE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "shoal/state/state.h"
#include "shoal/state/upstream.h"

/* The titles of the columns shoal_state_format_cells writes, each with a leading space. */
void shoal_state_format_heading(FILE *out);

/* Whether e takes new requests as far as the file tells (at now_ms, CLOCK_MONOTONIC ms):
 * admin up, not down by checks, not ejected. */
bool shoal_state_format_up(const struct shoal_state_upstream *e, uint64_t now_ms);

/* e's state in a word or two, into buf: "down (admin)", "draining", "down (check)",
 * "ejected 12s" (the seconds left, rounded up) or "up", in that order of precedence;
 * "-" when e is NULL. */
void shoal_state_format_status(char *buf, size_t size, const struct shoal_state_upstream *e,
			       uint64_t now_ms);

/* e's last probe, into buf: "HTTP 503", "connected" (a TCP check's connection opened) or
 * the errno's name ("ECONNREFUSED", "ETIMEDOUT"); "-" before the first probe or when e is
 * NULL. */
void shoal_state_format_check(char *buf, size_t size, const struct shoal_state_upstream *e);

/* The columns of shoal_state_format_heading for e: state, check, requests in flight over
 * every worker, the weight shoalctl set (or "configured"), ejections ever.
 * All "-" when e is NULL (no state file, or no entry for the server). */
void shoal_state_format_cells(FILE *out, const struct shoal_state_upstream *e, uint64_t now_ms);

/* The same as members of a JSON object, each written as `, "key": value`: state, admin,
 * check, check_result, in_flight, admin_weight (0: the configured weight),
 * ejected_left_ms, ejections_total, checks_passed, checks_failed. Values are null when e
 * is NULL. */
void shoal_state_format_json(FILE *out, const struct shoal_state_upstream *e, uint64_t now_ms);

/* Every server's entry of st as Prometheus series labelled upstream and server:
 * shoal_upstream_up, shoal_upstream_in_flight, shoal_upstream_ejections_total,
 * shoal_upstream_checks_total (by result). Nothing when st has no entry. */
void shoal_state_format_prometheus(FILE *out, const struct shoal_state *st, uint64_t now_ms);

/* src's text (at most max bytes, or up to its NUL) as a Prometheus label value into dst:
 * backslash, double quote and newline escaped. dst has room for 2 * max bytes; returns how
 * many it got, without a NUL. */
size_t shoal_state_format_escape(char *dst, const char *src, size_t max);

/* Names of the admin and check values: "up", "drain", "down"; "none", "up", "down". */
const char *shoal_state_format_admin_name(uint32_t admin);
const char *shoal_state_format_check_name(uint32_t check);

#endif
