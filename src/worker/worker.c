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
#include "shoal/net/acl.h"
#include "shoal/http/date.h"
#include "shoal/worker/conn.h"
#include "shoal/handler/respond.h"
#include "shoal/handler/fs.h"
#include "shoal/stats/stats.h"
#include "shoal/worker/worker.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* After EMFILE/ENFILE, accepting pauses this long instead of spinning on a full queue. */
#define ACCEPT_RETRY_MS 100
/* How long a closing connection may keep sending before we stop reading it. */
#define LINGER_MS 5000
#define IN_SLACK 1024
/* Buffers of busy connections kept for reuse; more are freed when their connection rests. */
#define IO_POOL_MAX 256
/* How long a worker being replaced keeps accepting from its slot's socket. */
#define RETIRE_ACCEPT_MS 1000
/* The worker's file cache holds at most this many files, whatever their size. */
#define CACHE_MAX_ENTRIES 16384

static void worker_set_accepting(struct shoal_worker *w, bool on)
{
	if (w->accepting == on)
		return;
	for (size_t i = 0; i < w->nlisteners; i++) {
		struct shoal_worker_listener *l = &w->listeners[i];
		if (on)
			shoal_event_add(&w->loop, &l->ev, EPOLLIN);
		else
			shoal_event_del(&w->loop, &l->ev);
	}
	w->accepting = on;
}

static bool worker_accept_one(struct shoal_worker *w, struct shoal_worker_listener *l)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	int fd = accept4(l->ev.fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd >= 0) {
		shoal_conn_accept(l, fd, &peer);
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
		shoal_stats_error(w->stats, SHOAL_STATS_ERROR_LIMIT);
		worker_set_accepting(w, false);
		w->accept_retry_ms = w->now_ms + ACCEPT_RETRY_MS;
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
	struct shoal_worker_listener *l = container_of(src, struct shoal_worker_listener, ev);
	struct shoal_worker *w = l->worker;

	(void)events;
	if (l->ev.fd < 0) /* closed by a drain earlier in this batch */
		return;
	while (w->accepting && w->nconns < (size_t)w->cfg->max_connections)
		if (!worker_accept_one(w, l))
			break;
	if (w->nconns >= (size_t)w->cfg->max_connections)
		worker_set_accepting(w, false);
}

static struct shoal_conn *conn_of_timer(struct shoal_timer *t)
{
	return container_of(t, struct shoal_conn, timer);
}

/* Connections are allocated 64 at a time: an idle connection then costs sizeof(struct
 * shoal_conn) and not a malloc header more. */
#define SLAB_CONNS 64

struct shoal_conn_slab {
	struct shoal_conn_slab *next;
	struct shoal_conn conns[SLAB_CONNS];
};

struct shoal_conn *shoal_worker_conn_get(struct shoal_worker *w)
{
	struct shoal_conn *c;

	if (!w->free_conns) {
		struct shoal_conn_slab *slab = malloc(sizeof(*slab));
		if (!slab)
			return NULL;
		slab->next = w->slabs;
		w->slabs = slab;
		for (size_t i = 0; i < SLAB_CONNS; i++)
			shoal_worker_conn_put(w, &slab->conns[i]);
	}
	c = w->free_conns;
	w->free_conns = c->next;
	memset(c, 0, sizeof(*c));
	return c;
}

void shoal_worker_conn_put(struct shoal_worker *w, struct shoal_conn *c)
{
	c->next = w->free_conns;
	w->free_conns = c;
}

void shoal_worker_conn_closed(struct shoal_worker *w, struct shoal_conn *c)
{
	c->next = w->closed;
	w->closed = c;
	w->nconns--;
	if (!w->accepting && w->listening && !w->stop_now && !w->accept_retry_ms &&
	    w->nconns < (size_t)w->cfg->max_connections)
		worker_set_accepting(w, true);
}

void shoal_worker_defer(struct shoal_worker *w, struct shoal_conn *c)
{
	struct shoal_conn_io *io = c->io;

	if (io->deferred)
		return;
	io->deferred = true;
	io->deferred_prev = NULL;
	io->deferred_next = w->deferred;
	if (w->deferred)
		w->deferred->deferred_prev = io;
	w->deferred = io;
}

void shoal_worker_undefer(struct shoal_worker *w, struct shoal_conn_io *io)
{
	if (!io->deferred)
		return;
	if (io->deferred_prev)
		io->deferred_prev->deferred_next = io->deferred_next;
	else
		w->deferred = io->deferred_next;
	if (io->deferred_next)
		io->deferred_next->deferred_prev = io->deferred_prev;
	io->deferred = false;
}

