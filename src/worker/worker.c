#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "shoal/base/clock.h"
#include "shoal/base/privileges.h"
#include "shoal/base/util.h"
#include "shoal/handler/error_page.h"
#include "shoal/handler/limit.h"
#include "shoal/handler/proxy.h"
#include "shoal/net/acl.h"
#include "shoal/net/recvq.h"
#include "shoal/net/ring.h"
#include "shoal/net/sendq.h"
#include "shoal/http/date.h"
#include "shoal/route/route.h"
#include "shoal/stats/stats.h"
#include "shoal/worker/access_log.h"
#include "shoal/worker/conn.h"
#include "shoal/worker/proxy_header.h"
#include "shoal/worker/worker.h"

/* After EMFILE/ENFILE, accepting pauses this long instead of spinning on a full queue. */
#define ACCEPT_RETRY_MS 100
/* How long a worker being replaced keeps accepting from its slot's socket. */
#define RETIRE_ACCEPT_MS 1000

struct worker_listener {
	struct shoal_event_source ev;
	struct shoal_worker *worker;
	struct shoal_conn_origin origin;
	struct shoal_route route; /* the sites on this address */
	struct shoal_proxy_header_listen proxy_header; /* with the proxy_protocol flag */
};

struct shoal_worker {
	const struct shoal_config *cfg;
	struct shoal_log *log;
	struct shoal_event_loop loop;
	struct shoal_ring ring; /* the loop's send and read queues' io_uring */
	struct shoal_event_source signals;
	struct worker_listener *listeners;
	size_t nlisteners;
	struct shoal_site *sites;
	size_t nsites;
	struct shoal_acl_entry *status_acl; /* who may read status_path */
	size_t nstatus_acl;
	struct shoal_handler_ctx handler;
	struct shoal_proxy_env proxy;
	struct shoal_limit_env limit;
	struct shoal_conn_env conns;
	struct shoal_access_log access_log;
	time_t access_log_flushed; /* the second of the last flush */

	bool accepting;
	uint64_t accept_retry_ms; /* when to retry accepting after EMFILE/ENFILE, 0: none */
	bool listening;           /* the listener fds are open */
	uint64_t listeners_close_ms; /* when a retiring worker stops accepting, 0: not set */
	uint64_t drain_deadline_ms;
	bool stop_now;
};

static void worker_set_accepting(struct shoal_worker *w, bool on)
{
	if (w->accepting == on)
		return;
	for (size_t i = 0; i < w->nlisteners; i++) {
		struct worker_listener *l = &w->listeners[i];
		if (on)
			shoal_event_add(&w->loop, &l->ev, EPOLLIN);
		else
			shoal_event_del(&w->loop, &l->ev);
	}
	w->accepting = on;
}

static bool worker_accept_one(struct shoal_worker *w, struct worker_listener *l)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	int fd = accept4(l->ev.fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd >= 0) {
		shoal_conn_accept(&l->origin, fd, &peer);
		return true;
	}
	switch (errno) {
	case EINTR:
	case ECONNABORTED:
		return true;
	case EAGAIN:
		return false;
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		log_warn(w->log, "accept: %s; pausing accepting for %d ms", strerror(errno),
			 ACCEPT_RETRY_MS);
		shoal_stats_error(w->handler.stats, SHOAL_STATS_ERROR_LIMIT);
		worker_set_accepting(w, false);
		w->accept_retry_ms = w->handler.now_ms + ACCEPT_RETRY_MS;
		return false;
	default:
		log_error(w->log, "accept: %s", strerror(errno));
		return false;
	}
}

/* Accepts until the queue is empty or the connection limit is reached; beyond the limit new
 * connections wait in the kernel queue, where another slot's worker cannot take them but the
 * client at least is not refused. */
static void worker_on_listener(struct shoal_event_source *src, uint32_t events)
{
	struct worker_listener *l = container_of(src, struct worker_listener, ev);
	struct shoal_worker *w = l->worker;

	(void)events;
	if (l->ev.fd < 0) /* closed by a drain earlier in this batch */
		return;
	while (w->accepting && w->conns.nconns < (size_t)w->cfg->max_connections)
		if (!worker_accept_one(w, l))
			break;
	if (w->conns.nconns >= (size_t)w->cfg->max_connections)
		worker_set_accepting(w, false);
}

