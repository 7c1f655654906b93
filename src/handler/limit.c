#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "shoal/base/clock.h"
#include "shoal/base/log.h"
#include "shoal/handler/limit.h"
#include "shoal/handler/reply.h"
#include "shoal/net/addr.h"
#include "shoal/stats/stats.h"

/* Bytes of a key's text: longer keys (a long URI) are hashed and shown cut. */
#define KEY_MAX 1024

struct shoal_state_limit_spec shoal_limit_spec(const struct shoal_limit_zone_conf *c)
{
	return (struct shoal_state_limit_spec){
		.name = c->name,
		.key = c->key,
		.size = c->size > 0 ? (uint32_t)c->size : 1,
		.rate = c->conn > 0 ? 0 : c->rate,
		.burst = c->burst > 0 ? (uint32_t)c->burst : 0,
		.conn = c->conn > 0 ? (uint32_t)c->conn : 0,
	};
}

static int limit_allow_init(struct shoal_limit_env *env, const struct shoal_config *cfg,
			    struct shoal_err *err)
{
	size_t bad;

	if (shoal_acl_parse_list(cfg->limit_allow, cfg->nlimit_allow, &env->allow, &bad) < 0) {
		if (bad == cfg->nlimit_allow)
			return shoal_err_set(err, "out of memory");
		return shoal_err_set(err, "limit_allow: bad entry '%s'", cfg->limit_allow[bad]);
	}
	env->nallow = cfg->nlimit_allow;
	return 0;
}

int shoal_limit_env_init(struct shoal_limit_env *env, const struct shoal_config *cfg,
			 const struct shoal_state *state, struct shoal_log *log,
			 struct shoal_err *err)
{
	memset(env, 0, sizeof(*env));
	env->state = state;
	if (!cfg->nlimit_zones)
		return 0;
	env->zones = calloc(cfg->nlimit_zones, sizeof(*env->zones));
	env->said_ms = calloc(cfg->nlimit_zones, sizeof(*env->said_ms));
	if (!env->zones || !env->said_ms)
		return shoal_err_set(err, "out of memory");
	env->nzones = cfg->nlimit_zones;
	for (size_t i = 0; i < cfg->nlimit_zones; i++) {
		struct shoal_state_limit_spec spec = shoal_limit_spec(&cfg->limit_zones[i]);
		env->zones[i] = state ? shoal_state_limit_find(state, &spec) : NULL;
		if (!env->zones[i] && log)
			log_error(log, "limit zone %s is not in the state file: not applied",
				  spec.name);
	}
	return limit_allow_init(env, cfg, err);
}

void shoal_limit_env_free(struct shoal_limit_env *env)
{
	free(env->zones);
	free(env->said_ms);
	free(env->allow);
	memset(env, 0, sizeof(*env));
}


static bool limit_header(const struct shoal_http_request *http, const char *name,
			 struct shoal_http_str *value)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < http->nheaders; i++) {
		const struct shoal_http_header *h = &http->headers[i];
		if (h->name.len == len && strncasecmp(h->name.p, name, len) == 0) {
			*value = h->value;
			return true;
		}
	}
	return false;
}

static void limit_append(char *buf, size_t *len, const char *p, size_t n)
{
	if (n > KEY_MAX - 1 - *len)
		n = KEY_MAX - 1 - *len;
	memcpy(buf + *len, p, n);
	*len += n;
}

/* The key's text into buf (parts joined by '+'); false when the request has none of the
 * headers a key made only of header parts names. */
static bool limit_key(const struct shoal_handler_req *req, const struct shoal_limit_zone_conf *z,
		      char *buf, size_t *len)
{
	bool any = false;
	char ip[64];

	*len = 0;
	for (size_t i = 0; i < z->nparts; i++) {
		const struct shoal_limit_key_part *p = &z->parts[i];
		struct shoal_http_str v = { "", 0 };
		if (i)
			limit_append(buf, len, "+", 1);
		if (p->kind == SHOAL_LIMIT_KEY_CLIENT_IP) {
			/* Its text is what shoalctl shows among the top keys. */
			size_t n = shoal_addr_format_ip(req->peer_family, req->peer_addr, ip,
							sizeof(ip));
			v = (struct shoal_http_str){ ip, n };
			any = true;
		} else if (p->kind == SHOAL_LIMIT_KEY_URI) {
			v = req->http->target;
			any = true;
		} else if (limit_header(req->http, p->name, &v)) {
			any = true;
		}
		limit_append(buf, len, v.p, v.len);
	}
	return any;
}

