/*
 * client/tc_stun.c and tc_conf*.c: the Allocate and Refresh the client
 * sends (read back with proto/stun.c's parser), the answers it accepts,
 * and its settings from the command line and YAML.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/tc_conf.h"
#include "client/tc_stun.h"

static const uint8_t tid[STUN_TID_LEN] = "twist-client";

static void cred(struct tc_cred *c)
{
	memset(c, 0, sizeof(*c));
	c->user = "alice";
	c->pass = "secret";
}

static void test_allocate(void **state)
{
	struct tc_alloc_req r = {.type = TWIST_TYPE_CONNECT,
	                         .transport = STUN_PROTO_TCP,
	                         .family = TW_AF_INET,
	                         .keepalive = TWIST_KA_NATT};
	struct tc_cred c;
	struct stun_msg m;
	struct tw_addr peer;
	uint8_t buf[512], type, tr;
	struct twist_encap e;
	int n;

	(void)state;
	cred(&c);
	assert_int_equal(tw_addr_parse("198.51.100.2:8080", 0, &r.peer), 0);
	n = tc_stun_allocate(buf, sizeof(buf), tid, &r, &c);
	assert_true(n > 0);
	assert_int_equal(stun_msg_parse(&m, buf, (size_t)n), 0);
	assert_int_equal(m.method, STUN_ALLOCATE);
	assert_int_equal(twist_attr_type(&m, stun_msg_find(&m, TWIST_A_REQUESTED_TYPE), &type), 0);
	assert_int_equal(type, TWIST_TYPE_CONNECT);
	assert_int_equal(
	        stun_attr_transport(&m, stun_msg_find(&m, STUN_A_REQUESTED_TRANSPORT), &tr), 0);
	assert_int_equal(tr, STUN_PROTO_TCP);
	assert_int_equal(stun_attr_xaddr(&m, stun_msg_find(&m, STUN_A_XOR_PEER_ADDRESS), &peer), 0);
	assert_true(tw_addr_eq(&peer, &r.peer));
	assert_int_equal(twist_attr_encap(&m, stun_msg_find(&m, TWIST_A_ENCAP_TYPE), &e), 0);
	assert_int_equal(e.mode, TWIST_ENCAP_TRANSPORT);
	assert_null(stun_msg_find(&m, STUN_A_MESSAGE_INTEGRITY)); /* no realm yet */
	assert_true(stun_msg_fingerprint_ok(&m));

	/* after a 401: authenticated, and a listen with its cookie */
	assert_int_equal(tc_cred_set(&c, "example.org", "nonce-1"), 0);
	r.type = TWIST_TYPE_LISTEN;
	memset(&r.peer, 0, sizeof(r.peer));
	r.has_cookie = true;
	memcpy(r.cookie, "cookie!!", TWIST_COOKIE_LEN);
	n = tc_stun_allocate(buf, sizeof(buf), tid, &r, &c);
	assert_true(n > 0);
	assert_int_equal(stun_msg_parse(&m, buf, (size_t)n), 0);
	assert_non_null(stun_msg_find(&m, TWIST_A_COOKIE));
	assert_null(stun_msg_find(&m, STUN_A_XOR_PEER_ADDRESS));
	assert_true(stun_msg_integrity_ok(&m, c.key, sizeof(c.key)));
	assert_int_equal(tc_stun_allocate(buf, 40, tid, &r, &c), -ENOSPC);
}

/* What a server answers, written with proto/stun.c. */
static size_t answer(uint8_t *buf, uint8_t cls, int code, const struct tc_cred *c)
{
	struct stun_wr w;
	struct tw_addr relayed;

	stun_wr_init(&w, buf, 512, STUN_ALLOCATE, cls, tid);
	if (cls == STUN_ERROR) {
		stun_wr_error(&w, STUN_A_ERROR_CODE, code, NULL);
		stun_wr_attr(&w, STUN_A_REALM, "example.org", 11);
		stun_wr_attr(&w, STUN_A_NONCE, "nonce-2", 7);
	} else {
		tw_addr_parse("203.0.113.200:50123", 0, &relayed);
		stun_wr_xaddr(&w, STUN_A_XOR_RELAYED_ADDRESS, &relayed);
		stun_wr_u32(&w, STUN_A_LIFETIME, 600);
	}
	if (c)
		stun_wr_integrity(&w, c->key, sizeof(c->key));
	return (size_t)stun_wr_finish(&w);
}

