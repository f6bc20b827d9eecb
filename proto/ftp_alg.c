/*
 * The translator's FTP ALG (RFC 6384). Each side's bytes are cut into
 * lines of at most FTP_ALG_LINE_MAX; a line is acted on only once its LF
 * is in, so the output never depends on how reads were split. Replies
 * are matched to commands through a small FIFO of what each command in
 * flight expects (RFC 959 §4.2: one final reply per command, 1yz replies
 * are preliminary). The ALG's own commands (PASV, PORT, NOOP) take the
 * place of the client's in that FIFO, so every reply still reaches the
 * client in its turn.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proto/ftp_alg.h"

/* What a command in flight expects of its final reply. */
enum pend_kind {
	P_OTHER,     /* nothing: the reply passes */
	P_GREETING,  /* the server's 220, before any command */
	P_EPSV,      /* the client's EPSV: a 5xx is swallowed and PASV sent */
	P_EPSV_PASV, /* our PASV for an EPSV: 227 becomes 229 */
	P_LPSV_PASV, /* our PASV for an LPSV: 227 becomes 228 */
	P_EPSV_ALL,  /* a 5xx becomes 200 */
	P_PORT,      /* our PORT for EPRT/LPRT: a refusal cancels the proxy */
	P_NOOP_425,  /* stands in for an EPRT we could not proxy */
	P_NOOP_501,  /* stands in for an EPRT naming another host */
	P_AUTH,      /* 234: TLS follows */
};

/* What the lines of the reply being read get. */
enum reply_act {
	ACT_PASS,
	ACT_DROP,
	ACT_COLLECT, /* dropped, but searched for h1,h2,h3,h4,p1,p2 */
};

#define TELNET_IAC  255
#define TELNET_WILL 251
#define TELNET_DONT 254

const char *ftp_alg_rw_name(enum ftp_alg_rw k)
{
	switch (k) {
	case FTP_ALG_RW_EPSV:
		return "epsv";
	case FTP_ALG_RW_PASV_REPLY:
		return "pasv_reply";
	case FTP_ALG_RW_EPSV_ALL:
		return "epsv_all";
	case FTP_ALG_RW_EPRT:
		return "eprt";
	case FTP_ALG_RW_LPRT:
		return "lprt";
	case FTP_ALG_RW_LPSV:
		return "lpsv";
	case FTP_ALG_RW_COUNT:
		break;
	}
	return "unknown";
}

const char *ftp_alg_anom_name(enum ftp_alg_anom k)
{
	switch (k) {
	case FTP_ALG_AN_OVERLONG:
		return "overlong";
	case FTP_ALG_AN_GARBAGE:
		return "garbage";
	case FTP_ALG_AN_REFUSED:
		return "refused";
	case FTP_ALG_AN_BAD_REPLY:
		return "bad_reply";
	case FTP_ALG_AN_NO_LISTENER:
		return "no_listener";
	case FTP_ALG_AN_OVERFLOW:
		return "overflow";
	case FTP_ALG_AN_TLS:
		return "tls";
	case FTP_ALG_AN_COUNT:
		break;
	}
	return "unknown";
}

const char *ftp_alg_state_name(enum ftp_alg_state s)
{
	switch (s) {
	case FTP_ALG_RUN:
		return "run";
	case FTP_ALG_WAIT_LISTEN:
		return "wait_listen";
	case FTP_ALG_TRANSPARENT:
		return "transparent";
	}
	return "unknown";
}

/* The one place the state changes; TRANSPARENT is never left. */
static void change_state(struct ftp_alg *a, enum ftp_alg_state to)
{
	if (a->state == FTP_ALG_TRANSPARENT)
		return;
	a->state = to;
}

static void go_transparent(struct ftp_alg *a, enum ftp_alg_anom why)
{
	if (a->state != FTP_ALG_TRANSPARENT)
		a->anomalies[why]++;
	change_state(a, FTP_ALG_TRANSPARENT);
}

void ftp_alg_init(struct ftp_alg *a, const struct ftp_alg_env *env)
{
	memset(a, 0, sizeof(*a));
	a->env = *env;
	a->state = FTP_ALG_RUN;
	a->pend[0] = P_GREETING;
	a->pend_n = 1;
}

const struct ftp_alg_event *ftp_alg_event(const struct ftp_alg *a)
{
	return &a->ev;
}

/* ---- the FIFO of commands in flight ---- */

