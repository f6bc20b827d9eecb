/*
 * The TURN client side of relayed candidates (RFC 8656): one allocation
 * over UDP or TCP (RFC 8656 §3.1; the TCP stream is framed by ice_io.c),
 * long-term credentials, refreshes, permissions, channels. No I/O: it
 * sends through struct ice_io_ops and is driven by ice_turn_tick().
 */
#ifndef TWIST_CLIENT_ICE_TURN_H
#define TWIST_CLIENT_ICE_TURN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/ice/ice_io_ops.h"
#include "proto/addr.h"

enum ice_turn_state {
	ICE_TURN_IDLE,
	ICE_TURN_ALLOCATING,
	ICE_TURN_ALLOCATED,
	ICE_TURN_FAILED,
};

#define ICE_TURN_PERMS     64
#define ICE_TURN_TX        8
#define ICE_TURN_STR       256
#define ICE_TURN_REDIRECTS 3 /* 300 Try Alternate followed at most this often */

struct ice_turn_perm {
	struct tw_addr peer; /* IP and port: the channel is per transport address */
	uint64_t perm_until; /* ms; 0: no permission asked yet */
	bool perm_ok;
	uint16_t chan; /* 0: none */
	bool chan_ok;
	uint64_t chan_until;
};

struct ice_turn_tx {
	bool active;
	uint16_t method;
	int perm; /* index for permission and channel requests, else -1 */
	uint8_t tid[12];
	uint8_t buf[600];
	size_t len;
	uint64_t next_ms;
	unsigned rto_ms, sent;
};

struct ice_turn {
	enum ice_turn_state state;
	const struct ice_io_ops *io;
	void *io_ctx;
	int sock;
	bool tcp;
	struct tw_addr server;
	char user[ICE_TURN_STR + 1], pass[ICE_TURN_STR + 1];
	char realm[ICE_TURN_STR + 1], nonce[ICE_TURN_STR + 1];
	uint8_t key[16];
	bool have_key;
	unsigned auth_tries;
	struct tw_addr relayed, mapped;
	uint64_t refresh_at;
	struct ice_turn_perm perm[ICE_TURN_PERMS];
	size_t nperm;
	uint16_t next_chan;
	struct ice_turn_tx tx[ICE_TURN_TX];
	/* Allocation done (err 0) or failed. */
	void (*on_alloc)(void *arg, struct ice_turn *t, int err);
	void *arg;
	uint64_t drops;
	unsigned redirects;  /* 300s followed */
	uint64_t forged_300; /* 300s ignored: no MESSAGE-INTEGRITY our key verifies */
	uint64_t log_forged;
};

void ice_turn_init(struct ice_turn *t, const struct ice_io_ops *io, void *io_ctx, int sock,
                   bool tcp, const struct tw_addr *server, const char *user, const char *pass);
int ice_turn_start(struct ice_turn *t, uint64_t now);
/* Forgets the allocation (the client's address changed): idle again, same server and socket. */
void ice_turn_reset(struct ice_turn *t);
void ice_turn_tick(struct ice_turn *t, uint64_t now);
/* Asks for a permission toward peer's IP (and remembers peer for a channel). */
int ice_turn_permit(struct ice_turn *t, const struct tw_addr *peer, uint64_t now);
/* Binds a channel to peer, for the selected pair's data. */
int ice_turn_bind(struct ice_turn *t, const struct tw_addr *peer, uint64_t now);
/* Sends to peer through the allocation: ChannelData when bound, else a Send indication. */
int ice_turn_send(struct ice_turn *t, const struct tw_addr *peer, const void *buf, size_t len);
/*
 * A datagram (or one framed message over TCP) from the server. Returns 1
 * with *peer, *data, *dlen set when it carried a peer's datagram; 0 when
 * it was TURN signalling; -EBADMSG when dropped (counted).
 */
int ice_turn_recv(struct ice_turn *t, const uint8_t *buf, size_t len, uint64_t now,
                  struct tw_addr *peer, const uint8_t **data, size_t *dlen);
const char *ice_turn_state_name(enum ice_turn_state s);

#endif
