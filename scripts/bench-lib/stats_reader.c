/* A stats reader and nothing else: a consistent snapshot of the whole file 100 times a
 * second through the library shoalctl uses, no formatting, no output. What reading costs.
 * usage: stats_reader FILE */
#include <stdio.h>
#include <time.h>

#include "shoal/stats/stats.h"

int main(int argc, char **argv)
{
	const struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };
	struct shoal_stats_view view;
	struct shoal_stats_snapshot snap;
	struct shoal_err err;
	volatile uint64_t seen = 0; /* so that the copy is not optimised away */

	if (argc != 2 || shoal_stats_open_read(&view, argv[1], &err) < 0 ||
	    shoal_stats_snapshot_init(&snap, &view, &err) < 0) {
		fprintf(stderr, "stats_reader: %s\n", argc != 2 ? "usage: stats_reader FILE" : err.msg);
		return 2;
	}
	for (;;) {
		nanosleep(&tick, NULL);
		if (shoal_stats_snapshot(&view, &snap, &err) < 0) {
			fprintf(stderr, "stats_reader: %s\n", err.msg);
			return 1;
		}
		seen = seen + snap.totals[SHOAL_STATS_REQUESTS];
	}
}