/* Gives every deferred connection its next turn; those that yield again wait for the next
 * round, after the events that arrived meanwhile. */
static void worker_resume_deferred(struct shoal_worker *w)
{
	struct shoal_conn_io *list = w->deferred;

	w->deferred = NULL;
	while (list) {
		struct shoal_conn_io *io = list;
		list = io->deferred_next;
		if (list)
			list->deferred_prev = NULL;
		io->deferred = false;
		shoal_conn_resume(io->owner);
	}
}

struct shoal_conn_io *shoal_worker_io_get(struct shoal_worker *w)
{
	struct shoal_conn_io *io = w->free_io;

	if (io) {
		w->free_io = io->next_free;
		w->nfree_io--;
	} else {
		io = malloc(sizeof(*io) + w->in_size + w->scratch_size);
		if (!io)
			return NULL;
		io->in = io->storage;
	}
	io->in_len = io->in_pos = io->in_scanned = 0;
	io->deferred = false;
	io->body_left = 0;
	io->body_chunked = false;
	shoal_out_init(&io->out, io->storage + w->in_size, w->scratch_size);
	return io;
}

void shoal_worker_io_put(struct shoal_worker *w, struct shoal_conn_io *io)
{
	/* A burst of busy connections must not leave its buffers behind for good: idle
	 * connections are meant to cost only their struct. */
	if (w->nfree_io >= IO_POOL_MAX) {
		free(io);
		return;
	}
	io->next_free = w->free_io;
	w->free_io = io;
	w->nfree_io++;
}

/* Stops accepting. A stopping worker also closes its idle keep-alive connections then: the
 * server goes away, so their next request could not be served anyway. */
