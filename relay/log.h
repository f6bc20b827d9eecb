/* Levelled, printf-checked logging to stderr or syslog. Thread-safe. */
#ifndef TWIST_RELAY_LOG_H
#define TWIST_RELAY_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "relay/config.h"

void log_init(enum log_level level, bool use_syslog);
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)  log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                       \
	do {                                                 \
		if (log_enabled(LOG_LVL_DEBUG))              \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__); \
	} while (0)

/*
 * Per-packet problems are counted always and logged at most once per
 * interval per call site; *last is that site's own timestamp.
 */
bool log_ratelimit(uint64_t *last_ms, uint64_t now_ms, uint64_t interval_ms);

/* Start-up failures and broken invariants only; never for peer input. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
