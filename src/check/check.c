#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "check_int.h"
#include "shoal/base/clock.h"
#include "shoal/base/privileges.h"
#include "shoal/base/util.h"
#include "shoal/upstream/health.h"

/* The process around the probes: its signals. */
struct check_process {
	struct shoal_event_source signals;
	struct shoal_log *log;
	bool stop;
};

static const struct shoal_check_kind *check_kind(enum shoal_check_type type)
{
	switch (type) {
	case SHOAL_CHECK_TCP:
		return &shoal_check_tcp;
	case SHOAL_CHECK_HTTP:
		return &shoal_check_http;
	default:
		return NULL;
	}
}

static bool check_server_wanted(const struct shoal_upstream_conf *u, size_t i)
{
	return check_kind(u->health_check.type) && !u->servers[i].down;
}

bool shoal_check_wanted(const struct shoal_config *cfg)
{
	for (size_t i = 0; i < cfg->nupstreams; i++)
		for (size_t j = 0; j < cfg->upstreams[i].nservers; j++)
			if (check_server_wanted(&cfg->upstreams[i], j) ||
			    shoal_check_resolve_wanted(&cfg->upstreams[i], j))
				return true;
	return false;
}

/* --- a probe's course --- */

/* "status 503", "connected", a refused handshake's reason, or the errno's text as a log line
 * goes on: "connection refused". */
static void check_detail_text(const struct shoal_check_probe *p, char *buf, size_t size)
{
	int detail = p->detail;

	if (detail == -EPROTO && p->tls_why[0])
		snprintf(buf, size, "tls handshake failed: %s", p->tls_why);
	else if (detail > 0)
		snprintf(buf, size, "status %d", detail);
	else if (detail == 0)
		snprintf(buf, size, "connected");
	else
		snprintf(buf, size, "%s", strerror(-detail));
	buf[0] = (char)tolower((unsigned char)buf[0]);
}

static void check_publish(struct shoal_check_probe *p, bool passed)
{
	const struct shoal_health_check_conf *conf = p->group->conf;
	const struct shoal_upstream_server *s = p->server;
	int streak = passed ? conf->rise : conf->fall;
	char why[192];

	if (!shoal_upstream_probe_result(p->server, passed, p->detail, p->check->now_ms))
		return;
	check_detail_text(p, why, sizeof(why));
	shoal_log_write(p->check->log, passed ? SHOAL_LOG_INFO : SHOAL_LOG_WARN,
			"upstream %s server %s is %s (check: %s, %d %s)", s->group->conf->name,
			shoal_config_server_label(s->conf), passed ? "up" : "down", why, streak,
			passed ? (streak == 1 ? "pass" : "passes")
			       : (streak == 1 ? "failure" : "failures"));
}

static void check_start(struct shoal_check_probe *p);

static void check_end(struct shoal_check_probe *p, enum check_step step)
{
	shoal_timer_disarm(&p->timeout);
	if (p->conn) {
		shoal_upstream_conn_close(p->conn);
		p->conn = NULL;
	}
	check_publish(p, step == CHECK_PASSED);
	if (p->due) {
		p->due = false;
		check_start(p);
	}
}

static void check_on_conn(struct shoal_upstream_conn *uc, uint32_t events)
{
	struct shoal_check_probe *p = uc->holder;
	enum check_step step = p->kind->on_event(p, events);

	if (step != CHECK_PENDING)
		check_end(p, step);
}

/* A server given by name is probed at the first address of its current set. */
static void check_start(struct shoal_check_probe *p)
{
	struct shoal_upstream_address a;

	shoal_upstream_address_first(p->server, &a);
	if (shoal_upstream_conn_open_to(p->server, &a, check_on_conn, p, &p->conn) < 0) {
		p->conn = NULL;
		p->detail = -errno;
		check_end(p, CHECK_FAILED);
		return;
	}
	p->kind->start(p);
	shoal_timer_arm(&p->group->timeout, &p->timeout, p->check->now_ms);
}

static void check_on_tick(struct shoal_timer *t)
{
	struct shoal_check_probe *p = container_of(t, struct shoal_check_probe, tick);

	shoal_timer_arm(&p->group->tick, t, p->check->now_ms);
	if (p->conn)
		p->due = true;
	else
		check_start(p);
}

