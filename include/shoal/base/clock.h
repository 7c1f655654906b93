/* The clocks: monotonic time for deadlines, heartbeats and latencies, wall time for what
 * people read. A worker reads the monotonic clock once per loop turn and passes the value
 * on (the upstream times of a proxied exchange, which span turns, come from it too); only a
 * request's own latency, from its last read to its end, reads it per request. */
#ifndef SHOAL_BASE_CLOCK_H
#define SHOAL_BASE_CLOCK_H

#include <stdint.h>

uint64_t shoal_clock_mono_ms(void);
uint64_t shoal_clock_mono_us(void);
/* Milliseconds since the Unix epoch. */
uint64_t shoal_clock_unix_ms(void);

#endif
