/*
 * proto/ftp_alg.c: the translator's FTP ALG (RFC 6384). Each case is a
 * session script (what the client and the server send, in order) with the
 * exact bytes each side must receive and the events the relay must see.
 * Every script is fed whole, in pieces of 1, 2, 3 and 7 bytes, split once
 * at every point of each step, and with the smallest output buffers: all
 * must give the same transcripts (the split-read bug of faithd's ALG).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ftp_alg_util.h"

#define C         "c" /* a step from the client */
#define S         "s" /* a step from the server */
#define MAX_STEPS 12

struct step {
	const char *dir;
	const char *bytes;
};

struct fa_case {
	const char *name;
	struct step steps[MAX_STEPS];
	const char *to_server, *to_client, *events;
	bool fail_listen;
	int rw[FTP_ALG_RW_COUNT];
	int an[FTP_ALG_AN_COUNT];
};

#define HI "220 twist lab\r\n"
#define LONG100                                                                                    \
	"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567" \
	"890123456789"
#define LONG600 LONG100 LONG100 LONG100 LONG100 LONG100 LONG100

/* clang-format off */
static const struct fa_case cases[] = {
	{"epsv answered by the server",
	 {{S, HI}, {C, "EPSV\r\n"}, {S, "229 Entering Extended Passive Mode (|||5000|)\r\n"}},
	 "EPSV\r\n", HI "229 Entering Extended Passive Mode (|||5000|)\r\n", "", false, {0}, {0}},
	{"epsv refused: pasv, and its 227 becomes a 229",
	 {{S, HI}, {C, "EPSV\r\n"}, {S, "522 Network protocol not supported, use (1)\r\n"},
	  {S, "227 Entering Passive Mode (198,51,100,10,19,137).\r\n"},
	  {C, "EPSV\r\n"}, {S, "227 Entering Passive Mode (198,51,100,10,19,138)\r\n"}},
	 "EPSV\r\nPASV\r\nPASV\r\n",
	 HI "229 Entering Extended Passive Mode (|||5001|)\r\n"
	 "229 Entering Extended Passive Mode (|||5002|)\r\n", "", false,
	 {[FTP_ALG_RW_EPSV] = 2, [FTP_ALG_RW_PASV_REPLY] = 2}, {0}},
	{"epsv 2 refused with 500, bare LF lines",
	 {{S, "220 hi\n"}, {C, "epsv 2\n"}, {S, "500 what\n"}, {S, "227 =198,51,100,10,0,21\n"}},
	 "epsv 2\nPASV\r\n", "220 hi\n229 Entering Extended Passive Mode (|||21|)\r\n", "", false,
	 {[FTP_ALG_RW_EPSV] = 1, [FTP_ALG_RW_PASV_REPLY] = 1}, {0}},
	{"multi-line 522 and multi-line 227",
	 {{S, HI}, {C, "EPSV\r\n"}, {S, "522-no EPSV here\r\n 522 but\r\n"}, {S, "522 end\r\n"},
	  {S, "227-Entering Passive Mode\r\n227-(198,51,100,10,4,0)\r\n"}, {S, "227 done\r\n"}},
	 "EPSV\r\nPASV\r\n", HI "229 Entering Extended Passive Mode (|||1024|)\r\n", "", false,
	 {[FTP_ALG_RW_EPSV] = 1, [FTP_ALG_RW_PASV_REPLY] = 1}, {0}},
	{"epsv refused and pasv refused: the pasv error goes back",
	 {{S, HI}, {C, "EPSV\r\n"}, {S, "522 no\r\n"}, {S, "425 Cannot open\r\n"}},
	 "EPSV\r\nPASV\r\n", HI "425 Cannot open\r\n", "", false, {[FTP_ALG_RW_EPSV] = 1}, {0}},
	{"a 227 without numbers: 425",
	 {{S, HI}, {C, "EPSV\r\n"}, {S, "522 no\r\n"}, {S, "227 ok (1,2,3)\r\n"}},
	 "EPSV\r\nPASV\r\n", HI "425 Translator could not read the server's PASV reply.\r\n", "",
	 false, {[FTP_ALG_RW_EPSV] = 1}, {[FTP_ALG_AN_BAD_REPLY] = 1}},
	{"pipelined commands wait behind an epsv",
	 {{S, HI}, {C, "USER anonymous\r\nPASS x@\r\nEPSV\r\nRETR pub/file.bin\r\nQUIT\r\n"},
	  {S, "331 pw\r\n230 in\r\n522 no\r\n227 Entering Passive Mode (198,51,100,10,200,1)\r\n"},
	  {S, "150 here\r\n226 done\r\n221 bye\r\n"}},
	 "USER anonymous\r\nPASS x@\r\nEPSV\r\nPASV\r\nRETR pub/file.bin\r\nQUIT\r\n",
	 HI "331 pw\r\n230 in\r\n229 Entering Extended Passive Mode (|||51201|)\r\n"
	 "150 here\r\n226 done\r\n221 bye\r\n", "", false,
	 {[FTP_ALG_RW_EPSV] = 1, [FTP_ALG_RW_PASV_REPLY] = 1}, {0}},
	/* A regression (fuzz_ftp_alg): the 227 came in the same read as the 229
	 * and was matched before the waiting LPSV was, in the whole feed only. */
	{"commands waiting behind an epsv go in before the next reply",
	 {{S, HI}, {C, "EPSV\r\nLPSV\r\n"},
	  {S, "229 Entering Extended Passive Mode (|||5|)\r\n227 (198,51,100,10,0,9)\r\n"}},
	 "EPSV\r\nPASV\r\n",
	 HI "229 Entering Extended Passive Mode (|||5|)\r\n"
	 "228 Entering Long Passive Mode (6,16,253,100,116,114,0,0,0,0,0,0,0,0,198,51,100,10,2,0,9)\r\n",
	 "", false, {[FTP_ALG_RW_LPSV] = 1, [FTP_ALG_RW_PASV_REPLY] = 1}, {0}},
	{"epsv all refused: 200",
	 {{S, HI}, {C, "EPSV ALL\r\n"}, {S, "500-not\r\n500 understood\r\n"}, {C, "EPSV\r\n"},
	  {S, "229 Entering Extended Passive Mode (|||7|)\r\n"}},
	 "EPSV ALL\r\nEPSV\r\n",
	 HI "200 EPSV ALL accepted by the translator.\r\n229 Entering Extended Passive Mode (|||7|)\r\n",
	 "", false, {[FTP_ALG_RW_EPSV_ALL] = 1}, {0}},
	{"epsv all accepted",
	 {{S, HI}, {C, "epsv all\r\n"}, {S, "200 EPSV ALL ok\r\n"}},
	 "epsv all\r\n", HI "200 EPSV ALL ok\r\n", "", false, {0}, {0}},
	{"eprt: active proxy and port",
	 {{S, HI}, {C, "EPRT |2|2001:db8:12:1::2|40001|\r\n"}, {S, "200 PORT command successful\r\n"},
	  {C, "RETR f\r\n"}, {S, "150 go\r\n226 done\r\n"}},
	 "PORT 198,51,100,1,195,80\r\nRETR f\r\n",
	 HI "200 PORT command successful\r\n150 go\r\n226 done\r\n",
	 "open 0 [2001:db8:12:1::2]:40001;", false, {[FTP_ALG_RW_EPRT] = 1}, {0}},
	{"eprt with another delimiter, then lprt: two proxies",
	 {{S, HI}, {C, "eprt !2!2001:DB8:12:1:0:0:0:2!1!\r\n"},
	  {C, "LPRT 6,16,32,1,13,184,0,18,0,1,0,0,0,0,0,0,0,2,2,156,65\r\n"},
	  {S, "200 ok\r\n200 ok\r\n"}},
	 "PORT 198,51,100,1,195,80\r\nPORT 198,51,100,1,195,81\r\n", HI "200 ok\r\n200 ok\r\n",
	 "open 0 [2001:db8:12:1::2]:1;open 1 [2001:db8:12:1::2]:40001;", false,
	 {[FTP_ALG_RW_EPRT] = 1, [FTP_ALG_RW_LPRT] = 1}, {0}},
	{"port refused: the proxy is cancelled",
	 {{S, HI}, {C, "EPRT |2|2001:db8:12:1::2|40001|\r\n"}, {S, "500 Illegal PORT command.\r\n"}},
	 "PORT 198,51,100,1,195,80\r\n", HI "500 Illegal PORT command.\r\n",
	 "open 0 [2001:db8:12:1::2]:40001;cancel 0;", false, {[FTP_ALG_RW_EPRT] = 1}, {0}},
	{"no listener: 425 in the eprt's turn",
	 {{S, HI}, {C, "NOOP\r\nEPRT |2|2001:db8:12:1::2|40001|\r\nPWD\r\n"},
	  {S, "200 noop\r\n200 noop\r\n257 \"/\"\r\n"}},
	 "NOOP\r\nNOOP\r\nPWD\r\n",
	 HI "200 noop\r\n425 Translator could not open the data connection.\r\n257 \"/\"\r\n",
	 "open 0 [2001:db8:12:1::2]:40001;", true, {0}, {[FTP_ALG_AN_NO_LISTENER] = 1}},
	{"eprt naming another host: 501",
	 {{S, HI}, {C, "EPRT |2|2001:db8:66::1|40001|\r\n"}, {S, "200 NOOP ok\r\n"}},
	 "NOOP\r\n", HI "501 EPRT/LPRT must name the client's own address.\r\n", "", false, {0},
	 {[FTP_ALG_AN_REFUSED] = 1}},
	{"eprt for ipv4, malformed eprt and lprt: unchanged",
	 {{S, HI}, {C, "EPRT |1|192.0.2.1|6000|\r\nEPRT |2|2001:db8:12:1::2|0|\r\n"},
	  {C, "EPRT |2|2001:db8:12:1::2|70000|\r\nEPRT |2|zz|1|\r\nEPRT\r\n"},
	  {C, "LPRT 4,4,192,0,2,1,2,0,1\r\nLPRT 6,16,1,2\r\n"}},
	 "EPRT |1|192.0.2.1|6000|\r\nEPRT |2|2001:db8:12:1::2|0|\r\n"
	 "EPRT |2|2001:db8:12:1::2|70000|\r\nEPRT |2|zz|1|\r\nEPRT\r\n"
	 "LPRT 4,4,192,0,2,1,2,0,1\r\nLPRT 6,16,1,2\r\n", HI, "", false, {0}, {0}},
	{"lpsv: pasv, and its 227 becomes a 228",
	 {{S, HI}, {C, "LPSV\r\n"}, {S, "227 Entering Passive Mode (198,51,100,10,19,137)\r\n"}},
	 "PASV\r\n",
	 HI "228 Entering Long Passive Mode (6,16,253,100,116,114,0,0,0,0,0,0,0,0,198,51,100,10,2,19,137)\r\n",
	 "", false, {[FTP_ALG_RW_LPSV] = 1, [FTP_ALG_RW_PASV_REPLY] = 1}, {0}},
	{"pasv and port from the client pass unchanged",
	 {{S, HI}, {C, "PASV\r\n"}, {S, "227 Entering Passive Mode (198,51,100,10,19,137)\r\n"},
	  {C, "PORT 192,0,2,1,4,1\r\n"}, {S, "200 ok\r\n"}},
	 "PASV\r\nPORT 192,0,2,1,4,1\r\n",
	 HI "227 Entering Passive Mode (198,51,100,10,19,137)\r\n200 ok\r\n", "", false, {0}, {0}},
	{"telnet IAC sequences pass, and do not hide the verb",
	 {{S, HI}, {C, "\xff\xf4\xff\xf2" "ABOR\r\n"}, {S, "226 aborted\r\n"},
	  {C, "\xff\xfb\x01\xff\xff" "EPSV\r\n"}, {S, "500 no\r\n"}, {C, "\xff\xf4" "EPSV\r\n"},
	  {S, "522 no\r\n"}, {S, "227 (198,51,100,10,0,80)\r\n"}},
	 "\xff\xf4\xff\xf2" "ABOR\r\n\xff\xfb\x01\xff\xff" "EPSV\r\n\xff\xf4" "EPSV\r\nPASV\r\n",
	 HI "226 aborted\r\n500 no\r\n229 Entering Extended Passive Mode (|||80|)\r\n", "", false,
	 {[FTP_ALG_RW_EPSV] = 1, [FTP_ALG_RW_PASV_REPLY] = 1}, {0}},
	{"preliminary replies do not end a command",
	 {{S, "120 soon\r\n" HI}, {C, "LIST\r\n"}, {S, "150 here\r\n"}, {C, "EPSV\r\n"},
	  {S, "226 done\r\n522 no\r\n227 (198,51,100,10,0,81)\r\n"}},
	 "LIST\r\nEPSV\r\nPASV\r\n",
	 "120 soon\r\n" HI "150 here\r\n226 done\r\n229 Entering Extended Passive Mode (|||81|)\r\n",
	 "", false, {[FTP_ALG_RW_EPSV] = 1, [FTP_ALG_RW_PASV_REPLY] = 1}, {0}},
	{"overlong lines pass and the ALG keeps track",
	 {{S, "220-" LONG600 "\r\n220 hi\r\n"}, {C, "RETR " LONG600 "\r\n"}, {S, "550 " LONG600 "\r\n"},
	  {C, "EPSV\r\n"}, {S, "522 no\r\n227 (198,51,100,10,0,82)\r\n"}},
	 "RETR " LONG600 "\r\nEPSV\r\nPASV\r\n",
	 "220-" LONG600 "\r\n220 hi\r\n550 " LONG600 "\r\n229 Entering Extended Passive Mode (|||82|)\r\n",
	 "", false, {[FTP_ALG_RW_EPSV] = 1, [FTP_ALG_RW_PASV_REPLY] = 1},
	 {[FTP_ALG_AN_OVERLONG] = 3}},
	{"an overlong swallowed reply is dropped whole",
	 {{S, HI}, {C, "EPSV\r\n"}, {S, "522 " LONG600 "\r\n"}, {S, "227 (198,51,100,10,0,83)\r\n"}},
	 "EPSV\r\nPASV\r\n", HI "229 Entering Extended Passive Mode (|||83|)\r\n", "", false,
	 {[FTP_ALG_RW_EPSV] = 1, [FTP_ALG_RW_PASV_REPLY] = 1}, {[FTP_ALG_AN_OVERLONG] = 1}},
	{"garbage from the server passes",
	 {{S, "hello\r\n\x01\x02\r\n99 x\r\n6000 x\r\n" HI}, {C, "\x00\x01junk\r\n"}},
	 "\x00\x01junk\r\n", "hello\r\n\x01\x02\r\n99 x\r\n6000 x\r\n" HI, "", false, {0},
	 {[FTP_ALG_AN_GARBAGE] = 4}},
	{"auth tls accepted: transparent",
	 {{S, HI}, {C, "AUTH TLS\r\n"}, {S, "234 go\r\n"}, {C, "EPSV\r\n\x16\x03\x01"},
	  {S, "522 no\r\n\x16\x03\x03"}},
	 "AUTH TLS\r\nEPSV\r\n\x16\x03\x01", HI "234 go\r\n522 no\r\n\x16\x03\x03", "", false, {0},
	 {[FTP_ALG_AN_TLS] = 1}},
	{"auth refused: still interpreting",
	 {{S, HI}, {C, "AUTH TLS\r\n"}, {S, "530 no\r\n"}, {C, "LPSV\r\n"},
	  {S, "227 (198,51,100,10,1,1)\r\n"}},
	 "AUTH TLS\r\nPASV\r\n",
	 HI "530 no\r\n228 Entering Long Passive Mode (6,16,253,100,116,114,0,0,0,0,0,0,0,0,198,51,100,10,2,1,1)\r\n",
	 "", false, {[FTP_ALG_RW_LPSV] = 1, [FTP_ALG_RW_PASV_REPLY] = 1}, {0}},
};
/* clang-format on */

