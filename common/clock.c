#include <time.h>

#include "common/clock.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

uint64_t clock_mono_ms(void)
{
	return mono_ns() / 1000000;
}

uint64_t clock_mono_us(void)
{
	return mono_ns() / 1000;
}

uint64_t clock_wall_s(void)
{
	return (uint64_t)time(NULL);
}

uint64_t clock_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
