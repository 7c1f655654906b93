/* The master's state, shared by the files of src/master/ that run it: the workers and
 * checkers it forked, its worker slots, the current generation, the sockets and the binary upgrade under way.
 * Private to this folder; the rest of the tree sees only shoal/master/master.h. */
#ifndef SHOAL_MASTER_MASTER_INT_H
#define SHOAL_MASTER_MASTER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shoal/base/log.h"
#include "shoal/base/util.h"
#include "shoal/handler/limit_journal.h"
#include "shoal/master/generation.h"
#include "shoal/master/pidfile.h"
#include "shoal/master/slot_sockets.h"
#include "shoal/net/event.h"
#include "shoal/state/state.h"
#include "shoal/stats/stats.h"
#include "shoal/tls/keys.h"

#define MAX_SLOTS 1024

struct master_worker {
	struct shoal_event_source ready_ev;
	struct master *master;
	struct shoal_generation *gen;
	pid_t pid;
	unsigned slot;
	bool ready;
	bool retiring;
	bool told_to_stop; /* got QUIT rather than WINCH */
	bool hung;         /* killed by the watchdog */
	uint64_t started_ms;
	uint64_t kill_at_ms; /* 0: no deadline */
	int stats_index;     /* its slot in the stats file, -1: none */
	struct shoal_limit_journal journal; /* its concurrency holds, to give back if it dies */
};

/* A checker process (checker.c): the current generation's, and older ones until it runs. */
struct master_checker {
	struct shoal_event_source ready_ev;
	struct master *master;
	struct master_checker *next;
	pid_t pid;
	unsigned gen_id;
	bool ready;
	bool stopping;       /* told to stop (SIGTERM) */
	uint64_t kill_at_ms; /* 0: no deadline */
};

struct master_state_seen;

struct master_slot {
	unsigned fast_deaths;
	uint64_t respawn_at_ms; /* 0: nothing scheduled */
};

struct master {
	struct shoal_log log;
	struct shoal_event_loop loop;
	struct shoal_event_source signals;
	struct shoal_pidfile pidfile;
	const char *config_path;
	int startup_fd;
	unsigned next_gen_id;
	struct shoal_generation *current;
	struct master_slot *slots;
	unsigned nslots;
	struct shoal_slot_sockets sockets;
	struct master_worker **workers;
	size_t nworkers, cap_workers;
	struct shoal_stats stats;
	struct shoal_state state; /* upstream health and loads, shared with every process */
	struct master_state_seen *state_seen; /* each entry as last logged (state.c) */
	unsigned state_nseen;
	uint64_t next_state_ms; /* next look at the entries for changes; 0: none to look at */
	bool state_full_logged;
	struct master_checker *checkers;     /* live, the newest first */
	struct master_checker *dead_checkers; /* reaped in this event batch; freed after it */
	uint64_t checker_respawn_ms;          /* 0: nothing scheduled */
	/* Reaped during this event batch; freed after it, since an event of theirs (the
	 * ready pipe) may still be pending in the same batch. */
	struct master_worker **dead;
	size_t ndead, cap_dead;
	uint64_t next_export_ms;
	struct shoal_tls_keys *tls_keys; /* the session ticket keys (tls.c) */
	uint64_t tls_rotate_ms;          /* the next rotation */
	/* Binary upgrade, old master's side: the new master while it starts. */
	const char *exe;
	pid_t upgrade_pid;
	struct shoal_event_source upgrade_ev; /* its ready pipe */
	bool handing_over; /* retiring for a new master, which now owns pid and stats files */
	/* New master's side: the old master's ready pipe, then the pid file still to take. */
	int upgrade_ready_fd;
	uint64_t pidfile_retry_ms, pidfile_give_up_ms;
	bool serving; /* every slot of the current generation has served; systemd was told */
	bool stopping;
	bool fast_stop;
	uint64_t now_ms;
};

#endif
