/* twist-ice's command line: options, usage, and the checks between them. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/tice.h"
#include "common/log.h"

static const struct option opts[] = {
        {"role", required_argument, NULL, 'r'},      {"ha", required_argument, NULL, 'a'},
        {"spi", required_argument, NULL, 's'},       {"key", required_argument, NULL, 'k'},
        {"home", required_argument, NULL, 'H'},      {"peer", required_argument, NULL, 'p'},
        {"stun", required_argument, NULL, 'S'},      {"turn", required_argument, NULL, 'T'},
        {"turn-tcp", no_argument, NULL, 'C'},        {"user", required_argument, NULL, 'u'},
        {"password", required_argument, NULL, 'w'},  {"send", required_argument, NULL, 'n'},
        {"interval", required_argument, NULL, 'i'},  {"duration", required_argument, NULL, 'd'},
        {"lifetime", required_argument, NULL, 'l'},  {"option-type", required_argument, NULL, 'o'},
        {"log-level", required_argument, NULL, 'L'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},         {NULL, 0, NULL, 0},
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: twist-ice --role mn|cn --ha HOST[:PORT] --spi N --key K --home ADDR\n"
	        "         [--peer HOME_ADDR] [--stun HOST:PORT] [--turn HOST:PORT --user U\n"
	        "         --password P [--turn-tcp]] [--send N] [--interval MS] [--duration S]\n"
	        "options:\n"
	        "  --role mn|cn           mobile node (offers, controlling) or correspondent\n"
	        "  --ha HOST[:PORT]       the home agent (twist-relay, mice.port, 4191)\n"
	        "  --spi N, --key K       our entry of the home agent's mice.keys\n"
	        "  --home ADDR            our home address (that entry's home)\n"
	        "  --peer HOME_ADDR       mn: the correspondent's home address\n"
	        "  --stun HOST:PORT       server-reflexive candidates from this STUN server\n"
	        "  --turn HOST:PORT       relayed candidates from this TURN server\n"
	        "  --user U, --password P its long-term credentials\n"
	        "  --turn-tcp             reach the TURN server over TCP\n"
	        "  --send N               mn: echo datagrams to send, 0: until stopped (0)\n"
	        "  --interval MS          mn: between two datagrams (100)\n"
	        "  --duration S           exit after S seconds, 0: never (0)\n"
	        "  --lifetime S           binding lifetime asked of the home agent (600)\n"
	        "  --option-type N        the mobility option type, as mice.option_type (18)\n"
	        "  --log-level L          error, warn, info or debug (info)\n"
	        "  --help, --version\n");
}

static unsigned long num_arg(const char *name, const char *v, unsigned long max)
{
	char *end;
	unsigned long n = strtoul(v, &end, 0);

	if (!*v || *end || n > max) {
		fprintf(stderr, "twist-ice: --%s: not a number up to %lu: '%s'\n", name, max, v);
		exit(2);
	}
	return n;
}

static void addr_arg(const char *name, const char *v, uint16_t port, struct tw_addr *out)
{
	if ((port ? tw_addr_parse(v, port, out) : tw_addr_parse_ip(v, out)) < 0) {
		fprintf(stderr, "twist-ice: --%s: not a numeric address: '%s'\n", name, v);
		exit(2);
	}
}

void tice_args(struct tice *t, int argc, char **argv)
{
	const char *role = NULL, *key = NULL;
	enum log_level lvl;
	int ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			role = optarg;
			break;
		case 'a':
			addr_arg("ha", optarg, MICE_PORT, &t->ha);
			break;
		case 's':
			t->sig.spi = (uint32_t)num_arg("spi", optarg, UINT32_MAX);
			break;
		case 'k':
			key = optarg;
			break;
		case 'H':
			addr_arg("home", optarg, 0, &t->sig.home);
			break;
		case 'p':
			addr_arg("peer", optarg, 0, &t->sig.peer);
			break;
		case 'S':
			addr_arg("stun", optarg, 3478, &t->cfg.stun_server);
			break;
		case 'T':
			addr_arg("turn", optarg, 3478, &t->cfg.turn_server);
			break;
		case 'C':
			t->cfg.turn_transport = ICE_TURN_TCP;
			break;
		case 'u':
			t->cfg.turn_user = optarg;
			break;
		case 'w':
			t->cfg.turn_pass = optarg;
			break;
		case 'n':
			t->send_max = (unsigned)num_arg("send", optarg, 100000000);
			break;
		case 'i':
			t->interval_ms = (unsigned)num_arg("interval", optarg, 60000);
			break;
		case 'd':
			t->duration_ms = num_arg("duration", optarg, 86400) * 1000;
			break;
		case 'l':
			t->sig.lifetime = (uint16_t)(num_arg("lifetime", optarg, 262140) / 4);
			break;
		case 'o':
			t->sig.opt_type = (uint8_t)num_arg("option-type", optarg, 255);
			break;
		case 'L':
			if (log_level_parse(optarg, &lvl) < 0) {
				fprintf(stderr, "twist-ice: --log-level: '%s'\n", optarg);
				exit(2);
			}
			log_set_level(lvl);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("twist-ice %s\n", TWIST_VERSION);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc || !role || (strcmp(role, "mn") && strcmp(role, "cn")) || !t->ha.family ||
	    !key || !t->sig.home.family) {
		fprintf(stderr,
		        "twist-ice: --role mn|cn, --ha, --spi, --key and --home are needed\n");
		usage(stderr);
		exit(2);
	}
	t->mn = !strcmp(role, "mn");
	if (t->mn && !t->sig.peer.family) {
		fprintf(stderr, "twist-ice: --role mn needs --peer\n");
		exit(2);
	}
	if (strlen(key) > TICE_KEY_MAX ||
	    (t->cfg.turn_server.family && (!t->cfg.turn_user || !t->cfg.turn_pass))) {
		fprintf(stderr,
		        "twist-ice: --key up to %d bytes; --turn needs --user and --password\n",
		        TICE_KEY_MAX);
		exit(2);
	}
	t->sig.keylen = strlen(key);
	memcpy(t->sig.key, key, t->sig.keylen);
}