static void check_on_timeout(struct shoal_timer *t)
{
	struct shoal_check_probe *p = container_of(t, struct shoal_check_probe, timeout);

	p->detail = -ETIMEDOUT;
	check_end(p, CHECK_FAILED);
}

/* --- the checker --- */

static size_t check_count(const struct shoal_config *cfg)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->nupstreams; i++)
		for (size_t j = 0; j < cfg->upstreams[i].nservers; j++)
			n += check_server_wanted(&cfg->upstreams[i], j);
	return n;
}

static int check_make_probes(struct shoal_check *c)
{
	size_t k = 0;

	for (size_t i = 0; i < c->set.ngroups; i++) {
		struct shoal_upstream *u = &c->set.groups[i];
		struct shoal_check_group *g = &c->groups[i];
		g->conf = &u->conf->health_check;
		shoal_timer_queue_init(&g->tick, (uint64_t)g->conf->interval_ms, check_on_tick);
		shoal_timer_queue_init(&g->timeout, (uint64_t)g->conf->timeout_ms,
				       check_on_timeout);
		for (size_t j = 0; j < u->nservers; j++) {
			struct shoal_check_probe *p;
			if (!check_server_wanted(u->conf, j))
				continue;
			p = &c->probes[k];
			*p = (struct shoal_check_probe){ .check = c, .group = g,
							 .server = &u->servers[j],
							 .kind = check_kind(g->conf->type) };
			c->nprobes = ++k;
			if (p->kind->init && p->kind->init(p) < 0)
				return -1;
		}
	}
	return 0;
}

/* The k-th of n probes first starts k/n of its interval from now: its tick is armed as if
 * that much less than an interval ago. Probes of one group are armed in the order of their
 * deadlines, as their queue needs. */
static void check_arm_first(struct shoal_check *c)
{
	for (size_t k = 0; k < c->nprobes; k++) {
		struct shoal_check_probe *p = &c->probes[k];
		uint64_t interval = p->group->tick.duration_ms;
		uint64_t offset = interval * k / c->nprobes;
		shoal_timer_arm(&p->group->tick, &p->tick, c->now_ms - interval + offset);
	}
}

int shoal_check_init(struct shoal_check *c, const struct shoal_config *cfg,
		     struct ssl_ctx_st *const *tls_clients, const struct shoal_state *state,
		     struct shoal_log *log, struct shoal_err *err)
{
	size_t n = check_count(cfg);

	memset(c, 0, sizeof(*c));
	c->log = log;
	c->now_ms = shoal_clock_mono_ms();
	if (shoal_event_init(&c->loop, err) < 0)
		return -1;
	if (shoal_upstream_set_init(&c->set, cfg, tls_clients, state, &c->loop, err) < 0) {
		shoal_event_close(&c->loop);
		return -1;
	}
	c->groups = calloc(cfg->nupstreams ? cfg->nupstreams : 1, sizeof(*c->groups));
	c->probes = calloc(n ? n : 1, sizeof(*c->probes));
	if (!c->groups || !c->probes || check_make_probes(c) < 0 ||
	    shoal_check_resolve_init(c, cfg) < 0) {
		shoal_check_free(c);
		return shoal_err_set(err, "out of memory");
	}
	check_arm_first(c);
	return 0;
}

void shoal_check_free(struct shoal_check *c)
{
	for (size_t k = 0; k < c->nprobes; k++) {
		struct shoal_check_probe *p = &c->probes[k];
		if (p->conn)
			shoal_upstream_conn_close(p->conn);
		if (p->kind->dispose)
			p->kind->dispose(p);
	}
	shoal_check_resolve_free(c);
	free(c->probes);
	free(c->groups);
	shoal_upstream_set_free(&c->set);
	shoal_event_close(&c->loop);
	memset(c, 0, sizeof(*c));
}

static void check_sooner(int64_t *next, int64_t ms)
{
	if (ms >= 0 && (*next < 0 || ms < *next))
		*next = ms;
}

static int check_next_ms(const struct shoal_check *c)
{
	int64_t next = -1;

	for (size_t i = 0; i < c->set.ngroups; i++) {
		if (!check_kind(c->groups[i].conf->type))
			continue;
		check_sooner(&next, shoal_timer_next_ms(&c->groups[i].tick, c->now_ms));
		check_sooner(&next, shoal_timer_next_ms(&c->groups[i].timeout, c->now_ms));
	}
	check_sooner(&next, shoal_check_resolve_next_ms(c));
	return next > INT32_MAX ? INT32_MAX : (int)next;
}