/* A connection closed: below the connection limit again, accepting may resume. */
static void worker_on_conn_closed(struct shoal_conn_env *env)
{
	struct shoal_worker *w = container_of(env, struct shoal_worker, conns);

	if (!w->accepting && w->listening && !w->stop_now && !w->accept_retry_ms &&
	    w->conns.nconns < (size_t)w->cfg->max_connections)
		worker_set_accepting(w, true);
}

/* Stops accepting. A stopping worker also closes its idle keep-alive connections then: the
 * server goes away, so their next request could not be served anyway. */
static void worker_close_listeners(struct shoal_worker *w)
{
	worker_set_accepting(w, false);
	for (size_t i = 0; i < w->nlisteners; i++) {
		if (w->listeners[i].ev.fd >= 0)
			close(w->listeners[i].ev.fd);
		w->listeners[i].ev.fd = -1;
	}
	w->listeners_close_ms = 0;
	w->listening = false;
	if (w->handler.stopping)
		shoal_conn_close_idle(&w->conns);
}

/* Lets connections finish: each answers its next request with Connection: close; whatever
 * is left at the deadline is closed.
 * On a stop (QUIT) the server goes away: after stop_delay, during which health_path answers
 * 503 so that a load balancer in front can take this server out, the listeners close, and
 * so do idle keep-alive connections. A worker only being replaced (WINCH: reload, one worker
 * less) keeps accepting for a moment, so that a slot socket that is going away is drained of
 * the connections it queued before the master steered new ones elsewhere; and it keeps idle
 * connections until their next request, since a client may be sending one right now. */
static void worker_start_drain(struct shoal_worker *w, bool stopping)
{
	uint64_t close_ms = w->handler.now_ms + (stopping ? (uint64_t)w->cfg->stop_delay * 1000
						  : RETIRE_ACCEPT_MS);

	if (!w->conns.draining) {
		log_info(w->log, "%s: %zu connections to finish", stopping ? "stopping" : "retiring",
			 w->conns.nconns);
		w->conns.draining = true;
		shoal_stats_worker_state(w->handler.stats, SHOAL_STATS_DRAINING);
		w->drain_deadline_ms = close_ms + (uint64_t)w->cfg->shutdown_timeout * 1000;
		w->listeners_close_ms = close_ms;
	}
	if (!stopping || w->handler.stopping)
		return;
	w->handler.stopping = true;
	if (close_ms < w->listeners_close_ms)
		w->listeners_close_ms = close_ms;
	if (w->listening && w->listeners_close_ms <= w->handler.now_ms)
		worker_close_listeners(w);
}

static void worker_on_signal(struct shoal_event_source *src, uint32_t events)
{
	struct shoal_worker *w = container_of(src, struct shoal_worker, signals);
	struct signalfd_siginfo si;
	struct shoal_err err;

	(void)events;
	while (read(src->fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			w->stop_now = true;
			break;
		case SIGQUIT:
			worker_start_drain(w, true);
			break;
		case SIGWINCH:
			worker_start_drain(w, false);
			break;
		case SIGUSR1:
			if (shoal_log_reopen(w->log, &err) < 0 ||
			    shoal_access_log_reopen(&w->access_log, &err) < 0)
				log_error(w->log, "%s", err.msg);
			break;
		}
	}
}

