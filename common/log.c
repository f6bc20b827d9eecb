#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "common/log.h"

static int cur_level = LOG_LVL_INFO;
static bool to_syslog;

void log_init(const char *ident, enum log_level level, bool use_syslog)
{
	log_set_level(level);
	to_syslog = use_syslog;
	if (to_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(enum log_level level)
{
	__atomic_store_n(&cur_level, (int)level, __ATOMIC_RELAXED);
}

bool log_enabled(enum log_level level)
{
	return (int)level <= __atomic_load_n(&cur_level, __ATOMIC_RELAXED);
}

const char *log_level_name(enum log_level level)
{
	switch (level) {
	case LOG_LVL_OFF:
		return "off";
	case LOG_LVL_ERR:
		return "error";
	case LOG_LVL_WARN:
		return "warn";
	case LOG_LVL_INFO:
		return "info";
	case LOG_LVL_DEBUG:
		return "debug";
	}
	return "?";
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (int l = LOG_LVL_ERR; l <= LOG_LVL_DEBUG; l++) {
		if (strcmp(s, log_level_name((enum log_level)l)) == 0) {
			*out = (enum log_level)l;
			return 0;
		}
	}
	return -EINVAL;
}

static int syslog_prio(enum log_level level)
{
	switch (level) {
	case LOG_LVL_OFF:
	case LOG_LVL_ERR:
		return LOG_ERR;
	case LOG_LVL_WARN:
		return LOG_WARNING;
	case LOG_LVL_INFO:
		return LOG_INFO;
	case LOG_LVL_DEBUG:
		return LOG_DEBUG;
	}
	return LOG_INFO;
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;

	vsnprintf(line, sizeof(line), fmt, ap);
	if (to_syslog) {
		syslog(syslog_prio(level), "%s", line);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	/* One fprintf per line: stdio locks the stream, so lines never interleave. */
	fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s\n", tm.tm_year + 1900,
	        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
	        log_level_name(level), line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

bool log_ratelimit(uint64_t *last_ms, uint64_t now_ms, uint64_t interval_ms)
{
	/* 0 means "never logged", so a first reading of 0 is stored as 1 (and 0 is then "before").
	 */
	if (*last_ms != 0 && (now_ms < *last_ms || now_ms - *last_ms < interval_ms))
		return false;
	*last_ms = now_ms ? now_ms : 1;
	return true;
}

static size_t esc_width(unsigned char c)
{
	return (c < 0x20 || c >= 0x7f || c == '\\') ? 4 : 1;
}

const char *log_esc(const void *s, size_t len, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = s;
	size_t need = 0, room, o = 0;

	if (outsz == 0)
		return "";
	for (size_t i = 0; i < len; i++)
		need += esc_width(p[i]);
	/* Cut: keep room for "..." (as much of it as fits) and the NUL. */
	room = need < outsz ? need : (outsz > 4 ? outsz - 4 : 0);
	for (size_t i = 0; i < len && o + esc_width(p[i]) <= room; i++) {
		if (esc_width(p[i]) == 1) {
			out[o++] = (char)p[i];
			continue;
		}
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[p[i] >> 4];
		out[o++] = hex[p[i] & 0xf];
	}
	for (int dots = 0; need >= outsz && dots < 3 && o + 1 < outsz; dots++)
		out[o++] = '.';
	out[o] = '\0';
	return out;
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}