static enum pend_kind pend_front(const struct ftp_alg *a)
{
	return a->pend_n ? (enum pend_kind)a->pend[a->pend_head] : P_OTHER;
}

static void pend_pop(struct ftp_alg *a)
{
	if (!a->pend_n)
		return; /* an unsolicited reply (421 on a timeout) */
	a->pend_head = (a->pend_head + 1) % FTP_ALG_PENDING_MAX;
	a->pend_n--;
}

static bool pend_full(const struct ftp_alg *a)
{
	return a->pend_n == FTP_ALG_PENDING_MAX;
}

/* Caller checked pend_full(). */
static void pend_push(struct ftp_alg *a, enum pend_kind k)
{
	a->pend[(a->pend_head + a->pend_n) % FTP_ALG_PENDING_MAX] = (uint8_t)k;
	a->pend_n++;
}

static bool pend_has(const struct ftp_alg *a, enum pend_kind k)
{
	for (unsigned i = 0; i < a->pend_n; i++)
		if (a->pend[(a->pend_head + i) % FTP_ALG_PENDING_MAX] == k)
			return true;
	return false;
}

/*
 * An EPSV's answer may make the ALG send PASV; that must reach the server
 * before any later client command, so client input waits for it.
 */
bool ftp_alg_client_blocked(const struct ftp_alg *a)
{
	if (a->state == FTP_ALG_TRANSPARENT)
		return false;
	return a->state == FTP_ALG_WAIT_LISTEN || pend_has(a, P_EPSV);
}

/* ---- output ---- */

static bool buf_room(const struct ftp_alg_buf *b)
{
	return b->len <= b->cap && b->cap - b->len >= FTP_ALG_STEP_MAX;
}

/* Every writer runs after buf_room() and writes at most FTP_ALG_STEP_MAX. */
static void put(struct ftp_alg_buf *b, const void *p, size_t n)
{
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void put_str(struct ftp_alg_buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* ---- parsing helpers ---- */

/* Reads a decimal number of at most max (no sign, no leading space). */
static bool num_get(const char **s, unsigned max, unsigned *out)
{
	const char *p = *s;
	unsigned v = 0;

	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (unsigned)(*p - '0');
		if (v > max)
			return false;
		p++;
	}
	*s = p;
	*out = v;
	return true;
}

/* n numbers of at most 255 separated by commas. */
static bool bytes_get(const char **s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (i && *(*s)++ != ',')
			return false;
		if (!num_get(s, 255, &v))
			return false;
		out[i] = (uint8_t)v;
	}
	return true;
}

/*
 * The command without Telnet sequences (RFC 854: IAC IAC is a data 255,
 * IAC WILL/WONT/DO/DONT take an option byte) and without its line end.
 * out holds FTP_ALG_LINE_MAX + 1 and is NUL-terminated; an embedded NUL
 * ends the command early, which only makes it unknown.
 */
static void cmd_clean(const uint8_t *line, size_t n, char *out)
{
	size_t o = 0;

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	for (size_t i = 0; i < n; i++) {
		if (line[i] != TELNET_IAC) {
			out[o++] = (char)line[i];
			continue;
		}
		if (i + 1 < n && line[i + 1] == TELNET_IAC)
			out[o++] = (char)TELNET_IAC;
		else if (i + 1 < n && line[i + 1] >= TELNET_WILL && line[i + 1] <= TELNET_DONT)
			i++;
		i++;
	}
	out[o] = '\0';
}

/* RFC 2428 §2: EPRT <d>2<d>addr<d>port<d>, d any of ASCII 33..126. */
static bool eprt_parse(const char *arg, struct tw_addr *out)
{
	char d = arg[0], ip[64];
	const char *p = arg + 1, *end;
	unsigned port;

	if (d < 33 || d > 126 || p[0] != '2' || p[1] != d)
		return false;
	p += 2;
	end = strchr(p, d);
	if (!end || (size_t)(end - p) >= sizeof(ip))
		return false;
	memcpy(ip, p, (size_t)(end - p));
	ip[end - p] = '\0';
	if (tw_addr_parse_ip(ip, out) < 0 || out->family != TW_AF_INET6)
		return false;
	p = end + 1;
	if (!num_get(&p, 65535, &port) || port == 0 || p[0] != d || p[1] != '\0')
		return false;
	out->port = (uint16_t)port;
	return true;
}

