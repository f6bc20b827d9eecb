/*
 * twist-ice's state (client/twist_ice.c) and its command line
 * (client/tice_args.c). See twist-ice(8).
 */
#ifndef TWIST_CLIENT_TICE_H
#define TWIST_CLIENT_TICE_H

#include "client/tice_sig.h"

#define TICE_MAX_ADDRS ICE_MAX_HOST_ADDRS

struct event;
struct event_base;

struct tice {
	struct event_base *eb;
	struct ice_agent *a;
	struct ice_config cfg;
	struct ice_watch *watch;
	struct event *sig_ev, *tick, *send_ev, *sigint, *sigterm;
	bool mn;
	struct tice_sig sig;
	struct tw_addr ha;
	int fd; /* to and from the home agent */
	uint16_t seq;
	/* the MN's offer, the CN's registration: sent again until answered */
	bool gathered, offer_due, offer_out, registered;
	uint16_t offer_seq;
	unsigned tries;
	uint64_t rtx_ms, refresh_ms;
	/* CN: the offer answered last, to tell a repeat from a restart */
	char rufrag[MICE_UFRAG_MAX + 1], rpwd[MICE_PWD_MAX + 1];
	/* the echo stream (MN) */
	unsigned send_max, interval_ms;
	uint64_t sent, echoed, echoes_in;
	uint32_t gen; /* bumped when the selected pair changes */
	struct ice_cand gen_l, gen_r;
	/* moves (MN) */
	struct tw_addr addrs[TICE_MAX_ADDRS];
	size_t naddrs;
	unsigned moves;
	bool moving;
	uint64_t move_ms, gone_ms;
	uint32_t move_gen;
	uint64_t start_ms, print_ms, duration_ms;
	int exit_code;
};

/* Fills t from the command line; exits 0 for --help/--version, 2 when it is wrong. */
void tice_args(struct tice *t, int argc, char **argv);

#endif
