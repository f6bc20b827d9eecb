#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "ha/log.h"

static enum ha_log_level cur_level = HA_LOG_INFO;

void ha_log_set_level(enum ha_log_level level)
{
	cur_level = level;
}

int ha_log_level_parse(const char *s, enum ha_log_level *out)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum ha_log_level)i;
			return 0;
		}
	return -1;
}

bool ha_log_enabled(enum ha_log_level level)
{
	return level <= cur_level;
}

static const char *level_name(enum ha_log_level level)
{
	switch (level) {
	case HA_LOG_ERR:
		return "error";
	case HA_LOG_WARN:
		return "warn ";
	case HA_LOG_INFO:
		return "info ";
	case HA_LOG_DEBUG:
		return "debug";
	}
	return "?";
}

static void vlog(enum ha_log_level level, const char *fmt, va_list ap)
{
	char ts[32], msg[1024];
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "%s.%03ldZ %s %s\n", ts, (long)(tv.tv_usec / 1000), level_name(level), msg);
}

void ha_log(enum ha_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!ha_log_enabled(level))
		return;
	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

bool ha_log_ratelimit(uint64_t *last_ms, uint64_t now_ms, uint64_t interval_ms)
{
	if (*last_ms && now_ms - *last_ms < interval_ms)
		return false;
	*last_ms = now_ms;
	return true;
}

void ha_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(HA_LOG_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}