static size_t steps_of(const struct fa_case *c)
{
	size_t n = 0;

	while (n < MAX_STEPS && c->steps[n].dir)
		n++;
	return n;
}

/* Steps hold NULs only in the garbage case: its lengths are written out. */
static size_t step_len(const struct fa_case *c, size_t i)
{
	if (!strcmp(c->name, "garbage from the server passes") && i == 1)
		return 8;
	return strlen(c->steps[i].bytes);
}

static size_t expect_len(const struct fa_case *c, const char *s)
{
	if (!strcmp(c->name, "garbage from the server passes") && s == c->to_server)
		return 8;
	return strlen(s);
}

static void run_case(const struct fa_case *c, size_t cap, size_t first, size_t rest)
{
	struct ftp_alg_env env;
	struct fa_run *r = test_malloc(sizeof(*r));
	char what[160];

	snprintf(what, sizeof(what), "%s (cap %zu, first %zu, rest %zu)", c->name, cap, first,
	         rest);
	fa_env_lab(&env);
	assert_int_equal(fa_run_init(r, &env, cap, first, rest, c->fail_listen, 65536), 0);
	for (size_t i = 0; i < steps_of(c); i++)
		fa_run_step(r, c->steps[i].dir[0] == 'c' ? FA_CLIENT : FA_SERVER, c->steps[i].bytes,
		            step_len(c, i));
	if (r->broken)
		fail_msg("%s: the pump broke", what);
	if (r->out_n[FA_CLIENT] != expect_len(c, c->to_server) ||
	    memcmp(r->out[FA_CLIENT], c->to_server, r->out_n[FA_CLIENT]))
		fail_msg("%s: the server got [%.*s]", what, (int)r->out_n[FA_CLIENT],
		         (const char *)r->out[FA_CLIENT]);
	if (r->out_n[FA_SERVER] != expect_len(c, c->to_client) ||
	    memcmp(r->out[FA_SERVER], c->to_client, r->out_n[FA_SERVER]))
		fail_msg("%s: the client got [%.*s]", what, (int)r->out_n[FA_SERVER],
		         (const char *)r->out[FA_SERVER]);
	if (strcmp(r->log, c->events))
		fail_msg("%s: events [%s]", what, r->log);
	for (int k = 0; k < FTP_ALG_RW_COUNT; k++)
		if (r->a.rewrites[k] != (uint64_t)c->rw[k])
			fail_msg("%s: rewrites %s = %llu", what, ftp_alg_rw_name(k),
			         (unsigned long long)r->a.rewrites[k]);
	for (int k = 0; k < FTP_ALG_AN_COUNT; k++)
		if (r->a.anomalies[k] != (uint64_t)c->an[k])
			fail_msg("%s: anomalies %s = %llu", what, ftp_alg_anom_name(k),
			         (unsigned long long)r->a.anomalies[k]);
	/* Every input byte was taken: nothing waits at the end of a script. */
	assert_int_equal(r->in_off[FA_CLIENT], r->in_n[FA_CLIENT]);
	assert_int_equal(r->in_off[FA_SERVER], r->in_n[FA_SERVER]);
	fa_run_free(r);
	test_free(r);
}

