/* A worker process: one epoll loop serving the listeners of its slot until told to stop. */
#ifndef SHOAL_WORKER_WORKER_H
#define SHOAL_WORKER_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shoal/base/log.h"
#include "shoal/config/config.h"
#include "shoal/handler/limit_journal.h"

struct shoal_addr;
struct shoal_mime;
struct shoal_stats_slot;
struct shoal_stats_view;
struct shoal_state;
struct shoal_tls_context_set;

/* What the master hands to a worker it forks. */
struct shoal_worker_params {
	const struct shoal_config *cfg;
	struct shoal_log *log;
	unsigned slot;
	unsigned generation;
	const struct shoal_addr *const *addrs; /* the distinct listen addresses of cfg */
	const int *listen_fds;                 /* this slot's socket for each of addrs */
	/* The TLS contexts of each of addrs that has the tls flag, else NULL (or NULL: none) */
	struct shoal_tls_context_set *const *tls_sets;
	/* The client context of each upstream group with tls, made by the master; NULL: none */
	struct ssl_ctx_st *const *tls_clients;
	size_t nlisten;
	/* O_PATH root of each of cfg->servers, then of each location with a root of its own,
	 * server by server, in order */
	const int *root_fds;
	const struct shoal_mime *mime;
	int ready_fd; /* written once the worker serves, then closed */
	bool drop_privileges;
	uid_t uid;
	gid_t gid;
	struct shoal_stats_slot *stats; /* NULL: no statistics */
	const struct shoal_stats_view *stats_view; /* the whole file, for the status endpoint */
	const struct shoal_state *state; /* the shared upstream health and loads; NULL: none */
	struct shoal_limit_journal *limit_journal; /* its concurrency holds; NULL: none kept */
};

/* Runs the worker; returns the process exit status. */
int shoal_worker_run(const struct shoal_worker_params *params);

#endif
