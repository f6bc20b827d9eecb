/*
 * The translator's FTP ALG (RFC 6384) for one control connection between
 * an IPv6 client and an IPv4 server. No I/O, no clock, no allocation: the
 * TCP relay feeds it the bytes of each direction as they arrive and sends
 * what it writes into two caller buffers. Commands and replies are read as
 * whole lines, so any split of the same bytes gives the same output (the
 * split-read bug of faithd's ALG).
 *
 * What it rewrites (docs/trt.md "FTP"):
 *   EPSV (or EPSV 2)  passed on; a 5xx answer is swallowed, the ALG sends
 *                     PASV and turns the 227 into a 229 (|||port|)
 *   EPSV ALL          passed on; a 5xx answer becomes 200
 *   EPRT |2|A6|p|     the relay listens on IPv4 (event ACTIVE_OPEN), the ALG
 *   LPRT 6,16,...     sends PORT with that listener; the 200 goes back as is
 *   LPSV              PASV; the 227 becomes a 228 with the server's dummy
 *                     IPv6 address
 *   AUTH + 234        the connection turns to TLS: transparent from then on
 * Everything else, PASV and PORT included, passes through unchanged.
 */
#ifndef TWIST_PROTO_FTP_ALG_H
#define TWIST_PROTO_FTP_ALG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"

/*
 * A command or reply line is interpreted only within this many bytes; a
 * longer one passes through untouched (counted). RFC 959 sets no limit,
 * but every line the ALG rewrites is far shorter.
 */
#define FTP_ALG_LINE_MAX 512
/* Commands sent and not yet answered; more and the ALG goes transparent. */
#define FTP_ALG_PENDING_MAX 32
/*
 * The most one step writes into either buffer: a line, plus a line of
 * the ALG's own (a 228 with 16 address bytes is the longest). A call stops
 * early when a buffer has less room than this.
 */
#define FTP_ALG_STEP_MAX (FTP_ALG_LINE_MAX + 128)

/* Rewrites, for twist_trt_alg_rewrites_total{kind}. */
enum ftp_alg_rw {
	FTP_ALG_RW_EPSV,       /* an EPSV sent on as PASV */
	FTP_ALG_RW_PASV_REPLY, /* a 227 turned into a 229 or a 228 */
	FTP_ALG_RW_EPSV_ALL,   /* a refused EPSV ALL answered 200 */
	FTP_ALG_RW_EPRT,       /* EPRT |2| sent on as PORT */
	FTP_ALG_RW_LPRT,       /* LPRT 6 sent on as PORT */
	FTP_ALG_RW_LPSV,       /* LPSV sent on as PASV */
	FTP_ALG_RW_COUNT,
};

/* Input the ALG could not interpret, passed through or refused. */
enum ftp_alg_anom {
	FTP_ALG_AN_OVERLONG,    /* a line over FTP_ALG_LINE_MAX */
	FTP_ALG_AN_GARBAGE,     /* a server line that is no reply */
	FTP_ALG_AN_REFUSED,     /* EPRT/LPRT naming another host than the client: 501 */
	FTP_ALG_AN_BAD_REPLY,   /* a 227 without h1,h2,h3,h4,p1,p2: 425 */
	FTP_ALG_AN_NO_LISTENER, /* the relay could not open the active proxy: 425 */
	FTP_ALG_AN_OVERFLOW,    /* over FTP_ALG_PENDING_MAX commands in flight */
	FTP_ALG_AN_TLS,         /* AUTH accepted: the rest is opaque */
	FTP_ALG_AN_COUNT,
};

enum ftp_alg_ev_kind {
	FTP_ALG_EV_NONE,
	/*
	 * Open active-mode data proxy number id: listen on the translator's
	 * IPv4 source address and, when the server connects, connect to the
	 * client at addr. Answer with ftp_alg_active_ready() or
	 * ftp_alg_active_failed() before feeding more client bytes.
	 */
	FTP_ALG_EV_ACTIVE_OPEN,
	/* The server refused the PORT of proxy id: close its listener. */
	FTP_ALG_EV_ACTIVE_CANCEL,
};

struct ftp_alg_event {
	enum ftp_alg_ev_kind kind;
	uint32_t id;         /* proxies are numbered from 0; a failed open reuses its id */
	struct tw_addr addr; /* ACTIVE_OPEN: the client's data endpoint (IPv6) */
};

