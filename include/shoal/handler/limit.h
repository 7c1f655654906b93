/* Limit zones on the request path (issue 15): the zones a location names are applied to its
 * requests before their handler runs, on tables in the state file that every worker shares
 * (shoal/state/limit.h), so a limit holds exactly however the kernel spreads a client's
 * connections over the workers.
 *
 * A rate zone lets a request through or refuses it (GCRA); a concurrency zone lets it through
 * with a hold that the answer gives back when it ends. A request refused by any zone gets 429
 * with Retry-After (the longest any refusing zone asks for, at least 1 s) and the site's error
 * page; a dry_run zone refuses nothing and logs what it would have refused (a line a second
 * per zone at most). Clients in limit_allow are never limited. A key made only of header parts
 * none of which the request has is not accounted, as nginx does with an empty key. */
#ifndef SHOAL_HANDLER_LIMIT_H
#define SHOAL_HANDLER_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal/base/error.h"
#include "shoal/handler/handler.h"
#include "shoal/handler/limit_journal.h"
#include "shoal/net/acl.h"
#include "shoal/state/limit.h"

/* Concurrency zones one request may hold at once. */
#define SHOAL_LIMIT_HOLDS_MAX 8

/* A worker's view of the zones. */
struct shoal_limit_env {
	struct shoal_state_limit_zone **zones; /* by index in cfg->limit_zones; NULL: not in
						* the state file, so not applied (said at start) */
	size_t nzones;
	const struct shoal_state *state;
	struct shoal_acl_entry *allow;
	size_t nallow;
	uint64_t *said_ms; /* per zone: when a dry run was last logged */
	struct shoal_limit_journal *journal; /* where holds are recorded; NULL: nowhere */
};

/* What a request holds in concurrency zones until its answer ends. */
struct shoal_limit_holds {
	struct shoal_state_limit_hold hold[SHOAL_LIMIT_HOLDS_MAX];
	_Atomic uint64_t *cell[SHOAL_LIMIT_HOLDS_MAX]; /* each one's journal cell, or NULL */
	unsigned n;
};

/* The zone c asks of the state file: what the master makes a table by and what a worker
 * finds it by, so the two can never differ. */
struct shoal_state_limit_spec shoal_limit_spec(const struct shoal_limit_zone_conf *c);

/* Finds the zones of cfg in state (NULL: no zones apply) and parses limit_allow; a zone that
 * is missing is logged to log. The caller sets journal. -1 with err set if memory runs out or an entry is bad. */
int shoal_limit_env_init(struct shoal_limit_env *env, const struct shoal_config *cfg,
			 const struct shoal_state *state, struct shoal_log *log,
			 struct shoal_err *err);
void shoal_limit_env_free(struct shoal_limit_env *env);

/* Applies loc's zones to req at ctx->now_ms: true if it goes on, with its concurrency holds
 * added to holds; false when a zone refused it: the 429 is queued on req->out and counted,
 * and what the connection may do next is in req->keep_alive. */
bool shoal_limit_apply(struct shoal_handler_req *req, const struct shoal_location_conf *loc,
		       struct shoal_limit_holds *holds);

/* The journal cells a worker of cfg needs: one per hold each of its connections can have. */
size_t shoal_limit_journal_cells(const struct shoal_config *cfg);

/* Gives back every hold, clearing its journal cell first; holds is empty after. */
void shoal_limit_release(struct shoal_limit_holds *holds);

#endif