static void test_read(void **state)
{
	struct tc_cred c;
	struct tc_resp r;
	uint8_t buf[512];
	uint8_t other[STUN_TID_LEN] = "another-one!";
	size_t n;

	(void)state;
	cred(&c);
	n = answer(buf, STUN_ERROR, 401, NULL);
	assert_int_equal(tc_stun_read(buf, n, tid, NULL, &r), 0);
	assert_int_equal(r.code, 401);
	assert_true(r.has_realm_nonce);
	assert_string_equal(r.realm, "example.org");
	assert_string_equal(r.nonce, "nonce-2");
	assert_int_equal(tc_stun_read(buf, n, other, NULL, &r), -ESRCH);
	assert_int_equal(tc_stun_read(buf, 10, tid, NULL, &r), -EBADMSG);

	assert_int_equal(tc_cred_set(&c, "example.org", "nonce-2"), 0);
	n = answer(buf, STUN_SUCCESS, 0, &c);
	assert_int_equal(tc_stun_read(buf, n, tid, &c, &r), 0);
	assert_true(r.has_relayed);
	assert_int_equal(r.relayed.port, 50123);
	assert_int_equal(r.lifetime, 600);
	/* a success without integrity, or with a wrong one, is not ours */
	n = answer(buf, STUN_SUCCESS, 0, NULL);
	assert_int_equal(tc_stun_read(buf, n, tid, &c, &r), -EACCES);
	n = answer(buf, STUN_SUCCESS, 0, &c);
	buf[30] ^= 1;
	assert_int_equal(tc_stun_read(buf, n, tid, &c, &r), -EACCES);
	/* a realm too long for us */
	{
		char big[TC_REALM_MAX + 2];

		memset(big, 'r', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(tc_cred_set(&c, big, "n"), -EINVAL);
	}
}

static void test_conf(void **state)
{
	struct tc_conf c;
	char err[256];

	(void)state;
	tc_conf_defaults(&c);
	assert_int_equal(c.mtu, 1400);
	assert_string_equal(c.tun, "twc0");
	assert_int_equal(tc_conf_check(&c, err, sizeof(err)), -EINVAL);
	assert_int_equal(tc_conf_set(&c, "server", "203.0.113.10", err, sizeof(err)), 0);
	assert_int_equal(tc_conf_set(&c, "user", "alice", err, sizeof(err)), 0);
	assert_int_equal(tc_conf_set(&c, "password", "secret", err, sizeof(err)), 0);
	assert_int_equal(tc_conf_check(&c, err, sizeof(err)), -EINVAL); /* nothing to do */
	assert_int_equal(tc_conf_set(&c, "route", "198.51.100.0/28", err, sizeof(err)), 0);
	assert_int_equal(tc_conf_set(&c, "route", "198.51.100.1/28", err, sizeof(err)), -EINVAL);
	assert_int_equal(tc_conf_set(&c, "listen", "tcp:8000", err, sizeof(err)), 0);
	assert_int_equal(tc_conf_set(&c, "listen", "udp:70000", err, sizeof(err)), -EINVAL);
	assert_int_equal(tc_conf_set(&c, "listen", "sctp:80", err, sizeof(err)), -EINVAL);
	assert_int_equal(tc_conf_set(&c, "nat64", "64:ff9b::/96", err, sizeof(err)), 0);
	assert_int_equal(tc_conf_set(&c, "nat64", "64:ff9b::/64", err, sizeof(err)), -EINVAL);
	assert_int_equal(tc_conf_set(&c, "map", "192.0.2.66=2001:db8:3::2", err, sizeof(err)), 0);
	assert_int_equal(tc_conf_set(&c, "map", "2001:db8::1=192.0.2.1", err, sizeof(err)),
	                 -EINVAL);
	assert_int_equal(tc_conf_set(&c, "map", "192.0.2.66", err, sizeof(err)), -EINVAL);
	assert_int_equal(tc_conf_set(&c, "mtu", "9000", err, sizeof(err)), -EINVAL);
	assert_int_equal(c.mtu, 1400);
	assert_int_equal(tc_conf_set(&c, "tun-addr4", "none", err, sizeof(err)), 0);
	assert_int_equal(tc_conf_check(&c, err, sizeof(err)), -EINVAL); /* listen needs it */
	assert_int_equal(tc_conf_set(&c, "tun-addr4", "192.0.2.9", err, sizeof(err)), 0);
	assert_int_equal(tc_conf_check(&c, err, sizeof(err)), 0);
	assert_int_equal(tc_conf_set(&c, "bogus", "1", err, sizeof(err)), -EINVAL);
	assert_int_equal(c.nroutes, 1);
	assert_int_equal(c.nlisten, 1);
	assert_int_equal(c.xlate.nmap, 1);
	/* --server again: the servers to fall back to, in order, 8 at most */
	for (int i = 1; i < TC_MAX_SERVERS; i++)
		assert_int_equal(tc_conf_set(&c, "server", "203.0.113.11", err, sizeof(err)), 0);
	assert_int_equal(tc_conf_set(&c, "server", "203.0.113.12", err, sizeof(err)), -EINVAL);
	assert_int_equal(c.nservers, TC_MAX_SERVERS);
	assert_string_equal(c.servers[0], "203.0.113.10");
	assert_string_equal(c.servers[1], "203.0.113.11");
}

static const char *write_tmp(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_tc_conf.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_yaml(void **state)
{
	struct tc_conf c;
	char err[256];
	const char *p;

	(void)state;
	tc_conf_defaults(&c);
	p = write_tmp("server: 203.0.113.10:3478\nuser: alice\npassword: secret\n"
	              "route:\n  - 198.51.100.0/28\n  - 2001:db8:3::/64\n"
	              "listen: [tcp:8000, udp:7000]\ntun_addr4: 192.0.2.2\nmtu: 1380\n");
	assert_int_equal(tc_conf_yaml(&c, p, err, sizeof(err)), 0);
	unlink(p);
	assert_int_equal(c.nservers, 1);
	assert_int_equal(c.nroutes, 2);
	assert_int_equal(c.nlisten, 2);
	assert_int_equal(c.mtu, 1380);
	assert_int_equal(tc_conf_check(&c, err, sizeof(err)), 0);

	tc_conf_defaults(&c);
	p = write_tmp("server: [\"203.0.113.10\", \"[2001:db8::1]:3479\"]\n");
	assert_int_equal(tc_conf_yaml(&c, p, err, sizeof(err)), 0);
	unlink(p);
	assert_int_equal(c.nservers, 2);
	assert_string_equal(c.servers[1], "[2001:db8::1]:3479");

	tc_conf_defaults(&c);
	p = write_tmp("server: a\nroute:\n  - 198.51.100.1/28\n");
	assert_int_equal(tc_conf_yaml(&c, p, err, sizeof(err)), -EINVAL);
	unlink(p);
	assert_non_null(strstr(err, ":3:"));
	p = write_tmp("route: {a: b}\n");
	assert_int_equal(tc_conf_yaml(&c, p, err, sizeof(err)), -EINVAL);
	unlink(p);
	p = write_tmp("- just\n- a list\n");
	assert_int_equal(tc_conf_yaml(&c, p, err, sizeof(err)), -EINVAL);
	unlink(p);
	p = write_tmp("server: [unclosed\n");
	assert_int_equal(tc_conf_yaml(&c, p, err, sizeof(err)), -EINVAL);
	unlink(p);
	assert_int_equal(tc_conf_yaml(&c, "/nonexistent/tc.yaml", err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_allocate),
	        cmocka_unit_test(test_read),
	        cmocka_unit_test(test_conf),
	        cmocka_unit_test(test_yaml),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