static void worker_close_listeners(struct shoal_worker *w)
{
	struct shoal_timer *t;

	worker_set_accepting(w, false);
	for (size_t i = 0; i < w->nlisteners; i++) {
		if (w->listeners[i].ev.fd >= 0)
			close(w->listeners[i].ev.fd);
		w->listeners[i].ev.fd = -1;
	}
	w->listeners_close_ms = 0;
	w->listening = false;
	while (w->stopping && (t = shoal_timer_pop_expired(&w->keepalive_q, UINT64_MAX)))
		shoal_conn_close(conn_of_timer(t));
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
	uint64_t close_ms = w->now_ms + (stopping ? (uint64_t)w->cfg->stop_delay * 1000
						  : RETIRE_ACCEPT_MS);

	if (!w->draining) {
		log_info(w->log, "%s: %zu connections to finish", stopping ? "stopping" : "retiring",
			 w->nconns);
		w->draining = true;
		shoal_stats_worker_state(w->stats, SHOAL_STATS_DRAINING);
		w->drain_deadline_ms = close_ms + (uint64_t)w->cfg->shutdown_timeout * 1000;
		w->listeners_close_ms = close_ms;
	}
	if (!stopping || w->stopping)
		return;
	w->stopping = true;
	if (close_ms < w->listeners_close_ms)
		w->listeners_close_ms = close_ms;
	if (w->listening && w->listeners_close_ms <= w->now_ms)
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

static int worker_drop_privileges(const struct shoal_worker_params *p, struct shoal_err *err)
{
	if (p->drop_privileges) {
		if (setgroups(1, &p->gid) < 0 || setgid(p->gid) < 0 || setuid(p->uid) < 0)
			return shoal_err_set(err, "cannot drop privileges to uid %d gid %d: %s",
					     (int)p->uid, (int)p->gid, strerror(errno));
		if (p->uid != 0 && setuid(0) == 0)
			return shoal_err_set(err, "privileges could be regained after dropping them");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return shoal_err_set(err, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	return 0;
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

static bool server_listens_on(const struct shoal_server_conf *s, const struct shoal_addr *addr)
{
	for (size_t i = 0; i < s->nlisten; i++)
		if (shoal_addr_equal(&s->listen[i], addr))
			return true;
	return false;
}

/* Collects the servers of one address, the default among them first in line. */
static int worker_setup_listener(struct shoal_worker *w, struct shoal_worker_listener *l,
				 const struct shoal_addr *addr)
{
	l->servers = calloc(w->nservers, sizeof(*l->servers));
	l->confs = calloc(w->nservers, sizeof(*l->confs));
	if (!l->servers || !l->confs)
		return -1;
	for (size_t i = 0; i < w->nservers; i++) {
		const struct shoal_server_conf *conf = w->servers[i].conf;
		if (!server_listens_on(conf, addr))
			continue;
		if (conf->default_server)
			l->default_index = l->nservers;
		l->confs[l->nservers] = conf;
		l->servers[l->nservers++] = &w->servers[i];
	}
	return 0;
}

static int worker_setup_servers(struct shoal_worker *w, const struct shoal_worker_params *p,
				struct shoal_err *err)
{
	w->nservers = p->cfg->nservers;
	w->servers = calloc(w->nservers, sizeof(*w->servers));
	w->nlisteners = p->nlisten;
	w->listeners = calloc(w->nlisteners, sizeof(*w->listeners));
	if (!w->servers || !w->listeners)
		return shoal_err_set(err, "out of memory");
	for (size_t i = 0; i < w->nservers; i++) {
		w->servers[i].worker = w;
		w->servers[i].conf = &p->cfg->servers[i];
		w->servers[i].root_fd = p->root_fds[i];
		if (shoal_respond_load_error_pages(&w->servers[i]) < 0)
			return shoal_err_set(err, "out of memory");
	}
	for (size_t i = 0; i < w->nlisteners; i++) {
		struct shoal_worker_listener *l = &w->listeners[i];
		l->ev.on_event = worker_on_listener;
		l->ev.fd = p->listen_fds[i];
		l->worker = w;
		if (worker_setup_listener(w, l, p->addrs[i]) < 0)
			return shoal_err_set(err, "out of memory");
	}
	return 0;
}

static void worker_init_limits(struct shoal_worker *w)
{
	const struct shoal_config *cfg = w->cfg;

	/* Room beyond the head limit for the start of a pipelined next request. */
	w->in_size = (size_t)cfg->max_header_size + IN_SLACK;
	w->scratch_size = shoal_respond_scratch_need((size_t)cfg->max_header_size);
	w->cache_revalidate_ms = (uint64_t)cfg->cache_revalidate * 1000;
	snprintf(w->server_header, sizeof(w->server_header), "%s",
		 cfg->server_tokens ? "shoal/" SHOAL_VERSION : "shoal");
	w->limits.max_request_line = (size_t)cfg->max_header_size;
	w->limits.max_head = (size_t)cfg->max_header_size;
	w->limits.max_headers = (size_t)cfg->max_headers;
	shoal_timer_queue_init(&w->header_q, (uint64_t)cfg->header_timeout * 1000);
	shoal_timer_queue_init(&w->keepalive_q, (uint64_t)cfg->keepalive_timeout * 1000);
	shoal_timer_queue_init(&w->send_q, (uint64_t)cfg->send_timeout * 1000);
	shoal_timer_queue_init(&w->linger_q, LINGER_MS);
}

/* With no status_allow list, only the machine itself may read the status endpoint. */
static int worker_setup_status_acl(struct shoal_worker *w, struct shoal_err *err)
{
	static const char *const loopback[] = { "127.0.0.0/8", "::1" };
	const struct shoal_config *cfg = w->cfg;
	size_t n = cfg->nstatus_allow ? cfg->nstatus_allow : 2;

	w->status_acl = calloc(n, sizeof(*w->status_acl));
	if (!w->status_acl)
		return shoal_err_set(err, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *text = cfg->nstatus_allow ? cfg->status_allow[i] : loopback[i];
		if (shoal_acl_parse(text, &w->status_acl[i]) < 0)
			return shoal_err_set(err, "status_allow: bad entry '%s'", text);
	}
	w->nstatus_acl = n;
	return 0;
}

static int worker_setup(struct shoal_worker *w, const struct shoal_worker_params *p,
			struct shoal_err *err)
{
	w->cfg = p->cfg;
	w->log = p->log;
	w->mime = p->mime;
	w->stats = p->stats;
	w->stats_view = p->stats_view;
	w->loop.epfd = -1;
	w->signals.fd = -1;
	w->access_log.fd = -1;
	w->now_ms = shoal_clock_mono_ms();
	shoal_http_date_update(&w->date, time(NULL));
	worker_init_limits(w);
	if (shoal_file_cache_init(&w->cache, CACHE_MAX_ENTRIES, (size_t)w->cfg->cache_max_size,
				  (size_t)w->cfg->cache_max_open_files) < 0)
		return shoal_err_set(err, "out of memory");
	/* Opened before privileges are dropped: the log directory may belong to root. */
	if (shoal_access_log_open(&w->access_log, w->cfg->access_log, err) < 0)
		return -1;
	if (worker_setup_status_acl(w, err) < 0 || worker_drop_privileges(p, err) < 0 ||
	    shoal_event_init(&w->loop, err) < 0 ||
	    worker_setup_signals(w, err) < 0 || worker_setup_servers(w, p, err) < 0)
		return -1;
	w->listening = true;
	worker_set_accepting(w, true);
	return 0;
}

/* Takes every connection whose timer is due by `until` out of its queue and hands it to
 * `handle`. Every open connection sits in exactly one of the queues. */
static void worker_pop_due(struct shoal_worker *w, uint64_t until,
			   void (*handle)(struct shoal_conn *c))
{
	struct shoal_timer_queue *queues[] = { &w->header_q, &w->keepalive_q, &w->send_q,
					       &w->linger_q };
	struct shoal_timer *t;

	for (size_t i = 0; i < sizeof(queues) / sizeof(queues[0]); i++)
		while ((t = shoal_timer_pop_expired(queues[i], until)))
			handle(conn_of_timer(t));
}

static void worker_expire(struct shoal_worker *w)
{
	worker_pop_due(w, w->now_ms, shoal_conn_timeout);
	if (w->listeners_close_ms && w->listeners_close_ms <= w->now_ms)
		worker_close_listeners(w);
	if (w->accept_retry_ms && w->accept_retry_ms <= w->now_ms) {
		w->accept_retry_ms = 0;
		if (w->listening && w->nconns < (size_t)w->cfg->max_connections)
			worker_set_accepting(w, true);
	}
}

/* At the end of a graceful stop, whatever is still open is closed. */
static void worker_close_all(struct shoal_worker *w)
{
	worker_pop_due(w, UINT64_MAX, shoal_conn_close);
}

static void worker_recycle_closed(struct shoal_worker *w)
{
	while (w->closed) {
		struct shoal_conn *c = w->closed;
		w->closed = c->next;
		shoal_worker_conn_put(w, c);
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
	const struct shoal_timer_queue *queues[] = { &w->header_q, &w->keepalive_q, &w->send_q,
						     &w->linger_q };
	uint64_t next = w->now_ms + 1000;

	if (w->deferred)
		return 0;
	for (size_t i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
		int64_t t = shoal_timer_next_ms(queues[i], w->now_ms);
		if (t >= 0)
			sooner(&next, w->now_ms + (uint64_t)t);
	}
	sooner(&next, w->accept_retry_ms);
	sooner(&next, w->listeners_close_ms);
	if (w->draining)
		sooner(&next, w->drain_deadline_ms);
	return next > w->now_ms ? (int)(next - w->now_ms) : 0;
}

static int worker_loop(struct shoal_worker *w)
{
	while (!w->stop_now) {
		int n;

		if (w->draining && !w->listening && (w->nconns == 0 || w->now_ms >= w->drain_deadline_ms))
			break;
		n = shoal_event_wait(&w->loop, worker_next_timeout(w));
		if (n < 0) {
			log_error(w->log, "epoll_wait: %s", strerror(errno));
			return 1;
		}
		w->now_ms = shoal_clock_mono_ms();
		shoal_stats_heartbeat(w->stats, w->now_ms);
		shoal_http_date_update(&w->date, time(NULL));
		shoal_event_dispatch(&w->loop, n);
		worker_resume_deferred(w);
		worker_expire(w);
		worker_recycle_closed(w);
		/* Lines wait in the buffer for at most about a second. */
		if (w->access_log.len && w->date.sec != w->access_log_flushed) {
			shoal_access_log_flush(&w->access_log);
			w->access_log_flushed = w->date.sec;
		}
	}
	return 0;
}

static void worker_teardown(struct shoal_worker *w)
{
	worker_close_all(w);
	worker_recycle_closed(w);
	while (w->slabs) {
		struct shoal_conn_slab *slab = w->slabs;
		w->slabs = slab->next;
		free(slab);
	}
	while (w->free_io) {
		struct shoal_conn_io *io = w->free_io;
		w->free_io = io->next_free;
		free(io);
	}
	shoal_file_cache_free(&w->cache);
	shoal_access_log_close(&w->access_log);
	for (size_t i = 0; w->listeners && i < w->nlisteners; i++) {
		free(w->listeners[i].servers);
		free(w->listeners[i].confs);
	}
	free(w->listeners);
	free(w->status_acl);
	for (size_t i = 0; w->servers && i < w->nservers; i++)
		free(w->servers[i].error_pages);
	free(w->servers);
	if (w->signals.fd >= 0)
		close(w->signals.fd);
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
		shoal_stats_worker_start(w.stats, getpid());
		/* The master retires the previous worker of this slot only after this byte. */
		if (write(p->ready_fd, "R", 1) != 1)
			log_warn(p->log, "cannot tell the master we are ready: %s", strerror(errno));
		status = worker_loop(&w);
		if (w.draining && w.nconns)
			log_info(w.log, "shutdown timeout: closing %zu connections", w.nconns);
	}
	close(p->ready_fd);
	worker_teardown(&w);
	return status;
}