static int worker_setup_signals(struct shoal_worker *w, struct shoal_err *err)
{
	sigset_t set;

	/* Writes to a closed connection must fail with EPIPE, not kill the worker. */
	signal(SIGPIPE, SIG_IGN);
	/* The master blocked these before forking, so none is lost before this fd exists. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGWINCH);
	sigaddset(&set, SIGUSR1);
	w->signals.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (w->signals.fd < 0)
		return shoal_err_set(err, "signalfd: %s", strerror(errno));
	w->signals.on_event = worker_on_signal;
	if (shoal_event_add(&w->loop, &w->signals, EPOLLIN) < 0)
		return shoal_err_set(err, "epoll_ctl: %s", strerror(errno));
	return 0;
}

static int location_longer_first(const void *a, const void *b)
{
	const struct shoal_site_location *x = a, *y = b;

	return x->path_len < y->path_len ? 1 : x->path_len > y->path_len ? -1 : 0;
}

/* A location with a root of its own is served as a site of its own: the server's, but for
 * the root (and so the file cache's entries, which are the root's). */
static int worker_location_site(struct shoal_site_location *l, const struct shoal_site *server,
				int root_fd)
{
	l->site = malloc(sizeof(*l->site));
	if (!l->site)
		return -1;
	*l->site = *server;
	l->site->root_fd = root_fd;
	l->site->locations = NULL;
	l->site->nlocations = 0;
	return 0;
}

/* The site's locations, the longest path first, so the first match is the longest. *next_root
 * is the index in root_fds of the next location root. */
static int worker_site_locations(struct shoal_worker *w, struct shoal_site *site,
				 const int *root_fds, size_t *next_root)
{
	const struct shoal_server_conf *conf = site->conf;

	if (!conf->nlocations)
		return 0;
	site->locations = calloc(conf->nlocations, sizeof(*site->locations));
	if (!site->locations)
		return -1;
	site->nlocations = conf->nlocations;
	for (size_t i = 0; i < conf->nlocations; i++) {
		struct shoal_site_location *l = &site->locations[i];
		l->conf = &conf->locations[i];
		l->path_len = strlen(l->conf->path);
		if (l->conf->proxy)
			l->upstream = &w->proxy.set.groups[l->conf->upstream];
		else if (l->conf->root &&
			 worker_location_site(l, site, root_fds[(*next_root)++]) < 0)
			return -1;
	}
	qsort(site->locations, site->nlocations, sizeof(*site->locations), location_longer_first);
	return 0;
}

static int worker_setup_sites(struct shoal_worker *w, const struct shoal_worker_params *p,
			      struct shoal_err *err)
{
	size_t next_root = p->cfg->nservers;

	w->nsites = p->cfg->nservers;
	w->sites = calloc(w->nsites, sizeof(*w->sites));
	w->nlisteners = p->nlisten;
	w->listeners = calloc(w->nlisteners, sizeof(*w->listeners));
	if (!w->sites || !w->listeners)
		return shoal_err_set(err, "out of memory");
	for (size_t i = 0; i < w->nsites; i++) {
		w->sites[i].conf = &p->cfg->servers[i];
		w->sites[i].root_fd = p->root_fds[i];
		if (shoal_error_page_load(&w->sites[i]) < 0 ||
		    worker_site_locations(w, &w->sites[i], p->root_fds, &next_root) < 0)
			return shoal_err_set(err, "out of memory");
	}
	for (size_t i = 0; i < w->nlisteners; i++) {
		struct worker_listener *l = &w->listeners[i];
		l->ev.on_event = worker_on_listener;
		l->ev.fd = p->listen_fds[i];
		l->worker = w;
		l->origin.env = &w->conns;
		l->origin.route = &l->route;
		if (shoal_route_init(&l->route, w->sites, w->nsites, p->addrs[i], w->status_acl,
				     w->nstatus_acl) < 0)
			return shoal_err_set(err, "out of memory");
		if (p->tls_sets && p->tls_sets[i]) {
			l->origin.tls = p->tls_sets[i];
			l->route.tls = true;
		}
		switch (shoal_proxy_header_listen_init(&l->proxy_header, p->cfg, p->addrs[i])) {
		case 1:
			l->origin.proxy_header = &l->proxy_header;
			break;
		case -1:
			return shoal_err_set(err, "%s: proxy_protocol_from: out of memory",
					     p->addrs[i]->text);
		}
	}
	return 0;
}

/* The turn's clock, in both units the handlers read, from one reading. */
static void worker_read_clock(struct shoal_handler_ctx *h)
{
	h->now_us = shoal_clock_mono_us();
	h->now_ms = h->now_us / 1000;
}

/* The handler context and the connections' environment. */
static int worker_setup_handling(struct shoal_worker *w, const struct shoal_worker_params *p,
				 struct shoal_err *err)
{
	struct shoal_handler_ctx *h = &w->handler;
	int rc = shoal_handler_ctx_init(h, p->cfg, p->mime);

	h->stats = p->stats;
	h->stats_view = p->stats_view;
	h->state = p->state;
	h->tls_clients = p->tls_clients;
	h->log = p->log;
	worker_read_clock(h);
	/* Even when the cache could not be made: teardown walks the connections' queues. */
	shoal_conn_env_init(&w->conns, h);
	w->conns.loop = &w->loop;
	w->conns.access_log = &w->access_log;
	w->conns.on_closed = worker_on_conn_closed;
	return rc < 0 ? shoal_err_set(err, "out of memory") : 0;
}

/* Batched sends and reads where the kernel lets this process use io_uring; system calls
 * otherwise, which work the same, each costing its own. Slots for a turn: it takes up to
 * SHOAL_EVENT_BATCH events, most of them one read or one send each. */
static void worker_setup_batching(struct shoal_worker *w)
{
	struct shoal_err err;

	if (shoal_ring_init(&w->ring, 2 * SHOAL_EVENT_BATCH, &err) == 0 &&
	    (w->loop.sendq = shoal_sendq_new(&w->ring, SHOAL_EVENT_BATCH, &err)))
		w->loop.recvq = shoal_recvq_new(&w->ring, SHOAL_EVENT_BATCH, &err);
	if (!w->loop.recvq)
		log_info(w->log, "reads%s are not batched: %s", w->loop.sendq ? "" : " and sends",
			 err.msg);
}

static int worker_setup(struct shoal_worker *w, const struct shoal_worker_params *p,
			struct shoal_err *err)
{
	w->cfg = p->cfg;
	w->log = p->log;
	w->loop.epfd = -1;
	w->signals.fd = -1;
	w->access_log.fd = -1;
	if (worker_setup_handling(w, p, err) < 0)
		return -1;
	/* Opened before privileges are dropped: the log directory may belong to root. */
	if (shoal_access_log_open(&w->access_log, w->cfg->access_log, err) < 0)
		return -1;
	if (shoal_route_status_acl(w->cfg, &w->status_acl, &w->nstatus_acl, err) < 0 ||
	    shoal_privileges_drop(p->drop_privileges, p->uid, p->gid, err) < 0 ||
	    shoal_event_init(&w->loop, err) < 0 ||
	    shoal_proxy_env_init(&w->proxy, &w->handler, &w->loop, err) < 0 ||
	    shoal_limit_env_init(&w->limit, w->cfg, w->handler.state, w->handler.log, err) < 0 ||
	    worker_setup_signals(w, err) < 0 || worker_setup_sites(w, p, err) < 0)
		return -1;
	worker_setup_batching(w);
	w->limit.journal = p->limit_journal;
	w->handler.limit = &w->limit;
	w->listening = true;
	worker_set_accepting(w, true);
	return 0;
}

static void worker_expire(struct shoal_worker *w)
{
	shoal_conn_expire(&w->conns);
	shoal_proxy_expire(&w->proxy);
	if (w->listeners_close_ms && w->listeners_close_ms <= w->handler.now_ms)
		worker_close_listeners(w);
	if (w->accept_retry_ms && w->accept_retry_ms <= w->handler.now_ms) {
		w->accept_retry_ms = 0;
		if (w->listening && w->conns.nconns < (size_t)w->cfg->max_connections)
			worker_set_accepting(w, true);
	}
}

static void sooner(uint64_t *next, uint64_t deadline_ms)
{
	if (deadline_ms && deadline_ms < *next)
		*next = deadline_ms;
}

/* A worker wakes at least once a second, so that its heartbeat shows it is alive (and the
 * access log is flushed within about a second). */
static int worker_next_timeout(const struct shoal_worker *w)
{
	uint64_t next = w->handler.now_ms + 1000;
	int64_t conns, proxy;

	/* Sends the queue could not take this turn go before the loop sleeps. */
	if (w->loop.sendq && shoal_sendq_waiting(w->loop.sendq))
		return 0;
	conns = shoal_conn_next_ms(&w->conns);
	proxy = shoal_proxy_next_ms(&w->proxy);
	if (conns >= 0)
		sooner(&next, w->handler.now_ms + (uint64_t)conns);
	if (proxy >= 0)
		sooner(&next, w->handler.now_ms + (uint64_t)proxy);
	sooner(&next, w->accept_retry_ms);
	sooner(&next, w->listeners_close_ms);
	if (w->conns.draining)
		sooner(&next, w->drain_deadline_ms);
	return next > w->handler.now_ms ? (int)(next - w->handler.now_ms) : 0;
}

static int worker_loop(struct shoal_worker *w)
{
	while (!w->stop_now) {
		int n;

		if (w->conns.draining && !w->listening &&
		    (w->conns.nconns == 0 || w->handler.now_ms >= w->drain_deadline_ms))
			break;
		n = shoal_event_wait(&w->loop, worker_next_timeout(w));
		if (n < 0) {
			log_error(w->log, "epoll_wait: %s", strerror(errno));
			return 1;
		}
		worker_read_clock(&w->handler);
		shoal_stats_heartbeat(w->handler.stats, w->handler.now_ms);
		shoal_http_date_update(&w->handler.date, time(NULL));
		if (w->loop.recvq)
			shoal_recvq_read_ahead(w->loop.recvq, w->loop.ready, n);
		shoal_event_dispatch(&w->loop, n);
		shoal_conn_resume_deferred(&w->conns);
		if (w->loop.sendq)
			shoal_sendq_run(w->loop.sendq);
		worker_expire(w);
		shoal_pool_recycle(&w->conns.pool);
		shoal_proxy_recycle(&w->proxy);
		/* Lines wait in the buffer for at most about a second. */
		if (w->access_log.len && w->handler.date.sec != w->access_log_flushed) {
			shoal_access_log_flush(&w->access_log);
			w->access_log_flushed = w->handler.date.sec;
		}
	}
	return 0;
}

/* At the end of a graceful stop, whatever is still open is closed. */
static void worker_teardown(struct shoal_worker *w)
{
	shoal_conn_close_all(&w->conns);
	shoal_pool_recycle(&w->conns.pool);
	shoal_conn_env_free(&w->conns);
	shoal_proxy_env_free(&w->proxy);
	shoal_limit_env_free(&w->limit);
	shoal_file_cache_free(&w->handler.cache);
	shoal_access_log_close(&w->access_log);
	for (size_t i = 0; w->listeners && i < w->nlisteners; i++) {
		shoal_route_free(&w->listeners[i].route);
		shoal_proxy_header_listen_free(&w->listeners[i].proxy_header);
	}
	free(w->listeners);
	free(w->status_acl);
	for (size_t i = 0; w->sites && i < w->nsites; i++) {
		free(w->sites[i].error_pages);
		for (size_t j = 0; j < w->sites[i].nlocations; j++)
			free(w->sites[i].locations[j].site);
		free(w->sites[i].locations);
	}
	free(w->sites);
	if (w->signals.fd >= 0)
		close(w->signals.fd);
	shoal_recvq_free(w->loop.recvq);
	shoal_sendq_free(w->loop.sendq);
	shoal_ring_close(&w->ring);
	shoal_event_close(&w->loop);
}

int shoal_worker_run(const struct shoal_worker_params *p)
{
	struct shoal_worker w = { 0 };
	struct shoal_err err;
	int status = 0;

	if (worker_setup(&w, p, &err) < 0) {
		log_error(p->log, "%s", err.msg);
		status = 1;
	} else {
		shoal_stats_worker_start(w.handler.stats, getpid());
		/* The master retires the previous worker of this slot only after this byte. */
		if (write(p->ready_fd, "R", 1) != 1)
			log_warn(p->log, "cannot tell the master we are ready: %s", strerror(errno));
		status = worker_loop(&w);
		if (w.conns.draining && w.conns.nconns)
			log_info(w.log, "shutdown timeout: closing %zu connections", w.conns.nconns);
	}
	close(p->ready_fd);
	worker_teardown(&w);
	return status;
}
