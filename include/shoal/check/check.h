/* The checker: one process per generation, forked by the master like a worker, that probes
 * every server of every upstream group with a health_check (not those down by configuration)
 * once per interval, however many workers there are, and publishes each result in the
 * server's entry in the state file through shoal_upstream_probe_result: rise and fall decide
 * there whether the server is up, for every worker at once. A change is logged once, here.
 *
 * A probe is a TCP connect (tcp) or a GET of path (http) with timeout_ms to finish. The
 * first probes of the servers are spread over the interval, so that many servers are not
 * probed in one burst; a probe never overlaps the previous one of the same server (a probe
 * still running when the next is due delays it until it ends).
 *
 * It also looks up again the name of every server given by one (resolve, not down by
 * configuration) every resolve_interval of its group, and publishes a new set of addresses
 * in the server's entry when the name's addresses change, for every worker at once (see
 * shoal/upstream/address.h); a failed lookup keeps the last set. Lookups are asynchronous
 * (getaddrinfo_a, looked at on a timer while they run): a slow resolver never holds up a
 * probe. A server given by name is probed at the first address of its current set.
 *
 * The process is made of the pieces below; the unit tests drive them in their own process,
 * with no state file (each server then has an entry of its own). */
#ifndef SHOAL_CHECK_CHECK_H
#define SHOAL_CHECK_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shoal/base/error.h"
#include "shoal/base/log.h"
#include "shoal/config/config.h"
#include "shoal/net/event.h"
#include "shoal/net/timer.h"
#include "shoal/upstream/upstream.h"

struct shoal_state;
struct shoal_check_group;
struct shoal_check_probe;
struct shoal_check_lookup;

/* The probing of one configuration: a loop, the groups, a probe per checked server, a
 * lookup per server given by name. */
struct shoal_check {
	struct shoal_event_loop loop;
	struct shoal_upstream_set set;     /* the groups; each server's `shared` takes its results */
	struct shoal_log *log;
	struct shoal_check_group *groups;  /* one per group of set, in order */
	struct shoal_check_probe *probes;  /* one per checked server */
	size_t nprobes;
	struct shoal_check_lookup *lookups; /* one per server given by name */
	size_t nlookups;
	struct shoal_timer_queue lookup_poll; /* running lookups: the next look at each */
	uint64_t now_ms;                   /* read once per turn */
};

/* What the master hands to the checker it forks. */
struct shoal_check_params {
	const struct shoal_config *cfg;
	const struct shoal_state *state; /* NULL: no state file */
	/* The master's client context of each upstream group with tls; NULL: made here */
	struct ssl_ctx_st *const *tls_clients;
	struct shoal_log *log;
	int ready_fd;  /* written "R" once probing, then closed; -1: none */
	pid_t parent;  /* the master: the checker exits when it is gone */
	bool drop_privileges;
	uid_t uid;
	gid_t gid;
};

/* Whether cfg has a server to probe (a group with a health_check and a server not down) or
 * to look up (a server not down given by name). */
bool shoal_check_wanted(const struct shoal_config *cfg);

/* Makes c for cfg, its servers' entries found in state (NULL: entries of its own), its tls
 * groups' client contexts from tls_clients (shoal_upstream_set_init), and arms the first
 * probes, spread over their intervals from now. log is used for state changes. -1 with err
 * set if something could not be made; c then holds nothing to free. */
int shoal_check_init(struct shoal_check *c, const struct shoal_config *cfg,
		     struct ssl_ctx_st *const *tls_clients, const struct shoal_state *state,
		     struct shoal_log *log, struct shoal_err *err);

/* One turn: waits up to max_wait_ms (-1: until the next timer) for events on c->loop, which
 * may hold sources of the caller's, handles them and starts or times out the probes that are
 * due. Returns -1 with err set if epoll fails. */
int shoal_check_turn(struct shoal_check *c, int max_wait_ms, struct shoal_err *err);

/* Closes the probes' connections and frees c. */
void shoal_check_free(struct shoal_check *c);

/* Runs the checker process: privileges dropped, signals on a signalfd (TERM, INT, QUIT:
 * stop; USR1: reopen the log), probing until told to stop. Returns the exit status. */
int shoal_check_main(const struct shoal_check_params *p);

#endif
