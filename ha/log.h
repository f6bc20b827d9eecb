/* twist-ha logging: levelled, printf-checked, to stderr (journald adds the rest). */
#ifndef TWIST_HA_LOG_H
#define TWIST_HA_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum ha_log_level { HA_LOG_ERR, HA_LOG_WARN, HA_LOG_INFO, HA_LOG_DEBUG };

void ha_log_set_level(enum ha_log_level level);
int ha_log_level_parse(const char *s, enum ha_log_level *out);
bool ha_log_enabled(enum ha_log_level level);
void ha_log(enum ha_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)  ha_log(HA_LOG_ERR, __VA_ARGS__)
#define log_warn(...) ha_log(HA_LOG_WARN, __VA_ARGS__)
#define log_info(...) ha_log(HA_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                     \
	do {                                               \
		if (ha_log_enabled(HA_LOG_DEBUG))          \
			ha_log(HA_LOG_DEBUG, __VA_ARGS__); \
	} while (0)

/* Per-input problems are counted always, logged at most once per interval. */
bool ha_log_ratelimit(uint64_t *last_ms, uint64_t now_ms, uint64_t interval_ms);

/* Start-up failures only. */
void ha_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
