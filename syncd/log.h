/*
 * Levelled, printf-checked logging to stderr or syslog. twist-syncd is one
 * thread (one libevent loop), so nothing here locks.
 */
#ifndef TWIST_SYNCD_LOG_H
#define TWIST_SYNCD_LOG_H

#include <stdbool.h>
#include <stdint.h>

/* LOG_LVL_OFF logs nothing (tests and fuzzing); it is no --log-level value. */
enum log_level { LOG_LVL_OFF = -1, LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_init(enum log_level level, bool use_syslog);
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);
const char *log_level_name(enum log_level level);
/* "error", "warn", "info" or "debug"; -EINVAL otherwise. */
int log_level_parse(const char *s, enum log_level *out);

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
 * Per-message problems are counted always and logged at most once per
 * interval per call site; *last is that site's own timestamp.
 */
bool log_ratelimit(uint64_t *last_us, uint64_t now_us, uint64_t interval_us);

/* Start-up failures and broken invariants only; never for peer input. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
