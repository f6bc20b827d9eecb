/* twist-syncd's command line: parsed and checked, or a clear error and exit code 2. */
#ifndef TWIST_SYNCD_OPTIONS_H
#define TWIST_SYNCD_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/log.h"
#include "proto/addr.h"
#include "syncd/session.h"

struct options {
	uint64_t node_id, peer_id;
	const char *listen, *peer, *ipc_dir, *role_file;
	bool metrics_on;
	struct tw_addr metrics;
	enum log_level level;
	bool syslog;
	struct session_cfg cfg;
	char role_path[128];
};

/* Exits 0 for --help and --version; -EINVAL (usage printed) on bad input. */
int options_parse(int argc, char **argv, struct options *o);

#endif
