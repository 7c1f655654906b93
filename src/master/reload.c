#include <string.h>

#include "checker.h"
#include "reload.h"
#include "shoal/master/limit.h"
#include "shoal/master/notify.h"
#include "slots.h"
#include "spawn.h"
#include "state.h"
#include "tls.h"

struct shoal_generation *shoal_master_reload_load(const struct master *m, struct shoal_err *err)
{
	struct shoal_generation *g = shoal_generation_load(m->config_path, err);

	if (g && shoal_generation_check_root(g, err) < 0) {
		shoal_generation_free(g);
		g = NULL;
	}
	return g;
}

void shoal_master_reload(struct master *m)
{
	struct shoal_generation *prev = m->current;
	unsigned prev_nslots = m->nslots;
	struct shoal_err err;
	struct shoal_generation *g;

	shoal_notify("RELOADING=1");
	g = shoal_master_reload_load(m, &err);
	if (g && shoal_master_tls_generation(m, g, &err) < 0) {
		shoal_generation_free(g);
		g = NULL;
	}
	if (!g) {
		log_error(&m->log, "reload failed, still serving the previous configuration: %s", err.msg);
		shoal_notify("READY=1\nSTATUS=serving (last reload failed)");
		return;
	}
	m->current = g;
	if (shoal_master_slots_resize(m, (unsigned)g->cfg.workers) < 0 ||
	    shoal_master_slots_sockets(m, &err) < 0 ||
	    shoal_log_open(&m->log, g->cfg.error_log, g->cfg.log_level, &err) < 0 ||
	    shoal_master_limit_add(&m->state, &g->cfg, &m->log, NULL, &err) < 0) {
		log_error(&m->log, "reload failed, still serving the previous configuration: %s", err.msg);
		m->current = prev;
		shoal_master_slots_resize(m, prev_nslots);
		shoal_master_slots_gc(m);
		shoal_generation_free(g);
		shoal_notify("READY=1\nSTATUS=serving (last reload failed)");
		return;
	}
	m->serving = false; /* READY=1 again once the new generation serves */
	g->id = ++m->next_gen_id;
	shoal_stats_set_generation(&m->stats, g->id);
	if (strcmp(prev->cfg.stats_file, g->cfg.stats_file) != 0)
		log_warn(&m->log, "stats_file changes only on restart; still writing %s",
			 prev->cfg.stats_file);
	if (strcmp(prev->cfg.state_file, g->cfg.state_file) != 0)
		log_warn(&m->log, "state_file changes only on restart; still sharing %s",
			 prev->cfg.state_file);
	if (prev->refs == 0)
		shoal_generation_free(prev);
	memset(m->slots, 0, m->nslots * sizeof(*m->slots));
	shoal_master_slots_steer(m);
	shoal_master_spawn_raise_nofile(m);
	log_info(&m->log, "reloaded %s: generation %u with %u workers", g->cfg.path, g->id, m->nslots);
	shoal_master_state_add(m, g);
	shoal_master_spawn_all(m);
	shoal_master_checker_start(m);
	shoal_master_slots_gc(m);
}
