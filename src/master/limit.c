#include <stdatomic.h>

#include "shoal/handler/limit.h"
#include "shoal/master/limit.h"

/* The live zone of c's name, and whether it can be kept; why not into *why (NULL: none). */
static struct shoal_state_limit_zone *limit_current(const struct shoal_state *st,
						    const struct shoal_state_limit_spec *spec,
						    const char **why)
{
	struct shoal_state_limit_zone *z = shoal_state_limit_live(st, spec->name);

	*why = z ? shoal_state_limit_differs(z, spec) : NULL;
	return z;
}

/* Room for every zone of cfg that needs a fresh table, allocated; nothing changed yet. */
static int limit_reserve(struct shoal_state *st, const struct shoal_config *cfg,
			 struct shoal_err *err)
{
	unsigned fresh = 0;
	uint64_t bytes = 0;
	const char *why;

	if (cfg->nlimit_zones > SHOAL_STATE_LIMIT_ZONES)
		return shoal_err_set(err, "%zu limit zones; at most %u", cfg->nlimit_zones,
				     SHOAL_STATE_LIMIT_ZONES);
	for (size_t i = 0; i < cfg->nlimit_zones; i++) {
		struct shoal_state_limit_spec spec = shoal_limit_spec(&cfg->limit_zones[i]);
		if (limit_current(st, &spec, &why) && !why)
			continue;
		fresh++;
		bytes += shoal_state_limit_table_bytes(&spec);
	}
	return shoal_state_limit_reserve(st, fresh, bytes, err);
}

static void limit_log_params(const struct shoal_log *log, const struct shoal_state_limit_zone *z,
			     const struct shoal_state_limit_spec *spec)
{
	double was = (double)atomic_load(&z->rate_milli) / 1000;
	uint32_t burst = atomic_load(&z->burst), conn = atomic_load(&z->conn);

	if (z->kind == SHOAL_STATE_LIMIT_CONN && conn != spec->conn)
		log_info(log, "limit zone %s: conn %u -> %u, its keys' state kept", spec->name,
			 conn, spec->conn);
	else if (z->kind == SHOAL_STATE_LIMIT_RATE &&
		 (atomic_load(&z->rate_milli) != (uint64_t)(spec->rate * 1000 + 0.5) ||
		  burst != spec->burst))
		log_info(log, "limit zone %s: rate %g/s burst %u -> %g/s burst %u, its keys' state "
			 "kept", spec->name, was, burst, spec->rate, spec->burst);
}

/* Within what limit_reserve made sure of, under the lock: adding cannot fail. */
static struct shoal_state_limit_zone *limit_apply(struct shoal_state *st,
						  const struct shoal_limit_zone_conf *c,
						  const struct shoal_log *log)
{
	struct shoal_state_limit_spec spec = shoal_limit_spec(c);
	const char *why;
	struct shoal_state_limit_zone *z = limit_current(st, &spec, &why);

	if (z && !why) {
		limit_log_params(log, z, &spec);
		shoal_state_limit_set(z, &spec);
		return z;
	}
	if (z) {
		log_info(log, "limit zone %s: %s changed, starting afresh", spec.name, why);
		shoal_state_limit_retire(z);
	} else {
		log_info(log, "limit zone %s: new, %u keys", spec.name, spec.size);
	}
	return shoal_state_limit_add(st, &spec);
}

/* Live zones cfg does not name are retired: a zone of the name, added later, starts afresh. */
static void limit_retire_gone(struct shoal_state *st, const struct shoal_config *cfg,
			      const struct shoal_log *log)
{
	unsigned n = shoal_state_limit_count(st);

	for (unsigned i = 0; i < n; i++) {
		struct shoal_state_limit_zone *z = shoal_state_limit_at(st, i);
		bool named = false;
		if (atomic_load(&z->retired))
			continue;
		for (size_t j = 0; j < cfg->nlimit_zones && !named; j++)
			named = shoal_state_limit_live(st, cfg->limit_zones[j].name) == z;
		if (named)
			continue;
		shoal_state_limit_retire(z);
		log_info(log, "limit zone %.*s: no longer configured", SHOAL_STATE_LIMIT_NAME,
			 z->name);
	}
}

int shoal_master_limit_add(struct shoal_state *st, const struct shoal_config *cfg,
			   const struct shoal_log *log, struct shoal_state_limit_zone **zones,
			   struct shoal_err *err)
{
	shoal_state_lock(st);
	if (limit_reserve(st, cfg, err) < 0) {
		shoal_state_unlock(st);
		return -1;
	}
	for (size_t i = 0; i < cfg->nlimit_zones; i++) {
		struct shoal_state_limit_zone *z = limit_apply(st, &cfg->limit_zones[i], log);
		if (zones)
			zones[i] = z;
	}
	limit_retire_gone(st, cfg, log);
	shoal_state_unlock(st);
	return 0;
}
