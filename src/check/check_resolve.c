#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_int.h"
#include "shoal/base/util.h"
#include "shoal/net/addr.h"
#include "shoal/state/upstream.h"

/* How often a running lookup is looked at: a hosts file answers within it, DNS in a few. */
#define LOOKUP_POLL_MS 10
/* "10.0.0.1:9001, 10.0.0.2:9001": a set's addresses as a log line lists them. */
#define SET_TEXT (SHOAL_STATE_UPSTREAM_ADDRS * (SHOAL_ADDR_TEXT_MAX + 2))

/* An address set: the name's, as canonical addresses (equal addresses are equal bytes). */
struct lookup_set {
	struct shoal_addr addr[SHOAL_STATE_UPSTREAM_ADDRS];
	unsigned n;
};

bool shoal_check_resolve_wanted(const struct shoal_upstream_conf *u, size_t i)
{
	return u->servers[i].host && !u->servers[i].down;
}

static void set_add(struct lookup_set *set, const struct sockaddr *sa, socklen_t len)
{
	struct shoal_addr *a = &set->addr[set->n];

	if (set->n >= SHOAL_STATE_UPSTREAM_ADDRS || shoal_addr_from_sockaddr(a, sa, len) < 0)
		return;
	for (unsigned i = 0; i < set->n; i++)
		if (shoal_addr_equal(&set->addr[i], a))
			return;
	set->n++;
}

static bool set_has(const struct lookup_set *set, const struct shoal_addr *a)
{
	for (unsigned i = 0; i < set->n; i++)
		if (shoal_addr_equal(&set->addr[i], a))
			return true;
	return false;
}

/* The same addresses, in any order: a resolver that rotates them changes nothing. */
static bool set_same(const struct lookup_set *a, const struct lookup_set *b)
{
	if (a->n != b->n)
		return false;
	for (unsigned i = 0; i < a->n; i++)
		if (!set_has(b, &a->addr[i]))
			return false;
	return true;
}

static void set_text(const struct lookup_set *set, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < set->n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "",
					set->addr[i].text);
}

/* The set the server's entry holds now (the workers' one). */
static void set_current(const struct shoal_check_lookup *l, struct lookup_set *set)
{
	struct sockaddr_storage ss[SHOAL_STATE_UPSTREAM_ADDRS];
	uint32_t seq;
	unsigned n = shoal_state_upstream_addrs(l->server->shared, ss, SHOAL_STATE_UPSTREAM_ADDRS,
						&seq);

	set->n = 0;
	for (unsigned i = 0; i < n; i++)
		set_add(set, (const struct sockaddr *)&ss[i], sizeof(ss[i]));
}

static void lookup_publish(struct shoal_check_lookup *l, const struct lookup_set *got)
{
	const struct shoal_upstream_server *s = l->server;
	struct sockaddr_storage ss[SHOAL_STATE_UPSTREAM_ADDRS];
	struct lookup_set cur;
	char text[SET_TEXT];
	bool again = l->error != 0;

	l->error = 0;
	set_current(l, &cur);
	set_text(got, text, sizeof(text));
	if (set_same(&cur, got)) {
		if (again)
			log_info(l->check->log, "upstream %s server %s resolves again, to %s",
				 s->group->conf->name, s->conf->host, text);
		return;
	}
	for (unsigned i = 0; i < got->n; i++)
		ss[i] = got->addr[i].ss;
	shoal_state_upstream_set_addrs(s->shared, ss, got->n);
	log_info(l->check->log, "upstream %s server %s now resolves to %s", s->group->conf->name,
		 s->conf->host, text);
}

/* Once per new error: a name that stays unresolvable is not logged every interval. */
static void lookup_failed(struct shoal_check_lookup *l, int error)
{
	const struct shoal_upstream_server *s = l->server;
	struct lookup_set cur;
	char text[SET_TEXT];

	if (l->error == error)
		return;
	l->error = error;
	set_current(l, &cur);
	if (cur.n)
		set_text(&cur, text, sizeof(text));
	else
		snprintf(text, sizeof(text), "%s", s->conf->address.text);
	log_warn(l->check->log, "upstream %s server %s: cannot resolve: %s; keeping %s",
		 s->group->conf->name, s->conf->host, gai_strerror(error), text);
}

static void lookup_done(struct shoal_check_lookup *l, int rc)
{
	struct lookup_set got = { .n = 0 };

	l->running = false;
	shoal_timer_disarm(&l->poll);
	for (const struct addrinfo *ai = rc ? NULL : l->cb.ar_result; ai; ai = ai->ai_next)
		set_add(&got, ai->ai_addr, ai->ai_addrlen);
	if (l->cb.ar_result)
		freeaddrinfo(l->cb.ar_result);
	l->cb.ar_result = NULL;
	if (!rc && !got.n)
		rc = EAI_NODATA;
	if (rc)
		lookup_failed(l, rc);
	else
		lookup_publish(l, &got);
}

