#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "master_int.h"
#include "ready.h"
#include "takeover.h"
#include "workers.h"

static bool ready_all_slots(const struct master *m)
{
	for (unsigned slot = 0; slot < m->nslots; slot++) {
		bool ready = false;
		for (size_t i = 0; i < m->nworkers && !ready; i++) {
			const struct master_worker *w = m->workers[i];
			ready = w->slot == slot && w->gen == m->current && w->ready && !w->retiring;
		}
		if (!ready)
			return false;
	}
	return true;
}

/* A new worker serving its slot relieves the previous generation's worker of that slot;
 * once every slot serves, workers of slots that no longer exist are relieved too. Until
 * then the old workers keep serving, so a new generation that fails to start loses nothing. */
static void ready_worker(struct master *m, struct master_worker *ready)
{
	bool all = ready_all_slots(m);

	for (size_t i = 0; i < m->nworkers; i++) {
		struct master_worker *w = m->workers[i];
		if (w->gen != m->current && (w->slot == ready->slot || all))
			shoal_master_workers_retire(m, w);
	}
	if (all && m->startup_fd >= 0) {
		if (write(m->startup_fd, "R", 1) != 1)
			log_warn(&m->log, "cannot report start-up: %s", strerror(errno));
		close(m->startup_fd);
		m->startup_fd = -1;
	}
	if (all && !m->serving) {
		m->serving = true;
		shoal_master_takeover_serving(m);
	}
}

void shoal_master_ready_on_pipe(struct shoal_event_source *src, uint32_t events)
{
	struct master_worker *w = container_of(src, struct master_worker, ready_ev);
	struct master *m = w->master;
	char byte;

	(void)events;
	if (src->fd < 0) /* reaped earlier in this batch */
		return;
	if (read(src->fd, &byte, 1) == 1 && byte == 'R' && !w->retiring) {
		w->ready = true;
		log_info(&m->log, "worker %u (pid %d) is serving", w->slot, (int)w->pid);
		ready_worker(m, w);
	}
	shoal_master_workers_close_ready(m, w);
}
