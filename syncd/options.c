#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncd/options.h"

static void usage(FILE *f)
{
	static const char *const lines[] = {
	        "usage: twist-syncd --node-id N --peer-id N",
	        "                   --listen tcp://IP:PORT --peer tcp://IP:PORT",
	        "                   [--ipc-dir DIR] [--role-file PATH] [--metrics IP:PORT]",
	        "                   [--log-level error|warn|info|debug] [--syslog]",
	        "                   [--batch-us N] [--ack-us N] [--alive-ms N] [--dead-ms N]",
	        "                   [--batch-bytes N] [--load-ms N] [--help] [--version]",
	        "",
	        "  --node-id N        this node's id (1..2^64-1), unique in the pair",
	        "  --peer-id N        the other node's id; the lower id binds --listen,",
	        "                     the higher one connects to --peer",
	        "  --listen URL       where this node accepts the peer (IP may be *)",
	        "  --peer URL         where the peer accepts this node",
	        "  --ipc-dir DIR      sync-in.ipc and sync-out.ipc for the relay (/run/twist)",
	        "  --role-file PATH   'master' or 'backup'; missing = backup (<ipc-dir>/role)",
	        "  --metrics IP:PORT  Prometheus /metrics, /health and /ready (off by default)",
	        "  --batch-us N       a change waits at most N us for company (1000)",
	        "  --ack-us N         an ACK waits at most N us; 0 = end of each burst (0)",
	        "  --alive-ms N       ALIVE period (100)",
	        "  --dead-ms N        silence that takes the session down (1000)",
	        "  --batch-bytes N    target size of one batch (65536, at most 131072)",
	        "  --load-ms N        longest wait for the relay's flows at start (2000)",
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		fprintf(f, "%s\n", lines[i]);
}

static int parse_u64(const char *name, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*s < '0' || *s > '9')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	fprintf(stderr, "twist-syncd: %s: expected a number in %llu..%llu, got '%s'\n", name,
	        (unsigned long long)min, (unsigned long long)max, s);
	return -EINVAL;
}

/* tcp://IP:PORT or tcp://[IPv6]:PORT; a listener may use * for every address. */
static int parse_url(const char *name, const char *url, bool wildcard)
{
	const char *s;
	struct tw_addr a;

	if (strncmp(url, "tcp://", 6) != 0)
		goto bad;
	s = url + 6;
	if (wildcard && strncmp(s, "*:", 2) == 0) {
		uint64_t port;

		return parse_u64(name, s + 2, 1, 65535, &port);
	}
	if (tw_addr_parse(s, 0, &a) < 0 || a.port == 0)
		goto bad;
	return 0;
bad:
	fprintf(stderr, "twist-syncd: %s: expected tcp://IP:PORT, got '%s'\n", name, url);
	return -EINVAL;
}

enum {
	OPT_NODE = 256,
	OPT_PEER_ID,
	OPT_LISTEN,
	OPT_PEER,
	OPT_IPC,
	OPT_ROLE,
	OPT_METRICS,
	OPT_LEVEL,
	OPT_SYSLOG,
	OPT_BATCH_US,
	OPT_ACK_US,
	OPT_ALIVE,
	OPT_DEAD,
	OPT_BATCH_BYTES,
	OPT_LOAD,
};