static size_t longest_step(const struct fa_case *c)
{
	size_t m = 0;

	for (size_t i = 0; i < steps_of(c); i++)
		if (step_len(c, i) > m)
			m = step_len(c, i);
	return m;
}

static void test_whole_and_pieces(void **state)
{
	static const size_t sizes[] = {0, 1, 2, 3, 7};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			run_case(&cases[i], sizeof(((struct fa_run *)0)->sb), 0, sizes[s]);
			run_case(&cases[i], FTP_ALG_STEP_MAX, 0, sizes[s]);
		}
}

/* Each step cut in two at every point. */
static void test_every_split(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (size_t k = 1; k < longest_step(&cases[i]); k++)
			run_case(&cases[i], FTP_ALG_STEP_MAX, k, 0);
}

/* More commands in flight than the ALG follows: it steps aside. */
static void test_overflow(void **state)
{
	struct ftp_alg_env env;
	struct fa_run *r = test_malloc(sizeof(*r));
	char cmds[64 * 6 + 1] = "";

	(void)state;
	for (int i = 0; i < 40; i++)
		strcat(cmds, "NOOP\r\n");
	strcat(cmds, "EPSV\r\n");
	fa_env_lab(&env);
	assert_int_equal(fa_run_init(r, &env, FTP_ALG_STEP_MAX, 0, 1, false, 65536), 0);
	fa_run_step(r, FA_CLIENT, cmds, strlen(cmds));
	fa_run_step(r, FA_SERVER, "522 no\r\n", 8);
	assert_false(r->broken);
	assert_int_equal(r->a.state, FTP_ALG_TRANSPARENT);
	assert_int_equal(r->a.anomalies[FTP_ALG_AN_OVERFLOW], 1);
	assert_int_equal(r->out_n[FA_CLIENT], strlen(cmds));
	assert_memory_equal(r->out[FA_CLIENT], cmds, strlen(cmds));
	assert_int_equal(r->out_n[FA_SERVER], 8);
	fa_run_free(r);
	test_free(r);
}