/* A line a second per zone at most: a dry run under a flood must not flood the log. */
static void limit_say(struct shoal_handler_req *req, struct shoal_limit_env *env, size_t zi,
		      const char *key, size_t len)
{
	uint64_t now = req->ctx->now_ms;

	if (!req->ctx->log || (env->said_ms[zi] && now < env->said_ms[zi] + 1000))
		return;
	env->said_ms[zi] = now;
	log_info(req->ctx->log, "limit zone %s would refuse %.*s (dry run)",
		 req->ctx->cfg->limit_zones[zi].name, (int)len, key);
}

/* Whether zone zi lets req through at now_us; a refusal raises *after_us to what it asks. */
static bool limit_zone(struct shoal_handler_req *req, size_t zi, uint64_t now_us,
		       struct shoal_limit_holds *holds, uint64_t *after_us)
{
	struct shoal_limit_env *env = req->ctx->limit;
	const struct shoal_limit_zone_conf *z = &req->ctx->cfg->limit_zones[zi];
	struct shoal_state_limit_hold h = { NULL };
	uint64_t hash, wait = 1000000;
	char key[KEY_MAX];
	size_t len;
	bool ok;

	if (!env->zones[zi] || !limit_key(req, z, key, &len))
		return true;
	hash = shoal_state_limit_hash(env->state, key, len);
	if (z->conn)
		ok = shoal_state_limit_acquire(env->zones[zi], hash, key, len, now_us, &h);
	else
		ok = shoal_state_limit_take(env->zones[zi], hash, key, len, now_us, &wait);
	/* More concurrency zones than a request can hold: the extra one is not held. */
	if (h.value && holds->n < SHOAL_LIMIT_HOLDS_MAX) {
		holds->cell[holds->n] = !env->journal ? NULL
			: shoal_limit_journal_put(env->journal,
						  shoal_state_limit_hold_offset(env->state, &h));
		holds->hold[holds->n++] = h;
	} else if (h.value) {
		shoal_state_limit_release(&h);
	}
	if (ok)
		return true;
	if (z->dry_run) {
		limit_say(req, env, zi, key, len);
		return true;
	}
	if (wait > *after_us)
		*after_us = wait;
	return false;
}

bool shoal_limit_apply(struct shoal_handler_req *req, const struct shoal_location_conf *loc,
		       struct shoal_limit_holds *holds)
{
	const struct shoal_limit_env *env = req->ctx->limit;
	const struct shoal_http_request *http = req->http;
	uint64_t after = 0, now_us;
	bool ok = true;

	if (!env || !loc->nlimit ||
	    (env->nallow && shoal_acl_allows(env->allow, env->nallow, req->peer_family,
					     req->peer_addr)))
		return true;
	now_us = shoal_clock_mono_us();
	/* Every zone is asked, so that Retry-After is the strictest one's. */
	for (size_t i = 0; i < loc->nlimit; i++)
		ok &= limit_zone(req, loc->limit_zone[i], now_us, holds, &after);
	if (ok)
		return true;
	shoal_limit_release(holds);
	shoal_stats_error(req->ctx->stats, SHOAL_STATS_ERROR_LIMIT);
	shoal_reply_error_after(req->ctx, req->site, req->out, 429, http->version, req->keep_alive,
				http->method == SHOAL_HTTP_HEAD,
				(unsigned)((after + 999999) / 1000000));
	return false;
}

size_t shoal_limit_journal_cells(const struct shoal_config *cfg)
{
	size_t zones = 0;

	for (size_t i = 0; i < cfg->nlimit_zones; i++)
		zones += cfg->limit_zones[i].conn > 0;
	if (zones > SHOAL_LIMIT_HOLDS_MAX)
		zones = SHOAL_LIMIT_HOLDS_MAX;
	return zones * (size_t)cfg->max_connections;
}

void shoal_limit_release(struct shoal_limit_holds *holds)
{
	for (unsigned i = 0; i < holds->n; i++) {
		shoal_limit_journal_clear(holds->cell[i]);
		shoal_state_limit_release(&holds->hold[i]);
	}
	holds->n = 0;
}
