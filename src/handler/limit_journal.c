#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "shoal/handler/limit_journal.h"
#include "shoal/state/limit.h"

int shoal_limit_journal_map(struct shoal_limit_journal *j, size_t n, struct shoal_err *err)
{
	void *p;

	*j = (struct shoal_limit_journal){ .cell = NULL };
	if (!n)
		return 0;
	/* Anonymous and shared: pages cost memory only once a worker holds that many at once. */
	p = mmap(NULL, n * sizeof(*j->cell), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return shoal_err_set(err, "cannot map a journal of %zu limit holds: %s", n,
				     strerror(errno));
	j->cell = p;
	j->n = n;
	return 0;
}

void shoal_limit_journal_unmap(struct shoal_limit_journal *j)
{
	if (j->cell)
		munmap((void *)j->cell, j->n * sizeof(*j->cell));
	*j = (struct shoal_limit_journal){ .cell = NULL };
}

_Atomic uint64_t *shoal_limit_journal_put(struct shoal_limit_journal *j, uint64_t offset)
{
	/* Cells are freed in any order; from where the last one was found, a free one is
	 * usually next, since the journal has room for every hold the worker can have. */
	for (size_t k = 0; k < j->n; k++) {
		size_t i = (j->next + k) % j->n;
		if (!atomic_load_explicit(&j->cell[i], memory_order_relaxed)) {
			atomic_store_explicit(&j->cell[i], offset + 1, memory_order_relaxed);
			j->next = i + 1;
			return &j->cell[i];
		}
	}
	return NULL;
}

size_t shoal_limit_journal_reclaim(struct shoal_limit_journal *j, const struct shoal_state *st)
{
	size_t given = 0;

	for (size_t i = 0; i < j->n; i++) {
		uint64_t v = atomic_load_explicit(&j->cell[i], memory_order_relaxed);
		if (!v)
			continue;
		if (st && st->hdr && shoal_state_limit_release_at(st, v - 1))
			given++;
		atomic_store_explicit(&j->cell[i], 0, memory_order_relaxed);
	}
	return given;
}