/* The contract around events and buffers, called directly. */
static void test_api(void **state)
{
	struct ftp_alg a;
	struct ftp_alg_env env;
	uint8_t sb[FTP_ALG_STEP_MAX], cb[FTP_ALG_STEP_MAX];
	struct ftp_alg_buf s = {sb, sizeof(sb), 0}, c = {cb, sizeof(cb), 0};
	static const char in[] = "EPRT |2|2001:db8:12:1::2|9|\r\nPWD\r\n";
	size_t n;

	(void)state;
	fa_env_lab(&env);
	ftp_alg_init(&a, &env);
	assert_int_equal(ftp_alg_active_ready(&a, 1, &s), -EINVAL);
	assert_int_equal(ftp_alg_active_failed(&a, &s), -EINVAL);
	/* The call stops right after the EPRT's LF, with its event. */
	n = ftp_alg_from_client(&a, (const uint8_t *)in, strlen(in), &s, &c);
	assert_int_equal(n, strlen("EPRT |2|2001:db8:12:1::2|9|\r\n"));
	assert_int_equal(ftp_alg_event(&a)->kind, FTP_ALG_EV_ACTIVE_OPEN);
	assert_int_equal(ftp_alg_event(&a)->addr.port, 9);
	assert_true(ftp_alg_client_blocked(&a));
	assert_int_equal(ftp_alg_from_client(&a, (const uint8_t *)in + n, 5, &s, &c), 0);
	assert_int_equal(ftp_alg_event(&a)->kind, FTP_ALG_EV_NONE);
	s.len = s.cap - 10;
	assert_int_equal(ftp_alg_active_ready(&a, 1, &s), -ENOSPC);
	s.len = 0;
	assert_int_equal(ftp_alg_active_ready(&a, 258, &s), 0);
	assert_int_equal(s.len, strlen("PORT 198,51,100,1,1,2\r\n"));
	assert_memory_equal(sb, "PORT 198,51,100,1,1,2\r\n", s.len);
	assert_false(ftp_alg_client_blocked(&a));
	/* A full buffer: nothing is taken. */
	s.len = s.cap - FTP_ALG_STEP_MAX + 1;
	assert_int_equal(ftp_alg_from_server(&a, (const uint8_t *)"200 ok\r\n", 8, &s, &c), 0);
	assert_string_equal(ftp_alg_state_name(a.state), "run");
	assert_string_equal(ftp_alg_rw_name(FTP_ALG_RW_PASV_REPLY), "pasv_reply");
	assert_string_equal(ftp_alg_anom_name(FTP_ALG_AN_OVERLONG), "overlong");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_whole_and_pieces),
	        cmocka_unit_test(test_every_split),
	        cmocka_unit_test(test_overflow),
	        cmocka_unit_test(test_api),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