/* Timeouts first: a probe that ends now lets the tick due now start the next at once. */
static void check_expire(struct shoal_check *c)
{
	for (size_t i = 0; i < c->set.ngroups; i++) {
		if (!check_kind(c->groups[i].conf->type))
			continue;
		shoal_timer_expire(&c->groups[i].timeout, c->now_ms);
		shoal_timer_expire(&c->groups[i].tick, c->now_ms);
	}
	shoal_check_resolve_expire(c);
}

int shoal_check_turn(struct shoal_check *c, int max_wait_ms, struct shoal_err *err)
{
	int wait = check_next_ms(c);
	int n;

	if (max_wait_ms >= 0 && (wait < 0 || wait > max_wait_ms))
		wait = max_wait_ms;
	n = shoal_event_wait(&c->loop, wait);
	if (n < 0)
		return shoal_err_set(err, "epoll_wait: %s", strerror(errno));
	c->now_ms = shoal_clock_mono_ms();
	shoal_event_dispatch(&c->loop, n);
	check_expire(c);
	shoal_upstream_set_recycle(&c->set);
	return 0;
}

/* --- the process --- */

/* A checker left behind by a master killed outright would probe the servers for ever. Set
 * after the privileges are dropped, since a change of credentials clears it. */
static int check_follow_parent(const struct shoal_check_params *p, struct shoal_err *err)
{
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0)
		return shoal_err_set(err, "PR_SET_PDEATHSIG: %s", strerror(errno));
	if (p->parent && getppid() != p->parent)
		return shoal_err_set(err, "the master (pid %d) is gone", (int)p->parent);
	return 0;
}

static void check_on_signal(struct shoal_event_source *src, uint32_t events)
{
	struct check_process *proc = container_of(src, struct check_process, signals);
	struct signalfd_siginfo si;
	struct shoal_err err;

	(void)events;
	while (read(src->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo != SIGUSR1)
			proc->stop = true;
		else if (shoal_log_reopen(proc->log, &err) < 0)
			log_error(proc->log, "%s", err.msg);
	}
}

/* The master blocked these before forking: none is lost before the signalfd exists. */
static int check_signals(struct check_process *proc, struct shoal_check *c,
			 struct shoal_err *err)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGUSR1);
	proc->signals.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (proc->signals.fd < 0)
		return shoal_err_set(err, "signalfd: %s", strerror(errno));
	proc->signals.on_event = check_on_signal;
	if (shoal_event_add(&c->loop, &proc->signals, EPOLLIN) < 0)
		return shoal_err_set(err, "epoll_ctl: %s", strerror(errno));
	return 0;
}

static void check_ready(const struct shoal_check_params *p)
{
	if (p->ready_fd < 0)
		return;
	if (write(p->ready_fd, "R", 1) != 1)
		log_warn(p->log, "cannot report start-up: %s", strerror(errno));
	close(p->ready_fd);
}

int shoal_check_main(const struct shoal_check_params *p)
{
	struct check_process proc = { .signals.fd = -1, .log = p->log };
	struct shoal_check c;
	struct shoal_err err;
	int rc = 0;

	if (shoal_privileges_drop(p->drop_privileges, p->uid, p->gid, &err) < 0 || check_follow_parent(p, &err) < 0 ||
	    shoal_check_init(&c, p->cfg, p->tls_clients, p->state, p->log, &err) < 0) {
		log_error(p->log, "%s", err.msg);
		return 1;
	}
	if (check_signals(&proc, &c, &err) < 0) {
		log_error(p->log, "%s", err.msg);
		proc.stop = true;
		rc = 1;
	} else {
		check_ready(p);
		if (c.nprobes)
			log_info(p->log, "probing %zu upstream server%s", c.nprobes,
				 c.nprobes == 1 ? "" : "s");
		if (c.nlookups)
			log_info(p->log, "looking up the names of %zu upstream server%s",
				 c.nlookups, c.nlookups == 1 ? "" : "s");
	}
	while (!proc.stop) {
		if (shoal_check_turn(&c, -1, &err) < 0) {
			log_error(p->log, "%s", err.msg);
			rc = 1;
			break;
		}
	}
	shoal_check_free(&c);
	if (proc.signals.fd >= 0)
		close(proc.signals.fd);
	return rc;
}
