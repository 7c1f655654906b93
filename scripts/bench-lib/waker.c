#define _POSIX_C_SOURCE 200809L

/* A process that wakes up 100 times a second and does nothing else: the baseline for what a
 * 100 Hz stats reader costs the core it shares, the reading apart. */
#include <time.h>

int main(void)
{
	const struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };

	for (;;)
		nanosleep(&tick, NULL);
}
