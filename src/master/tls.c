#include <stdlib.h>

#include "shoal/master/upgrade.h"
#include "tls.h"

static void tls_schedule(struct master *m)
{
	m->tls_rotate_ms = m->now_ms + (uint64_t)m->current->cfg.tls_ticket_rotate * 1000;
}

static void tls_tell_warnings(struct master *m, const struct shoal_generation *g)
{
	for (size_t i = 0; i < g->ntls_warnings; i++)
		log_warn(&m->log, "%s", g->tls_warnings[i].msg);
}

/* The ring an upgraded-from master handed over, else NULL. */
static struct shoal_tls_keys *tls_adopt(struct master *m)
{
	const char *fd = getenv(SHOAL_UPGRADE_TLS_KEYS_ENV);
	struct shoal_tls_keys *k = NULL;
	struct shoal_err err;

	if (!fd)
		return NULL;
	if (shoal_tls_keys_adopt(atoi(fd), &k, &err) < 0) {
		log_warn(&m->log, "binary upgrade: session ticket keys not adopted, sessions "
			 "begin anew: %s", err.msg);
		k = NULL;
	}
	unsetenv(SHOAL_UPGRADE_TLS_KEYS_ENV);
	return k;
}

int shoal_master_tls_start(struct master *m, struct shoal_generation *g, struct shoal_err *err)
{
	m->tls_keys = tls_adopt(m);
	if (!m->tls_keys && shoal_tls_keys_create(&m->tls_keys, err) < 0)
		return -1;
	tls_schedule(m);
	return shoal_master_tls_generation(m, g, err);
}

int shoal_master_tls_generation(struct master *m, struct shoal_generation *g,
				struct shoal_err *err)
{
	if (shoal_generation_tls_build(g, m->tls_keys, err) < 0)
		return -1;
	tls_tell_warnings(m, g);
	return 0;
}

void shoal_master_tls_timers(struct master *m)
{
	struct shoal_err err;

	if (!m->tls_keys || m->now_ms < m->tls_rotate_ms || m->upgrade_pid || m->handing_over)
		return;
	if (shoal_tls_keys_rotate(m->tls_keys, &err) < 0)
		log_error(&m->log, "session ticket keys not rotated: %s", err.msg);
	tls_schedule(m);
}

uint64_t shoal_master_tls_next(const struct master *m, uint64_t next)
{
	if (m->tls_keys && !m->upgrade_pid && !m->handing_over && m->tls_rotate_ms < next)
		return m->tls_rotate_ms;
	return next;
}

void shoal_master_tls_close(struct master *m)
{
	if (m->tls_keys)
		shoal_tls_keys_close(m->tls_keys);
	m->tls_keys = NULL;
}
