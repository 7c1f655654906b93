/* A worker process: one epoll loop serving the listeners of its slot until told to stop. */
#ifndef SHOAL_WORKER_WORKER_H
#define SHOAL_WORKER_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shoal/worker/access_log.h"
#include "shoal/config/config.h"
#include "shoal/net/event.h"
#include "shoal/handler/file_cache.h"
#include "shoal/http/parser.h"
#include "shoal/http/date.h"
#include "shoal/http/head.h"
#include "shoal/base/log.h"
#include "shoal/net/timer.h"

struct shoal_mime;
struct shoal_stats_slot;
struct shoal_stats_view;
struct shoal_acl_entry;
struct shoal_conn;
struct shoal_conn_io;
struct shoal_conn_slab;

/* What the master hands to a worker it forks. */
struct shoal_worker_params {
	const struct shoal_config *cfg;
	struct shoal_log *log;
	unsigned slot;
	unsigned generation;
	const struct shoal_addr *const *addrs; /* the distinct listen addresses of cfg */
	const int *listen_fds;                 /* this slot's socket for each of addrs */
	size_t nlisten;
	const int *root_fds;                   /* O_PATH root of each of cfg->servers */
	const struct shoal_mime *mime;
	int ready_fd; /* written once the worker serves, then closed */
	bool drop_privileges;
	uid_t uid;
	gid_t gid;
	struct shoal_stats_slot *stats; /* NULL: no statistics */
	const struct shoal_stats_view *stats_view; /* the whole file, for the status endpoint */
};

/* A status that error_pages answers with a file of the server's. */
struct shoal_error_page {
	int status;
	const char *path; /* within the configuration's string */
};

struct shoal_worker_server {
	struct shoal_worker *worker;
	const struct shoal_server_conf *conf;
	int root_fd; /* O_PATH directory that every file is opened beneath */
	struct shoal_error_page *error_pages; /* conf's error_pages, parsed once */
	size_t nerror_pages;
};

struct shoal_worker_listener {
	struct shoal_event_source ev;
	struct shoal_worker *worker;
	/* The servers on this address, chosen among by Host (virtual hosts). */
	struct shoal_worker_server **servers;
	const struct shoal_server_conf **confs;
	size_t nservers;
	size_t default_index;
};

struct shoal_worker {
	const struct shoal_config *cfg;
	struct shoal_log *log;
	struct shoal_event_loop loop;
	struct shoal_event_source signals;
	struct shoal_worker_listener *listeners;
	size_t nlisteners;
	struct shoal_worker_server *servers;
	size_t nservers;
	const struct shoal_mime *mime;
	struct shoal_stats_slot *stats;
	const struct shoal_stats_view *stats_view;
	struct shoal_acl_entry *status_acl; /* who may read status_path */
	size_t nstatus_acl;

	/* Every open connection sits in exactly one of these queues. */
	struct shoal_timer_queue header_q;    /* waiting for a request head */
	struct shoal_timer_queue keepalive_q; /* idle between requests */
	struct shoal_timer_queue send_q;      /* waiting for the client to read */
	struct shoal_timer_queue linger_q;    /* closing: draining what the client still sends */

	struct shoal_conn_slab *slabs;
	struct shoal_conn *free_conns; /* recycled connection structs */
	struct shoal_conn *closed;     /* closed during this poll round, recycled after it */
	struct shoal_conn_io *free_io; /* recycled buffers of busy connections */
	struct shoal_conn_io *deferred; /* connections to resume: see shoal_worker_defer */
	size_t nfree_io;
	size_t in_size, scratch_size;  /* of each shoal_conn_io's two buffers */
	struct shoal_http_limits limits;
	struct shoal_file_cache cache;
	struct shoal_access_log access_log;
	time_t access_log_flushed; /* the second of the last flush */
	uint64_t cache_revalidate_ms;
	char server_header[32];
	uint64_t multipart_count; /* makes each multipart boundary unique */
	struct shoal_http_request req; /* the request being answered; never kept across events */
	char path[4096];               /* its decoded, normalised path */

	uint64_t now_ms;
	struct shoal_http_date date;
	size_t nconns;
	bool accepting;
	uint64_t accept_retry_ms; /* when to retry accepting after EMFILE/ENFILE, 0: none */
	bool listening;           /* the listener fds are open */
	uint64_t listeners_close_ms; /* when a retiring worker stops accepting, 0: not set */
	bool draining;            /* graceful stop: no keep-alive, exit once connections end */
	bool stopping;            /* the server stops (QUIT), not just this worker (WINCH) */
	uint64_t drain_deadline_ms;
	bool stop_now;
};

/* Runs the worker; returns the process exit status. */
int shoal_worker_run(const struct shoal_worker_params *params);

/* Connection structs come from slabs and are recycled; one closed during an event batch is
 * recycled only after the batch, since an event for it may still be pending in the batch. */
struct shoal_conn *shoal_worker_conn_get(struct shoal_worker *w);
void shoal_worker_conn_put(struct shoal_worker *w, struct shoal_conn *c);
/* Called when a connection closes: it may let accepting resume. */
void shoal_worker_conn_closed(struct shoal_worker *w, struct shoal_conn *c);

/* Connections whose turn ended with more to send, resumed after the current events. */
void shoal_worker_defer(struct shoal_worker *w, struct shoal_conn *c);
void shoal_worker_undefer(struct shoal_worker *w, struct shoal_conn_io *io);

struct shoal_conn_io *shoal_worker_io_get(struct shoal_worker *w);
void shoal_worker_io_put(struct shoal_worker *w, struct shoal_conn_io *io);

#endif