/* RFC 1639 §2: LPRT 6,16,h1,...,h16,2,p1,p2 (only the IPv6 form is ours). */
static bool lprt_parse(const char *arg, struct tw_addr *out)
{
	uint8_t v[21];
	const char *p = arg;

	if (!bytes_get(&p, v, 21) || *p != '\0')
		return false;
	if (v[0] != 6 || v[1] != 16 || v[18] != 2 || (v[19] == 0 && v[20] == 0))
		return false;
	memset(out, 0, sizeof(*out));
	out->family = TW_AF_INET6;
	memcpy(out->ip, v + 2, 16);
	out->port = (uint16_t)(v[19] << 8 | v[20]);
	return true;
}

/*
 * RFC 1123 §4.1.2.6: the numbers of a 227 are to be found by scanning,
 * since servers differ on the text around them.
 */
static bool pasv_numbers(const uint8_t *line, size_t n, uint8_t hp[6])
{
	char s[FTP_ALG_LINE_MAX + 1];

	/* The code is skipped: "227 1,2,3,4,5,6" must not read 227 as h1. */
	if (n < 4)
		return false;
	memcpy(s, line + 4, n - 4);
	s[n - 4] = '\0';
	for (size_t i = 0; i + 4 < n; i++) {
		const char *p = s + i;

		if (i && s[i - 1] >= '0' && s[i - 1] <= '9')
			continue;
		if (bytes_get(&p, hp, 6))
			return true;
	}
	return false;
}