static int parse_opt(struct options *o, int c, const char *arg)
{
	uint64_t v;

	switch (c) {
	case OPT_NODE:
		return parse_u64("--node-id", arg, 1, UINT64_MAX, &o->node_id);
	case OPT_PEER_ID:
		return parse_u64("--peer-id", arg, 1, UINT64_MAX, &o->peer_id);
	case OPT_LISTEN:
		o->listen = arg;
		return parse_url("--listen", arg, true);
	case OPT_PEER:
		o->peer = arg;
		return parse_url("--peer", arg, false);
	case OPT_IPC:
		o->ipc_dir = arg;
		return 0;
	case OPT_ROLE:
		o->role_file = arg;
		return 0;
	case OPT_METRICS:
		o->metrics_on = true;
		if (tw_addr_parse(arg, 0, &o->metrics) < 0 || o->metrics.port == 0) {
			fprintf(stderr, "twist-syncd: --metrics: expected IP:PORT, got '%s'\n",
			        arg);
			return -EINVAL;
		}
		return 0;
	case OPT_LEVEL:
		if (log_level_parse(arg, &o->level) < 0) {
			fprintf(stderr,
			        "twist-syncd: --log-level: expected error, warn, info or "
			        "debug, got '%s'\n",
			        arg);
			return -EINVAL;
		}
		return 0;
	case OPT_SYSLOG:
		o->syslog = true;
		return 0;
	case OPT_BATCH_US:
		return parse_u64("--batch-us", arg, 0, 1000000, &o->cfg.batch_us);
	case OPT_ACK_US:
		return parse_u64("--ack-us", arg, 0, 100000, &o->cfg.ack_us);
	case OPT_ALIVE:
		if (parse_u64("--alive-ms", arg, 10, 10000, &v) < 0)
			return -EINVAL;
		o->cfg.alive_us = v * 1000;
		return 0;
	case OPT_DEAD:
		if (parse_u64("--dead-ms", arg, 50, 600000, &v) < 0)
			return -EINVAL;
		o->cfg.dead_us = v * 1000;
		return 0;
	case OPT_BATCH_BYTES:
		if (parse_u64("--batch-bytes", arg, 1024, FLOW_BUDGET_SAFE_MSG, &v) < 0)
			return -EINVAL;
		o->cfg.batch_bytes = (size_t)v;
		return 0;
	case OPT_LOAD:
		if (parse_u64("--load-ms", arg, 0, 600000, &v) < 0)
			return -EINVAL;
		o->cfg.load_us = v * 1000;
		return 0;
	}
	return -EINVAL;
}

int options_parse(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
	        {"node-id", required_argument, NULL, OPT_NODE},
	        {"peer-id", required_argument, NULL, OPT_PEER_ID},
	        {"listen", required_argument, NULL, OPT_LISTEN},
	        {"peer", required_argument, NULL, OPT_PEER},
	        {"ipc-dir", required_argument, NULL, OPT_IPC},
	        {"role-file", required_argument, NULL, OPT_ROLE},
	        {"metrics", required_argument, NULL, OPT_METRICS},
	        {"log-level", required_argument, NULL, OPT_LEVEL},
	        {"syslog", no_argument, NULL, OPT_SYSLOG},
	        {"batch-us", required_argument, NULL, OPT_BATCH_US},
	        {"ack-us", required_argument, NULL, OPT_ACK_US},
	        {"alive-ms", required_argument, NULL, OPT_ALIVE},
	        {"dead-ms", required_argument, NULL, OPT_DEAD},
	        {"batch-bytes", required_argument, NULL, OPT_BATCH_BYTES},
	        {"load-ms", required_argument, NULL, OPT_LOAD},
	        {"help", no_argument, NULL, 'h'},
	        {"version", no_argument, NULL, 'V'},
	        {NULL, 0, NULL, 0},
	};
	int c;

	o->ipc_dir = "/run/twist";
	o->level = LOG_LVL_INFO;
	session_cfg_defaults(&o->cfg);
	while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c == 'V') {
			printf("twist-syncd %s\n", TWIST_VERSION);
			exit(0);
		}
		if (c == '?' || parse_opt(o, c, optarg) < 0)
			goto bad;
	}
	if (optind != argc) {
		fprintf(stderr, "twist-syncd: unexpected argument '%s'\n", argv[optind]);
		goto bad;
	}
	if (!o->node_id || !o->peer_id || !o->listen || !o->peer) {
		fprintf(stderr,
		        "twist-syncd: --node-id, --peer-id, --listen and --peer are required\n");
		goto bad;
	}
	if (o->node_id == o->peer_id) {
		fprintf(stderr, "twist-syncd: --node-id and --peer-id must differ\n");
		goto bad;
	}
	if (o->cfg.dead_us <= 2 * o->cfg.alive_us) {
		fprintf(stderr, "twist-syncd: --dead-ms must be more than twice --alive-ms\n");
		goto bad;
	}
	if (o->ipc_dir[0] != '/' || strlen(o->ipc_dir) > 80) {
		fprintf(stderr, "twist-syncd: --ipc-dir: expected an absolute path of at most 80 "
		                "bytes (a unix socket path is short)\n");
		goto bad;
	}
	if (!o->role_file) {
		snprintf(o->role_path, sizeof(o->role_path), "%s/role", o->ipc_dir);
		o->role_file = o->role_path;
	}
	return 0;
bad:
	usage(stderr);
	return -EINVAL;
}