struct ftp_alg_env {
	struct tw_addr client;  /* the IPv6 client: EPRT/LPRT must name it */
	struct tw_addr server6; /* the server's dummy address, PREFIX::X4 (in 228) */
	struct tw_addr source4; /* the translator's IPv4 source: PORT names it */
};

/* Where the ALG writes; the caller sends p[0..len) and sets len back to 0. */
struct ftp_alg_buf {
	uint8_t *p;
	size_t cap; /* at least FTP_ALG_STEP_MAX */
	size_t len;
};

enum ftp_alg_state {
	FTP_ALG_RUN,         /* interpreting lines */
	FTP_ALG_WAIT_LISTEN, /* ACTIVE_OPEN reported: client input waits */
	FTP_ALG_TRANSPARENT, /* TLS or lost track: bytes pass untouched */
};

struct ftp_alg_line {
	uint8_t buf[FTP_ALG_LINE_MAX];
	size_t len;
	bool tail;      /* inside an overlong line, until its LF */
	bool tail_pass; /* the tail is forwarded, not dropped */
};

struct ftp_alg {
	struct ftp_alg_env env;
	enum ftp_alg_state state;
	struct ftp_alg_line cl, sv; /* the line being read from each side */

	/* Commands awaiting a final reply, oldest first (a ring). */
	uint8_t pend[FTP_ALG_PENDING_MAX];
	unsigned pend_head, pend_n;

	/* The server reply being read (RFC 959 §4.2). */
	bool in_reply, reply_last; /* reply_last: the line being read ends it */
	uint16_t code;
	uint8_t act;      /* what the reply's lines get: pass, drop, collect */
	bool have_hp;     /* collect: h1..p2 found */
	uint8_t hp[6];    /* collect: the 227's numbers */
	bool epsv_no;     /* the server refused EPSV once: send PASV straight away */
	bool active_lprt; /* the ACTIVE_OPEN came from LPRT, not EPRT */
	uint32_t ports_sent, ports_answered; /* PORT commands, for event ids */

	struct ftp_alg_event ev;
	uint64_t rewrites[FTP_ALG_RW_COUNT];
	uint64_t anomalies[FTP_ALG_AN_COUNT];
};

void ftp_alg_init(struct ftp_alg *a, const struct ftp_alg_env *env);

/*
 * Feed bytes from the client (resp. the server). Returns how many were
 * consumed; fewer than len when an event was reported, a buffer is short of
 * FTP_ALG_STEP_MAX, (client side) the ALG waits for the server's reply to
 * an EPSV or for ftp_alg_active_ready(), or (server side) that reply came
 * and the client's waiting bytes must be fed before more server bytes. The
 * caller keeps the rest and feeds it again: after handling the event,
 * sending the buffers, feeding the client, or after the next server bytes.
 * A partial line is held inside; nothing is lost.
 */
size_t ftp_alg_from_client(struct ftp_alg *a, const uint8_t *in, size_t len,
                           struct ftp_alg_buf *to_server, struct ftp_alg_buf *to_client);
size_t ftp_alg_from_server(struct ftp_alg *a, const uint8_t *in, size_t len,
                           struct ftp_alg_buf *to_server, struct ftp_alg_buf *to_client);

/* The event of the last call (kind NONE if it had none). */
const struct ftp_alg_event *ftp_alg_event(const struct ftp_alg *a);

/*
 * After ACTIVE_OPEN: the IPv4 listener's port; writes the PORT command.
 * Both return 0, -EINVAL when no ACTIVE_OPEN waits, or -ENOSPC.
 */
int ftp_alg_active_ready(struct ftp_alg *a, uint16_t port, struct ftp_alg_buf *to_server);
/* After ACTIVE_OPEN: no listener; the client gets a 425 in its turn. */
int ftp_alg_active_failed(struct ftp_alg *a, struct ftp_alg_buf *to_server);

/* Whether client bytes wait (for a reply or ftp_alg_active_ready()). */
bool ftp_alg_client_blocked(const struct ftp_alg *a);

const char *ftp_alg_rw_name(enum ftp_alg_rw k);
const char *ftp_alg_anom_name(enum ftp_alg_anom k);
const char *ftp_alg_state_name(enum ftp_alg_state s);

#endif