/* ---- server replies (RFC 959 §4.2) ---- */

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* "ddd " or "ddd-" (or a bare "ddd" line), first digit 1..5. */
static bool reply_start(const uint8_t *l, size_t n, uint16_t *code, bool *multi)
{
	if (n < 3 || l[0] < '1' || l[0] > '5' || !is_digit(l[1]) || !is_digit(l[2]))
		return false;
	if (n > 3 && l[3] != ' ' && l[3] != '-' && l[3] != '\r' && l[3] != '\n')
		return false;
	*code = (uint16_t)((l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0'));
	*multi = n > 3 && l[3] == '-';
	return true;
}

/* A multi-line reply ends with a line that starts with its code and a space. */
static bool reply_closes(const uint8_t *l, size_t n, uint16_t code)
{
	return n >= 4 && l[0] == '0' + code / 100 && l[1] == '0' + code / 10 % 10 &&
	       l[2] == '0' + code % 10 && l[3] == ' ';
}

static enum reply_act reply_act_for(const struct ftp_alg *a, uint16_t code)
{
	unsigned cls = code / 100;

	if (cls == 1)
		return ACT_PASS;
	switch (pend_front(a)) {
	case P_EPSV:
		return cls == 5 ? ACT_DROP : ACT_PASS;
	case P_EPSV_PASV:
	case P_LPSV_PASV:
		return code == 227 ? ACT_COLLECT : ACT_PASS;
	case P_EPSV_ALL:
		return cls == 5 ? ACT_DROP : ACT_PASS;
	case P_NOOP_425:
	case P_NOOP_501:
		return ACT_DROP;
	case P_OTHER:
	case P_GREETING:
	case P_PORT:
	case P_AUTH:
		break;
	}
	return ACT_PASS;
}

static void reply_229(struct ftp_alg *a, struct ftp_alg_buf *to_client)
{
	char s[80];

	snprintf(s, sizeof(s), "229 Entering Extended Passive Mode (|||%u|)\r\n",
	         (unsigned)(a->hp[4] << 8 | a->hp[5]));
	put_str(to_client, s);
}

/* RFC 1639 §3: 228 with af 6, the server's dummy address and the port. */
static void reply_228(struct ftp_alg *a, struct ftp_alg_buf *to_client)
{
	char s[128];
	int o = snprintf(s, sizeof(s), "228 Entering Long Passive Mode (6,16");

	for (int i = 0; i < 16; i++)
		o += snprintf(s + o, sizeof(s) - (size_t)o, ",%u", a->env.server6.ip[i]);
	snprintf(s + o, sizeof(s) - (size_t)o, ",2,%u,%u)\r\n", a->hp[4], a->hp[5]);
	put_str(to_client, s);
}

/* The 227 to our PASV: the client gets the reply to its own command. */
static void reply_pasv_done(struct ftp_alg *a, enum pend_kind k, struct ftp_alg_buf *to_client)
{
	if (!a->have_hp) {
		a->anomalies[FTP_ALG_AN_BAD_REPLY]++;
		put_str(to_client, "425 Translator could not read the server's PASV reply.\r\n");
		return;
	}
	a->rewrites[FTP_ALG_RW_PASV_REPLY]++;
	if (k == P_LPSV_PASV)
		reply_228(a, to_client);
	else
		reply_229(a, to_client);
}

/* The final line of a reply is out: act on what its command expected. */
static void reply_end(struct ftp_alg *a, struct ftp_alg_buf *to_server,
                      struct ftp_alg_buf *to_client)
{
	unsigned cls = a->code / 100;
	enum pend_kind k = pend_front(a);

	a->in_reply = false;
	if (cls == 1)
		return;
	/* RFC 6384: an EPSV the server refuses is retried as PASV. */
	if (k == P_EPSV && a->act == ACT_DROP) {
		a->pend[a->pend_head] = P_EPSV_PASV;
		a->epsv_no = true;
		a->rewrites[FTP_ALG_RW_EPSV]++;
		put_str(to_server, "PASV\r\n");
		return;
	}
	pend_pop(a);
	switch (k) {
	case P_EPSV_PASV:
	case P_LPSV_PASV:
		if (a->act == ACT_COLLECT)
			reply_pasv_done(a, k, to_client);
		break;
	case P_EPSV_ALL:
		if (a->act == ACT_DROP) {
			a->rewrites[FTP_ALG_RW_EPSV_ALL]++;
			put_str(to_client, "200 EPSV ALL accepted by the translator.\r\n");
		}
		break;
	case P_PORT:
		/* PORT replies come in PORT order (RFC 959 §4.2). */
		if (cls != 2) {
			a->ev.kind = FTP_ALG_EV_ACTIVE_CANCEL;
			a->ev.id = a->ports_answered;
		}
		a->ports_answered++;
		break;
	case P_NOOP_425:
		put_str(to_client, "425 Translator could not open the data connection.\r\n");
		break;
	case P_NOOP_501:
		put_str(to_client, "501 EPRT/LPRT must name the client's own address.\r\n");
		break;
	case P_AUTH:
		if (a->code == 234)
			go_transparent(a, FTP_ALG_AN_TLS);
		break;
	case P_OTHER:
	case P_GREETING:
	case P_EPSV:
		break;
	}
}

/*
 * One server line, or the first FTP_ALG_LINE_MAX bytes of a longer one
 * (complete false: the rest follows as the line's tail).
 */
static void server_line(struct ftp_alg *a, const uint8_t *l, size_t n, bool complete,
                        struct ftp_alg_buf *to_server, struct ftp_alg_buf *to_client)
{
	bool last;

	if (!a->in_reply) {
		uint16_t code;
		bool multi;

		if (!reply_start(l, n, &code, &multi)) {
			a->anomalies[FTP_ALG_AN_GARBAGE]++;
			put(to_client, l, n);
			a->sv.tail_pass = true;
			a->reply_last = false;
			return;
		}
		a->in_reply = true;
		a->code = code;
		a->act = (uint8_t)reply_act_for(a, code);
		a->have_hp = false;
		last = !multi;
	} else {
		last = reply_closes(l, n, a->code);
	}
	if (a->act == ACT_PASS)
		put(to_client, l, n);
	else if (a->act == ACT_COLLECT && !a->have_hp)
		a->have_hp = pasv_numbers(l, n, a->hp);
	a->sv.tail_pass = a->act == ACT_PASS;
	a->reply_last = last;
	if (complete && last)
		reply_end(a, to_server, to_client);
}

/* ---- client commands ---- */

/* EPRT/LPRT with an IPv6 address: the relay must open the proxy first. */
static void client_active(struct ftp_alg *a, const struct tw_addr *ep, bool lprt,
                          struct ftp_alg_buf *to_server)
{
	/* Otherwise the translator would connect anywhere the client names. */
	if (!tw_addr_ip_eq(ep, &a->env.client)) {
		a->anomalies[FTP_ALG_AN_REFUSED]++;
		pend_push(a, P_NOOP_501);
		put_str(to_server, "NOOP\r\n");
		return;
	}
	a->active_lprt = lprt;
	a->ev.kind = FTP_ALG_EV_ACTIVE_OPEN;
	a->ev.id = a->ports_sent;
	a->ev.addr = *ep;
	change_state(a, FTP_ALG_WAIT_LISTEN);
}

#define CMD_DONE (-1)

/*
 * Interprets a whole command: CMD_DONE when the ALG wrote what goes on,
 * otherwise the expectation to queue for the line that goes on unchanged.
 */
static int client_cmd(struct ftp_alg *a, const char *c, struct ftp_alg_buf *to_server)
{
	const char *arg = strchr(c, ' ');
	size_t vlen = arg ? (size_t)(arg - c) : strlen(c);
	struct tw_addr ep;

	arg = arg ? arg + 1 : "";
	if (vlen != 4)
		return P_OTHER;
	if (!strncasecmp(c, "EPSV", 4)) {
		if (!strcasecmp(arg, "ALL"))
			return P_EPSV_ALL;
		/* "EPSV 2" asks for IPv6, which an IPv4 server refuses: same path. */
		if (*arg && strcmp(arg, "2"))
			return P_OTHER;
		if (!a->epsv_no)
			return P_EPSV;
		a->rewrites[FTP_ALG_RW_EPSV]++;
		pend_push(a, P_EPSV_PASV);
		put_str(to_server, "PASV\r\n");
		return CMD_DONE;
	}
	if (!strncasecmp(c, "LPSV", 4) && !*arg) {
		a->rewrites[FTP_ALG_RW_LPSV]++;
		pend_push(a, P_LPSV_PASV);
		put_str(to_server, "PASV\r\n");
		return CMD_DONE;
	}
	if (!strncasecmp(c, "EPRT", 4) && eprt_parse(arg, &ep)) {
		client_active(a, &ep, false, to_server);
		return CMD_DONE;
	}
	if (!strncasecmp(c, "LPRT", 4) && lprt_parse(arg, &ep)) {
		client_active(a, &ep, true, to_server);
		return CMD_DONE;
	}
	if (!strncasecmp(c, "AUTH", 4))
		return P_AUTH;
	return P_OTHER;
}

static void client_line(struct ftp_alg *a, const uint8_t *l, size_t n, bool complete,
                        struct ftp_alg_buf *to_server)
{
	char c[FTP_ALG_LINE_MAX + 1];
	int k;

	if (!complete) {
		/* Pushed as P_OTHER at its LF: its reply must still be matched. */
		put(to_server, l, n);
		a->cl.tail_pass = true;
		return;
	}
	if (pend_full(a)) {
		go_transparent(a, FTP_ALG_AN_OVERFLOW);
		put(to_server, l, n);
		return;
	}
	cmd_clean(l, n, c);
	k = client_cmd(a, c, to_server);
	if (k == CMD_DONE)
		return;
	pend_push(a, (enum pend_kind)k);
	put(to_server, l, n);
}

/* ---- the byte pump ---- */

/* The rest of an overlong line, up to and with its LF. */
static size_t tail_take(struct ftp_alg *a, bool client, const uint8_t *in, size_t len,
                        struct ftp_alg_buf *to_server, struct ftp_alg_buf *to_client)
{
	struct ftp_alg_line *ln = client ? &a->cl : &a->sv;
	const uint8_t *lf = memchr(in, '\n', len);
	size_t n = lf ? (size_t)(lf - in) + 1 : len;

	if (n > FTP_ALG_LINE_MAX)
		n = FTP_ALG_LINE_MAX;
	if (ln->tail_pass)
		put(client ? to_server : to_client, in, n);
	if (in[n - 1] != '\n')
		return n;
	ln->tail = false;
	if (client) {
		if (!pend_full(a))
			pend_push(a, P_OTHER);
		else
			go_transparent(a, FTP_ALG_AN_OVERFLOW);
	} else if (a->in_reply && a->reply_last) {
		reply_end(a, to_server, to_client);
	}
	return n;
}

/* Takes bytes into the side's line; acts when it ends or overflows. */
static size_t line_take(struct ftp_alg *a, bool client, const uint8_t *in, size_t len,
                        struct ftp_alg_buf *to_server, struct ftp_alg_buf *to_client)
{
	struct ftp_alg_line *ln = client ? &a->cl : &a->sv;
	size_t want = FTP_ALG_LINE_MAX - ln->len, n, have;
	const uint8_t *lf;
	bool complete;

	if (ln->tail)
		return tail_take(a, client, in, len, to_server, to_client);
	if (want > len)
		want = len;
	lf = memchr(in, '\n', want);
	n = lf ? (size_t)(lf - in) + 1 : want;
	memcpy(ln->buf + ln->len, in, n);
	ln->len += n;
	if (!lf && ln->len < FTP_ALG_LINE_MAX)
		return n;
	complete = lf != NULL;
	if (!complete) {
		a->anomalies[FTP_ALG_AN_OVERLONG]++;
		ln->tail = true;
	}
	have = ln->len;
	ln->len = 0;
	if (client)
		client_line(a, ln->buf, have, complete, to_server);
	else
		server_line(a, ln->buf, have, complete, to_server, to_client);
	return n;
}

/* Transparent: held bytes first, then everything as it comes. */
static size_t raw_take(struct ftp_alg *a, bool client, const uint8_t *in, size_t len,
                       struct ftp_alg_buf *to_server, struct ftp_alg_buf *to_client)
{
	struct ftp_alg_line *ln = client ? &a->cl : &a->sv;
	struct ftp_alg_buf *out = client ? to_server : to_client;

	if (ln->len) {
		put(out, ln->buf, ln->len);
		ln->len = 0;
		return 0;
	}
	if (len > FTP_ALG_STEP_MAX)
		len = FTP_ALG_STEP_MAX;
	put(out, in, len);
	return len;
}

static size_t feed(struct ftp_alg *a, bool client, const uint8_t *in, size_t len,
                   struct ftp_alg_buf *to_server, struct ftp_alg_buf *to_client)
{
	size_t i = 0;

	a->ev.kind = FTP_ALG_EV_NONE;
	while (i < len && a->ev.kind == FTP_ALG_EV_NONE) {
		bool was_blocked = ftp_alg_client_blocked(a);

		if (client && was_blocked)
			break;
		if (!buf_room(to_server) || !buf_room(to_client))
			break;
		if (a->state == FTP_ALG_TRANSPARENT)
			i += raw_take(a, client, in + i, len - i, to_server, to_client);
		else
			i += line_take(a, client, in + i, len - i, to_server, to_client);
		/*
		 * The client's waiting commands go in before the next reply is
		 * read, so which command a reply answers never depends on how
		 * the two sides' reads interleave.
		 */
		if (!client && was_blocked && !ftp_alg_client_blocked(a))
			break;
	}
	return i;
}

size_t ftp_alg_from_client(struct ftp_alg *a, const uint8_t *in, size_t len,
                           struct ftp_alg_buf *to_server, struct ftp_alg_buf *to_client)
{
	return feed(a, true, in, len, to_server, to_client);
}

size_t ftp_alg_from_server(struct ftp_alg *a, const uint8_t *in, size_t len,
                           struct ftp_alg_buf *to_server, struct ftp_alg_buf *to_client)
{
	return feed(a, false, in, len, to_server, to_client);
}

/* PORT y1,y2,y3,y4,q1,q2 with the translator's IPv4 listener (RFC 959 §4.1.2). */
int ftp_alg_active_ready(struct ftp_alg *a, uint16_t port, struct ftp_alg_buf *to_server)
{
	const uint8_t *y = a->env.source4.ip;
	char s[64];

	if (a->state != FTP_ALG_WAIT_LISTEN)
		return -EINVAL;
	if (!buf_room(to_server))
		return -ENOSPC;
	change_state(a, FTP_ALG_RUN);
	a->rewrites[a->active_lprt ? FTP_ALG_RW_LPRT : FTP_ALG_RW_EPRT]++;
	pend_push(a, P_PORT);
	a->ports_sent++;
	snprintf(s, sizeof(s), "PORT %u,%u,%u,%u,%u,%u\r\n", y[0], y[1], y[2], y[3], port >> 8,
	         port & 0xff);
	put_str(to_server, s);
	return 0;
}

/* The client's reply must come in its turn: a NOOP holds its place. */
int ftp_alg_active_failed(struct ftp_alg *a, struct ftp_alg_buf *to_server)
{
	if (a->state != FTP_ALG_WAIT_LISTEN)
		return -EINVAL;
	if (!buf_room(to_server))
		return -ENOSPC;
	change_state(a, FTP_ALG_RUN);
	a->anomalies[FTP_ALG_AN_NO_LISTENER]++;
	pend_push(a, P_NOOP_425);
	put_str(to_server, "NOOP\r\n");
	return 0;
}
