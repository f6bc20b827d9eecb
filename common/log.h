/*
 * Levelled, printf-checked logging to stderr or syslog, shared by the three
 * daemons. The level is read and written atomically, so worker threads may
 * log while the main thread changes it; a line is written with one call, so
 * lines from different threads never interleave.
 */
#ifndef TWIST_COMMON_LOG_H
#define TWIST_COMMON_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* LOG_LVL_OFF logs nothing (tests and fuzzing); no daemon accepts it as a setting. */
enum log_level { LOG_LVL_OFF = -1, LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* ident names the daemon in syslog ("twist-relay"); stderr lines carry a UTC time instead. */
void log_init(const char *ident, enum log_level level, bool use_syslog);
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);
/* "off", "error", "warn", "info", "debug"; "?" for anything else. */
const char *log_level_name(enum log_level level);
/* "error", "warn", "info" or "debug" (not "off"); -EINVAL otherwise. */
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
 * Per-packet problems are counted always and logged at most once per
 * interval per call site; *last_ms is that site's own timestamp, 0 before
 * the first call. Milliseconds everywhere, on any clock that does not go back.
 */
bool log_ratelimit(uint64_t *last_ms, uint64_t now_ms, uint64_t interval_ms);

/*
 * Bytes from the network (user names, realms, SOFTWARE...) made safe for a
 * log line: printable ASCII is copied, and control bytes, bytes >= 0x7f and
 * the backslash become \xNN. When out is too small the copy stops on a whole
 * character and ends in "...". out is always NUL-terminated (given
 * outsz >= 1); returns out, or "" when outsz is 0.
 */
const char *log_esc(const void *s, size_t len, char *out, size_t outsz);

/* The out size that holds n bytes escaped in full. */
#define LOG_ESC_SIZE(n) ((n)*4 + 1)

/* Start-up failures and broken invariants only; never for peer input. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
