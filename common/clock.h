/* The clocks the daemons read: monotonic for timers and intervals, wall for expiry stamps. */
#ifndef TWIST_COMMON_CLOCK_H
#define TWIST_COMMON_CLOCK_H

#include <stdint.h>

uint64_t clock_mono_ms(void); /* CLOCK_MONOTONIC */
uint64_t clock_mono_us(void); /* CLOCK_MONOTONIC */
/* CLOCK_REALTIME seconds: what crosses machines (REST credential expiry, nonces). */
uint64_t clock_wall_s(void);
uint64_t clock_wall_ms(void); /* CLOCK_REALTIME milliseconds (cluster reports) */

#endif
