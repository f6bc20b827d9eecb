/*
 * libFuzzer target for the config loader: any bytes go through
 * config_load_string, config_validate and config_clear. Beyond the
 * sanitizers, it checks the loader's promises: a refusal says where
 * ("name:line:column: "), leaves nothing allocated, and an accepted
 * document stays within every cap.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool str_ok(const char *s)
{
	return memchr(s, '\0', CFG_STR) != NULL;
}

static void refusal_check(const struct config *cfg, const char *err)
{
	unsigned line, col;
	int n = -1;

	if (sscanf(err, "fuzz:%u:%u: %n", &line, &col, &n) != 2 || n < 0 || line == 0 || col == 0 ||
	    err[n] == '\0' || cfg->users != NULL || cfg->n_users != 0)
		abort();
}

static void accepted_check(const struct config *cfg)
{
	if (cfg->n_listen > CFG_MAX_LISTEN || cfg->n_relay > CFG_MAX_RELAY ||
	    cfg->n_users > CFG_MAX_USERS || cfg->n_allow > CFG_MAX_CIDRS ||
	    cfg->n_deny > CFG_MAX_CIDRS || (cfg->n_users > 0 && cfg->users == NULL))
		abort();
	if (!str_ok(cfg->realm) || !str_ok(cfg->rest_secret) || !str_ok(cfg->nonce_secret) ||
	    !str_ok(cfg->software))
		abort();
	for (unsigned i = 0; i < cfg->n_users; i++)
		if (!str_ok(cfg->users[i].name) || !str_ok(cfg->users[i].password))
			abort();
	for (unsigned i = 0; i < cfg->n_listen; i++)
		if (cfg->listen[i].addr.family == 0 || cfg->listen[i].addr.port == 0)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg; /* large: keep it off the fuzzer's stack */
	char err[512];

	if (config_load_string((const char *)data, size, "fuzz", &cfg, err, sizeof(err)) < 0) {
		refusal_check(&cfg, err);
	} else {
		accepted_check(&cfg);
		if (config_validate(&cfg, err, sizeof(err)) < 0 && strncmp(err, "fuzz: ", 6) != 0)
			abort();
	}
	config_clear(&cfg);
	config_clear(&cfg);
	return 0;
}