/* No signal and no thread of ours is told: the poll timer looks at the request. */
static void lookup_start(struct shoal_check_lookup *l)
{
	struct gaicb *list[1] = { &l->cb };
	int rc;

	l->cb = (struct gaicb){ .ar_name = l->name, .ar_service = l->port,
				.ar_request = &l->hints };
	rc = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
	if (rc != 0) {
		lookup_done(l, rc);
		return;
	}
	l->running = true;
	shoal_timer_arm(&l->check->lookup_poll, &l->poll, l->check->now_ms);
}

static void lookup_on_tick(struct shoal_timer *t)
{
	struct shoal_check_lookup *l = container_of(t, struct shoal_check_lookup, tick);

	shoal_timer_arm(&l->group->resolve, t, l->check->now_ms);
	/* A lookup slower than the interval is not doubled: the next starts after it. */
	if (!l->running)
		lookup_start(l);
}

static void lookup_on_poll(struct shoal_timer *t)
{
	struct shoal_check_lookup *l = container_of(t, struct shoal_check_lookup, poll);
	int rc = gai_error(&l->cb);

	if (rc == EAI_INPROGRESS)
		shoal_timer_arm(&l->check->lookup_poll, t, l->check->now_ms);
	else
		lookup_done(l, rc);
}

static int lookup_make(struct shoal_check_lookup *l, struct shoal_check *c,
		       struct shoal_check_group *g, struct shoal_upstream_server *s)
{
	char *colon;

	*l = (struct shoal_check_lookup){
		.check = c, .group = g, .server = s,
		.hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
			   .ai_flags = AI_NUMERICSERV },
	};
	l->name = strdup(s->conf->host);
	if (!l->name)
		return -1;
	/* The configuration checked the form NAME:PORT. */
	colon = strrchr(l->name, ':');
	*colon = '\0';
	l->port = colon + 1;
	return 0;
}

static size_t resolve_count(const struct shoal_config *cfg)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->nupstreams; i++)
		for (size_t j = 0; j < cfg->upstreams[i].nservers; j++)
			n += shoal_check_resolve_wanted(&cfg->upstreams[i], j);
	return n;
}

/* The k-th of n lookups first starts k/n of its interval from now (see check.c). */
static void resolve_arm_first(struct shoal_check *c)
{
	for (size_t k = 0; k < c->nlookups; k++) {
		struct shoal_check_lookup *l = &c->lookups[k];
		uint64_t interval = l->group->resolve.duration_ms;
		uint64_t offset = interval * k / c->nlookups;
		shoal_timer_arm(&l->group->resolve, &l->tick, c->now_ms - interval + offset);
	}
}

int shoal_check_resolve_init(struct shoal_check *c, const struct shoal_config *cfg)
{
	size_t n = resolve_count(cfg);

	shoal_timer_queue_init(&c->lookup_poll, LOOKUP_POLL_MS, lookup_on_poll);
	if (!n)
		return 0;
	c->lookups = calloc(n, sizeof(*c->lookups));
	if (!c->lookups)
		return -1;
	for (size_t i = 0; i < c->set.ngroups; i++) {
		struct shoal_upstream *u = &c->set.groups[i];
		struct shoal_check_group *g = &c->groups[i];
		shoal_timer_queue_init(&g->resolve, (uint64_t)u->conf->resolve_interval_ms,
				       lookup_on_tick);
		for (size_t j = 0; j < u->nservers; j++) {
			if (!shoal_check_resolve_wanted(u->conf, j))
				continue;
			if (lookup_make(&c->lookups[c->nlookups], c, g, &u->servers[j]) < 0)
				return -1;
			c->nlookups++;
		}
	}
	resolve_arm_first(c);
	return 0;
}

int64_t shoal_check_resolve_next_ms(const struct shoal_check *c)
{
	int64_t next = c->nlookups ? shoal_timer_next_ms(&c->lookup_poll, c->now_ms) : -1;

	for (size_t i = 0; c->nlookups && i < c->set.ngroups; i++) {
		int64_t ms = shoal_timer_next_ms(&c->groups[i].resolve, c->now_ms);
		if (ms >= 0 && (next < 0 || ms < next))
			next = ms;
	}
	return next;
}

void shoal_check_resolve_expire(struct shoal_check *c)
{
	if (!c->nlookups)
		return;
	shoal_timer_expire(&c->lookup_poll, c->now_ms);
	for (size_t i = 0; i < c->set.ngroups; i++)
		shoal_timer_expire(&c->groups[i].resolve, c->now_ms);
}

/* A lookup the resolver has begun cannot be cancelled: its thread writes into the gaicb,
 * which must outlive it. */
static void lookup_stop(struct shoal_check_lookup *l)
{
	const struct gaicb *list[1] = { &l->cb };

	if (l->running && gai_cancel(&l->cb) != EAI_CANCELED)
		while (gai_error(&l->cb) == EAI_INPROGRESS)
			gai_suspend(list, 1, NULL);
	if (l->running && l->cb.ar_result)
		freeaddrinfo(l->cb.ar_result);
	l->running = false;
	free(l->name);
}

void shoal_check_resolve_free(struct shoal_check *c)
{
	for (size_t k = 0; k < c->nlookups; k++)
		lookup_stop(&c->lookups[k]);
	free(c->lookups);
	c->lookups = NULL;
	c->nlookups = 0;
}
