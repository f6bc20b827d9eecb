/*
 * relay/config*.c: the embedded default, the shipped example and the
 * documentation's examples load and validate; every class of bad input is
 * refused with a message at the right line:column.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/config.h"

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* Enough to make a document valid, so that one key at a time can be wrong. */
#define L "listen: [{address: 127.0.0.1}]\n"
#define R "relay: {addresses: [127.0.0.1]}\n"
#define U "auth: {users: [{name: a, password: b}]}\n"

static void addr_expect(const struct tw_addr *a, const char *want)
{
	char buf[TW_ADDR_STRLEN];

	assert_string_equal(tw_addr_fmt(a, buf, sizeof(buf)), want);
}

static void load_ok(const char *yaml, struct config *cfg)
{
	char err[512];

	if (config_load_string(yaml, strlen(yaml), "t.yaml", cfg, err, sizeof(err)) != 0)
		fail_msg("load failed: %s\n--- input:\n%s", err, yaml);
	if (config_validate(cfg, err, sizeof(err)) != 0)
		fail_msg("validate failed: %s\n--- input:\n%s", err, yaml);
}

static char *file_read(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	buf = malloc(CFG_MAX_DOC + 1);
	assert_non_null(buf);
	n = fread(buf, 1, CFG_MAX_DOC, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_default(void **state)
{
	struct config cfg;
	char err[512];

	(void)state;
	assert_int_equal(config_load_string(config_default_yaml, strlen(config_default_yaml),
	                                    "<embedded>", &cfg, err, sizeof(err)),
	                 0);
	assert_int_equal(config_validate(&cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.source, "<embedded>");
	/* udp+tcp on 3478, tls+dtls on 5349 (both families), ws 8080, wss 8443. */
	assert_int_equal(cfg.n_listen, 6);
	addr_expect(&cfg.listen[0].addr, "127.0.0.1:3478");
	addr_expect(&cfg.listen[1].addr, "[::1]:3478");
	for (unsigned i = 0; i < 2; i++) {
		assert_true(cfg.listen[i].udp);
		assert_true(cfg.listen[i].tcp);
	}
	addr_expect(&cfg.listen[2].addr, "127.0.0.1:5349");
	addr_expect(&cfg.listen[3].addr, "[::1]:5349");
	for (unsigned i = 2; i < 4; i++) {
		assert_true(cfg.listen[i].tls);
		assert_true(cfg.listen[i].dtls);
		assert_false(cfg.listen[i].udp || cfg.listen[i].tcp);
	}
	addr_expect(&cfg.listen[4].addr, "127.0.0.1:8080");
	assert_true(cfg.listen[4].ws && !cfg.listen[4].tcp);
	addr_expect(&cfg.listen[5].addr, "127.0.0.1:8443");
	assert_true(cfg.listen[5].wss && !cfg.listen[5].tls);
	/* No tls: section: the throwaway self-signed certificate. */
	assert_string_equal(cfg.tls_cert, "");
	assert_int_equal(cfg.n_relay, 2);
	addr_expect(&cfg.relay[0], "127.0.0.1:0");
	addr_expect(&cfg.relay[1], "[::1]:0");
	assert_int_equal(cfg.port_min, 49152);
	assert_int_equal(cfg.port_max, 65535);
	assert_int_equal(cfg.workers, 0);
	assert_string_equal(cfg.realm, "twist.local");
	assert_int_equal(cfg.n_users, 1);
	assert_string_equal(cfg.users[0].name, "demo");
	assert_string_equal(cfg.users[0].password, "demo");
	assert_string_equal(cfg.rest_secret, "");
	assert_string_equal(cfg.nonce_secret, "");
	assert_int_equal(cfg.nonce_lifetime, 600);
	assert_true(cfg.sha256);
	assert_int_equal(cfg.unauth_rate, 20);
	assert_int_equal(cfg.unauth_burst, 40);
	assert_true(cfg.allow_loopback);
	assert_true(cfg.allow_self);
	assert_int_equal(cfg.n_allow, 0);
	assert_int_equal(cfg.n_deny, 0);
	assert_int_equal(cfg.max_allocations, 100000);
	assert_int_equal(cfg.user_quota, 0);
	assert_int_equal(cfg.bandwidth, 0);
	assert_int_equal(cfg.default_lifetime, 600);
	assert_int_equal(cfg.max_lifetime, 3600);
	assert_int_equal(cfg.tcp_connections, 10000);
	assert_int_equal(cfg.tcp_per_source, 64);
	assert_int_equal(cfg.tcp_unauth_per_source, 8);
	assert_int_equal(cfg.tcp_frame_deadline_ms, 10000);
	assert_int_equal(cfg.tcp_request_deadline_ms, 10000);
	assert_int_equal(cfg.tcp_auth_deadline_ms, 30000);
	assert_true(cfg.metrics_enabled);
	addr_expect(&cfg.metrics, "127.0.0.1:9641");
	assert_int_equal(cfg.log_level, LOG_LVL_INFO);
	assert_false(cfg.log_syslog);
	assert_string_equal(cfg.software, "twist");
	config_clear(&cfg);
}

static void test_example(void **state)
{
	struct config cfg;
	char err[512];

	(void)state;
	if (config_load_file(TWIST_SOURCE_DIR "/deploy/twist-relay.example.yaml", &cfg, err,
	                     sizeof(err)) != 0)
		fail_msg("%s", err);
	if (config_validate(&cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_true(cfg.n_listen >= 2);
	assert_int_equal(cfg.n_relay, 2);
	/* As installed: users come from the database, and no known secret is set. */
	assert_true(cfg.database[0] != '\0');
	assert_int_equal(cfg.n_users, 0);
	assert_true(cfg.rest_secret[0] == '\0');
	assert_true(cfg.nonce_secret[0] == '\0');
	assert_false(cfg.allow_loopback);
	assert_false(cfg.allow_self);
	assert_true(cfg.n_allow > 0);
	assert_true(cfg.n_deny > 0);
	config_clear(&cfg);
}

/*
 * Every ```yaml block in docs/configuration.md must load; a block whose
 * first line is "# complete" must validate too. Docs that drift fail here.
 */
static void test_docs(void **state)
{
	char *doc = file_read(TWIST_SOURCE_DIR "/docs/configuration.md"), *p = doc, *end;
	unsigned blocks = 0, complete = 0;
	struct config cfg;
	char err[512];

	(void)state;
	while ((p = strstr(p, "\n```yaml\n")) != NULL) {
		p += strlen("\n```yaml\n");
		if ((end = strstr(p, "\n```\n")) == NULL)
			fail_msg("unterminated yaml block");
		end[1] = '\0';
		if (config_load_string(p, strlen(p), "configuration.md", &cfg, err, sizeof(err)))
			fail_msg("block %u: %s\n%s", blocks, err, p);
		if (strncmp(p, "# complete", 10) == 0) {
			if (config_validate(&cfg, err, sizeof(err)) != 0)
				fail_msg("block %u: %s", blocks, err);
			complete++;
		}
		config_clear(&cfg);
		blocks++;
		p = end + 1;
		*p = '`';
	}
	assert_true(blocks >= 5);
	assert_true(complete >= 1);
	free(doc);
}

static void test_values(void **state)
{
	static const char yaml[] = "listen:\n"
	                           "  - port: 5349\n"
	                           "    address: 192.0.2.1\n"
	                           "    transports: [tcp]\n"
	                           "  - address: 2001:db8::1\n"
	                           "    transports:\n"
	                           "      - udp\n"
	                           "relay:\n"
	                           "  addresses: [\"2001:db8::2\", 192.0.2.2]\n"
	                           "  port_min: 1024\n"
	                           "  port_max: 1024\n"
	                           "workers: 8\n"
	                           "auth:\n"
	                           "  realm: example.org\n"
	                           "  users: []\n"
	                           "  rest_secret: 'a rest secret long enough'\n"
	                           "  nonce_secret: \"0123456789abcdef\"\n"
	                           "  nonce_lifetime: 30\n"
	                           "  sha256: no\n"
	                           "  unauth_rate: 1\n"
	                           "  unauth_burst: 1000000\n"
	                           "peers:\n"
	                           "  allow_loopback: False\n"
	                           "  allow: [198.51.100.0/24, 2001:db8:1::/48, 203.0.113.7]\n"
	                           "  deny: [0.0.0.0/0]\n"
	                           "limits:\n"
	                           "  max_allocations: 0\n"
	                           "  user_quota: 4294967295\n"
	                           "  bandwidth: 18446744073709551615\n"
	                           "  default_lifetime: 60\n"
	                           "  max_lifetime: 86400\n"
	                           "metrics:\n"
	                           "  enabled: yes\n"
	                           "  listen: \"[::1]\"\n"
	                           "log:\n"
	                           "  level: debug\n"
	                           "  syslog: true\n"
	                           "software: \"\"\n";
	struct config cfg;

	(void)state;
	load_ok(yaml, &cfg);
	assert_int_equal(cfg.n_listen, 2);
	addr_expect(&cfg.listen[0].addr, "192.0.2.1:5349");
	assert_false(cfg.listen[0].udp);
	assert_true(cfg.listen[0].tcp);
	addr_expect(&cfg.listen[1].addr, "[2001:db8::1]:3478");
	assert_true(cfg.listen[1].udp);
	assert_false(cfg.listen[1].tcp);
	assert_int_equal(cfg.n_relay, 2);
	addr_expect(&cfg.relay[0], "[2001:db8::2]:0");
	assert_int_equal(cfg.port_min, 1024);
	assert_int_equal(cfg.port_max, 1024);
	assert_int_equal(cfg.workers, 8);
	assert_string_equal(cfg.realm, "example.org");
	assert_int_equal(cfg.n_users, 0);
	assert_string_equal(cfg.rest_secret, "a rest secret long enough");
	assert_string_equal(cfg.nonce_secret, "0123456789abcdef");
	assert_int_equal(cfg.nonce_lifetime, 30);
	assert_false(cfg.sha256);
	assert_int_equal(cfg.unauth_rate, 1);
	assert_int_equal(cfg.unauth_burst, 1000000);
	assert_false(cfg.allow_loopback);
	assert_int_equal(cfg.n_allow, 3);
	assert_int_equal(cfg.allow[0].prefix, 24);
	assert_int_equal(cfg.allow[1].prefix, 48);
	assert_int_equal(cfg.allow[2].prefix, 32);
	assert_int_equal(cfg.n_deny, 1);
	assert_int_equal(cfg.deny[0].prefix, 0);
	assert_int_equal(cfg.max_allocations, 0);
	assert_int_equal(cfg.user_quota, 4294967295u);
	assert_true(cfg.bandwidth == UINT64_MAX);
	assert_int_equal(cfg.default_lifetime, 60);
	assert_int_equal(cfg.max_lifetime, 86400);
	assert_true(cfg.metrics_enabled);
	addr_expect(&cfg.metrics, "[::1]:9641");
	assert_int_equal(cfg.log_level, LOG_LVL_DEBUG);
	assert_true(cfg.log_syslog);
	assert_string_equal(cfg.software, "");
	config_clear(&cfg);
}

struct load_case {
	const char *yaml;
	size_t len; /* 0: strlen(yaml) */
	int line, col;
	const char *msg;
};

static const struct load_case load_cases[] = {
        /* unknown and duplicate keys */
        {"auth:\n  realm: x\n  foo: 1\n", 0, 3, 3, "unknown key 'foo' in 'auth'"},
        {L "bogus: 1\n", 0, 2, 1, "unknown top-level key 'bogus'"},
        {"listen:\n  - address: 127.0.0.1\n    prot: 1\n", 0, 3, 5,
         "unknown key 'prot' in 'listen'"},
        {"auth:\n  users:\n    - {name: a, pass: b}\n", 0, 3, 17,
         "unknown key 'pass' in 'auth.users'"},
        {"workers: 1\nworkers: 2\n", 0, 2, 1, "duplicate key 'workers'"},
        {"<<: {workers: 1}\n", 0, 1, 1, "unknown top-level key '<<'"},
        {"? [a]\n: 1\n", 0, 1, 3, "expected a key in 'the top level', got a list"},
        {"k\x01y: 1\n", 0, 1, 2, "control characters are not allowed"},
        {"\"k\\x01y\": 1\n", 0, 1, 1, "unknown top-level key 'k\\x01y'"},
        /* integers */
        {"workers: abc\n", 0, 1, 10,
         "expected a non-negative decimal integer for 'workers', got 'abc'"},
        {"workers: 12abc\n", 0, 1, 10, "got '12abc'"},
        {"workers: -1\n", 0, 1, 10, "got '-1'"},
        {"workers: +1\n", 0, 1, 10, "got '+1'"},
        {"workers: 012\n", 0, 1, 10, "got '012'"},
        {"workers: 0x10\n", 0, 1, 10, "got '0x10'"},
        {"workers: 1_000\n", 0, 1, 10, "got '1_000'"},
        {"workers: 1.5\n", 0, 1, 10, "got '1.5'"},
        {"workers: \"12\"\n", 0, 1, 10, "got quoted '12'"},
        {"workers: [1]\n", 0, 1, 10, "got a list"},
        {"workers:\n", 0, 1, 9, "got null"},
        {"workers: 4294967296\n", 0, 1, 10, "'workers' must be between 0 and 4294967295"},
        {"limits:\n  bandwidth: 18446744073709551616\n", 0, 2, 14,
         "'bandwidth' must be between 0 and 18446744073709551615"},
        {"limits:\n  bandwidth: 99999999999999999999999999\n", 0, 2, 14, "must be between"},
        {"relay:\n  port_min: 65536\n", 0, 2, 13, "'port_min' must be between 0 and 65535"},
        {"listen:\n  - address: 127.0.0.1\n    port: 0\n", 0, 3, 11,
         "'port' must be between 1 and 65535, got 0"},
        /* booleans */
        {"auth:\n  sha256: maybe\n", 0, 2, 11, "expected true or false for 'sha256'"},
        {"auth:\n  sha256: \"true\"\n", 0, 2, 11, "expected true or false"},
        {"auth:\n  sha256: on\n", 0, 2, 11, "expected true or false"},
        {"auth:\n  sha256: 1\n", 0, 2, 11, "expected true or false"},
        /* strings */
        {"auth:\n  realm:\n", 0, 2, 9, "got null (write \"\" for an empty string)"},
        {"auth:\n  realm: {a: b}\n", 0, 2, 10, "expected a string for 'realm', got a mapping"},
        {"auth:\n  realm: \"a\\0b\"\n", 0, 2, 10, "contains a NUL byte"},
        {"auth:\n  realm: "
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
         0, 2, 10, "value for 'realm' is too long (max 255 bytes)"},
        {"log:\n  level: verbose\n", 0, 2, 10, "unknown log level 'verbose'"},
        {"log:\n  level: infos\n", 0, 2, 10, "unknown log level 'infos'"},
        /* addresses */
        {"listen:\n  - address: 300.1.2.3\n", 0, 2, 14, "'300.1.2.3' is not an IP address"},
        {"cluster:\n  siblings: [{name: b, report: r, alternate: [192.0.2.1, 192.0.2.2]}]\n", 0, 2,
         58, "a second IPv4 alternate '192.0.2.2'"},
        {"cluster:\n  siblings: [{name: b, alternate: [192.0.2.1]}]\n", 0, 2, 14, "'report'"},
        {"cluster:\n  unicast: [192.0.2.1:1, 192.0.2.2:2]\n", 0, 2, 26,
         "a second IPv4 unicast '192.0.2.2:2'"},
        {"cluster:\n  anycast: [192.0.2.100:3478]\n", 0, 2, 13,
         "'192.0.2.100:3478' is not an IP address"},

        {"listen:\n  - address: 127.0.0.1:3478\n", 0, 2, 14, "is not an IP address"},
        {"listen:\n  - address: localhost\n", 0, 2, 14, "is not an IP address"},
        {"listen:\n  - port: 3478\n", 0, 2, 5, "missing key 'address' in 'listen'"},
        {L R "auth: {users: [{name: a}]}\n", 0, 3, 16, "missing key 'password' in 'auth.users'"},
        {"listen:\n  - 127.0.0.1\n", 0, 2, 5, "expected a mapping for 'listen', got '127.0.0.1'"},
        {"listen: {address: 127.0.0.1}\n", 0, 1, 9, "expected a list for 'listen', got a mapping"},
        {"listen:\n", 0, 1, 8, "got null (write [] for an empty list)"},
        {"listen:\n  - address: \"::1\"\n    transports: [udp, dtls2]\n", 0, 3, 23,
         "unknown transport 'dtls2' (expected udp, tcp, tls, ws, wss or dtls)"},
        {"tls:\n  certificate: a.pem\n", 0, 2, 3, "unknown key 'certificate' in 'tls'"},
        {"listen:\n  - address: \"::1\"\n    transports: [udp, udp]\n", 0, 3, 23,
         "duplicate transport 'udp'"},
        {"listen:\n  - address: \"::1\"\n    transports: []\n", 0, 3, 17, "'transports' is empty"},
        {"relay:\n  addresses: [127.0.0.1, ::1]\n", 0, 2, 26, "did not find expected node content"},
        {"relay:\n  addresses: [127.0.0.1, 10.0.0.0/8]\n", 0, 2, 26,
         "'10.0.0.0/8' is not an IP address"},
        {"metrics:\n  listen: 127.0.0.1:99999\n", 0, 2, 11, "'127.0.0.1:99999' is not an address"},
        {"metrics:\n  listen: \"[::1]:x\"\n", 0, 2, 11, "is not an address"},
        /* address ranges */
        {"peers:\n  allow: [10.0.0.1/8]\n", 0, 2, 11,
         "'10.0.0.1/8' has host bits set (did you mean 10.0.0.0/8?)"},
        {"peers:\n  deny:\n    - 2001:db8::1/32\n", 0, 3, 7,
         "has host bits set (did you mean 2001:db8::/32?)"},
        {"peers:\n  deny: [10.0.0.0/33]\n", 0, 2, 10, "'10.0.0.0/33' is not an address range"},
        {"peers:\n  deny: [10.0.0.0/]\n", 0, 2, 10, "is not an address range"},
        {"peers:\n  deny: [10.0.0.0/-1]\n", 0, 2, 10, "is not an address range"},
        {"peers:\n  deny: [10.0.0.0/8x]\n", 0, 2, 10, "is not an address range"},
        {"peers:\n  deny: [example.org/8]\n", 0, 2, 10, "is not an address range"},
        {"peers:\n  deny:\n", 0, 2, 8, "expected a list for 'deny', got null"},
        /* structure */
        {"auth: [1]\n", 0, 1, 7, "expected a mapping for 'auth', got a list"},
        {"auth:\n  realm: &r x\n  rest_secret: *r\n", 0, 3, 16, "aliases are not allowed"},
        {"listen: &l []\nrelay:\n  addresses: *l\n", 0, 3, 14, "aliases are not allowed"},
        {"a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n", 0, 1, 1, "unknown top-level key 'a'"},
        {"listen: [&a {address: 127.0.0.1}, *a]\n", 0, 1, 35, "aliases are not allowed"},
        {"workers: !!int 3\n", 0, 1, 10, "tags are not allowed"},
        {"auth: !!map {}\n", 0, 1, 7, "tags are not allowed"},
        {"", 0, 1, 1, "empty document"},
        {"# nothing but a comment\n", 0, 2, 1, "empty document"},
        {"---\n", 0, 2, 1, "empty document"},
        {"~\n", 0, 1, 1, "empty document"},
        {"- a\n- b\n", 0, 1, 1, "the top level must be a mapping, got a list"},
        {"hello\n", 0, 1, 1, "the top level must be a mapping, got 'hello'"},
        {"workers: 1\n---\nworkers: 2\n", 0, 2, 1, "only one document is allowed"},
        /* syntax, truncation, garbage */
        {"listen:\n  - address: \"127.0.0.1\n", 0, 3, 1,
         "found unexpected end of stream (while scanning a quoted scalar at 2:14)"},
        {"relay: {addresses: [127.0.0.1", 0, 2, 1, "(while parsing a flow sequence at 1:20)"},
        {"auth:\n  realm: x\n users: []\n", 0, 3, 2, "did not find expected key"},
        {"workers: 1\n\x80\x81\x82\n", 0, 2, 1, "invalid leading UTF-8 octet (0x80)"},
        {"workers: 1\n\xc3(\n", 0, 2, 2, "invalid trailing UTF-8 octet"},
        {"\x01\x02\x03", 0, 1, 1, "control characters are not allowed (0x01)"},
        {"workers: 1\nab\0cd\n", 17, 2, 3, "control characters are not allowed (0x00)"},
        {"\x7f"
         "ELF\x02\x01\x01",
         0, 1, 1, "control characters are not allowed (0x7f)"},
        {"\t- x\n", 0, 1, 1, "found character that cannot start any token"},
};

static void test_load_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < nitems(load_cases); i++) {
		const struct load_case *tc = &load_cases[i];
		size_t len = tc->len ? tc->len : strlen(tc->yaml);
		struct config cfg;
		char err[512], want[32];
		int rc;

		rc = config_load_string(tc->yaml, len, "t.yaml", &cfg, err, sizeof(err));
		snprintf(want, sizeof(want), "t.yaml:%d:%d: ", tc->line, tc->col);
		if (rc != -1 || strncmp(err, want, strlen(want)) != 0 ||
		    strstr(err, tc->msg) == NULL)
			fail_msg("case %zu: rc %d, got \"%s\", want \"%s...%s\"", i, rc, err, want,
			         tc->msg);
		/* A failed load leaves nothing to free, and clearing stays safe. */
		assert_null(cfg.users);
		config_clear(&cfg);
	}
}

struct check_case {
	const char *yaml;
	const char *msg;
};

static const struct check_case check_cases[] = {
        {R U, "t.yaml: no listeners"},
        {"listen: []\n" R U, "no listeners"},
        {L U, "no relay addresses"},
        {L "relay: {addresses: [192.0.2.1, 192.0.2.2]}\n" U, "at most one IPv4 address"},
        {L "relay: {addresses: [\"::1\", \"2001:db8::1\"]}\n" U, "at most one IPv6 address"},
        {L "relay: {addresses: [0.0.0.0]}\n" U, "relay.addresses[0]: 0.0.0.0 cannot be relayed to"},
        {L "relay: {addresses: [127.0.0.1, \"::\"]}\n" U, "relay.addresses[1]: :: cannot be"},
        {L "relay: {addresses: [224.0.0.1]}\n" U, "224.0.0.1 cannot be relayed to"},
        {L "relay: {addresses: [\"ff02::1\"]}\n" U, "ff02::1 cannot be relayed to"},
        {L "relay: {addresses: [127.0.0.1], port_min: 80}\n" U,
         "relay.port_min must be at least 1024, got 80"},
        {L "relay: {addresses: [127.0.0.1], port_min: 2000, port_max: 1999}\n" U,
         "relay.port_max (1999) is below relay.port_min (2000)"},
        {"listen: [{address: 224.0.0.1}]\n" R U, "listen[0]: 224.0.0.1 is not a unicast address"},
        {"listen: [{address: 127.0.0.1}, {address: 127.0.0.1, transports: [tcp]}]\n" R U,
         "listen[1]: 127.0.0.1:3478 is also listen[0]"},
        {"listen: [{address: 127.0.0.1, transports: [tcp, tls]}]\n" R U,
         "listen[0]: one port serves one of tcp, tls, ws, wss, or tcp with ws, or tls with wss"},
        {"listen: [{address: 127.0.0.1, transports: [tls, ws]}]\n" R U,
         "listen[0]: one port serves one of tcp, tls, ws, wss, or tcp with ws, or tls with wss"},
        {"listen: [{address: 127.0.0.1, transports: [tcp, wss]}]\n" R U,
         "listen[0]: one port serves one of tcp, tls, ws, wss, or tcp with ws, or tls with wss"},
        {"listen: [{address: 127.0.0.1, transports: [tcp, ws, tls, wss]}]\n" R U,
         "listen[0]: one port serves one of tcp, tls, ws, wss, or tcp with ws, or tls with wss"},
        {"listen: [{address: 127.0.0.1, transports: [wss]}, {address: 127.0.0.1, transports: "
         "[tcp, ws]}]\n" R U,
         "listen[1]: 127.0.0.1:3478 is also listen[0]"},
        {"listen: [{address: 127.0.0.1, transports: [tls]}, {address: 127.0.0.1, transports: "
         "[ws]}]\n" R U,
         "listen[1]: 127.0.0.1:3478 is also listen[0]"},
        {"listen: [{address: 127.0.0.1, transports: [tcp]}, {address: 127.0.0.1, transports: "
         "[tls]}]\n" R U,
         "listen[1]: 127.0.0.1:3478 is also listen[0]"},
        {"listen: [{address: 127.0.0.1, transports: [udp, dtls]}]\n" R U,
         "listen[0]: udp and dtls need different ports"},
        {"listen: [{address: 127.0.0.1, transports: [udp]}, {address: 127.0.0.1, transports: "
         "[dtls]}]\n" R U,
         "listen[1]: 127.0.0.1:3478 is also listen[0]"},
        {L R U "tls: {cert: a.pem}\n", "tls.cert and tls.key go together"},
        {L R U "tls: {key: a.key}\n", "tls.cert and tls.key go together"},
        {L R U "tls: {min_version: \"1.1\"}\n", "tls.min_version must be \"1.2\" or \"1.3\""},
        {L R "auth: {realm: x}\n", "no credentials configured"},
        {L R "auth: {users: []}\n", "no credentials configured"},
        {L R "auth: {users: [{name: \"\", password: b}]}\n", "auth.users[0]: empty name"},
        {L R "auth: {users: [{name: a, password: \"\"}]}\n", "auth.users[0] 'a': empty password"},
        /* Names are shown escaped: no raw control bytes in a message. */
        {L R "auth: {users: [{name: \"a\\nb\\\\\", password: \"\"}]}\n",
         "auth.users[0] 'a\\x0ab\\x5c': empty password"},
        {L R "auth: {users: [{name: \"\\e\", password: x}, {name: \"\\e\", password: y}]}\n",
         "auth.users: '\\x1b' appears twice"},
        {L R "auth: {users: [{name: b, password: x}, {name: a, password: y}, {name: b, "
             "password: z}]}\n",
         "auth.users: 'b' appears twice"},
        {L R "auth: {realm: \"\", users: [{name: a, password: b}]}\n", "auth.realm is empty"},
        {L R "auth: {rest_secret: short}\n", "auth.rest_secret is too short (5 bytes"},
        {L R "auth: {users: [{name: a, password: b}], nonce_secret: abc}\n",
         "auth.nonce_secret is too short"},
        {L R "auth: {users: [{name: a, password: b}], nonce_lifetime: 29}\n",
         "auth.nonce_lifetime must be between 30 and 86400, got 29"},
        {L R "auth: {users: [{name: a, password: b}], nonce_lifetime: 86401}\n",
         "auth.nonce_lifetime must be between 30 and 86400"},
        {L R "auth: {users: [{name: a, password: b}], unauth_rate: 0}\n",
         "auth.unauth_rate must be between 1 and 1000000, got 0"},
        {L R "auth: {users: [{name: a, password: b}], unauth_burst: 1000001}\n",
         "auth.unauth_burst must be between"},
        {L R U "limits: {default_lifetime: 3601}\n",
         "limits.default_lifetime must be between 60 and limits.max_lifetime (3600), got 3601"},
        {L R U "limits: {default_lifetime: 59}\n", "limits.default_lifetime must be between 60"},
        {L R U "limits: {max_lifetime: 86401}\n",
         "limits.max_lifetime must be between 60 and 86400"},
        {L R U "limits: {max_allocations: 10, user_quota: 11}\n",
         "limits.user_quota (11) exceeds limits.max_allocations (10)"},
        {L R U "limits: {tcp_connections: 0}\n",
         "limits.tcp_connections must be between 1 and 1000000, got 0"},
        {L R U "limits: {tcp_connections: 10, tcp_per_source: 11}\n",
         "limits.tcp_per_source must be between 1 and limits.tcp_connections (10), got 11"},
        {L R U "limits: {tcp_per_source: 4, tcp_unauth_per_source: 5}\n",
         "limits.tcp_unauth_per_source must be between 1 and limits.tcp_per_source (4), got 5"},
        {L R U "limits: {tcp_frame_deadline_ms: 99}\n",
         "limits.tcp_frame_deadline_ms must be between 100 and 3600000 ms, got 99"},
        {L R U "limits: {tcp_auth_deadline_ms: 3600001}\n",
         "limits.tcp_auth_deadline_ms must be between 100 and 3600000 ms"},
        {L R U "workers: 1025\n", "workers must be at most 1024, got 1025"},
        {L R U "metrics: {listen: \"127.0.0.1:0\"}\n", "metrics.listen: port 0 is not allowed"},
        /* stun.rfc5780 (RFC 5780 §4.1): two IPs, two ports, one listener. */
        {L R U "stun: {rfc5780: {other_address: 127.0.0.1, other_port: 3479}}\n",
         "stun.rfc5780.other_address must differ from the listener's address 127.0.0.1"},
        {L R U "stun: {rfc5780: {other_address: 127.0.0.2, other_port: 3478}}\n",
         "stun.rfc5780.other_port must differ from the listener's port 3478"},
        {L R U "stun: {rfc5780: {other_address: \"::2\", other_port: 3479}}\n",
         "stun.rfc5780 needs exactly one udp listener of the other_address's family (IPv6), "
         "found 0"},
        {"listen: [{address: 127.0.0.1}, {address: 127.0.0.3, port: 3480}]\n" R U
         "stun: {rfc5780: {other_address: 127.0.0.2, other_port: 3479}}\n",
         "needs exactly one udp listener of the other_address's family (IPv4), found 2"},
        {"listen: [{address: 0.0.0.0}]\n" R U
         "stun: {rfc5780: {other_address: 127.0.0.2, other_port: 3479}}\n",
         "stun.rfc5780: the udp listener 0.0.0.0:3478 is a wildcard"},
        {L R U "stun: {rfc5780: {other_address: 0.0.0.0, other_port: 3479}}\n",
         "stun.rfc5780.other_address 0.0.0.0 is not a unicast address"},
        {L R U "stun: {rfc5780: {other_address: 127.0.0.2, other_port: 50000}}\n",
         "stun.rfc5780.other_port 50000 is inside the relay port range 49152..65535"},
        {L R U "stun: {rfc5780: {other_address: 127.0.0.2}}\n", "other_port"},
        {L R U "stun: {rfc5780: {other_port: 3479}}\n", "other_address"},
        /* twist: relayed ports where STUN cannot start, an address per family. */
        {L R U "twist: {ports: 16383-20000}\n", "twist.ports starts at 16383"},
        {L R U "twist: {relay_ipv4: \"2001:db8::1\"}\n", "twist.relay_ipv4 is not an IPv4"},
        {L R U "twist: {relay_ipv6: 192.0.2.1}\n", "twist.relay_ipv6 is not an IPv6"},
        {L R U "twist: {enabled: true}\n", "twist.enabled needs twist.relay_ipv4"},
        {L R U "twist: {enabled: true, relay_ipv4: 192.0.2.1, idle_timeout: 0}\n",
         "twist.idle_timeout must be at least 1"},
/* mice: the encapsulation port, the option type, keys. */
#define MK "keys: [{spi: 256, key: mobile-node-shared-key, home: \"2001:db8:1::10\"}]"
        {L R U "mice: {enabled: true}\n", "mice.enabled needs at least one entry in mice.keys"},
        {L R U "mice: {enabled: true, port: 3478, " MK "}\n",
         "mice.port 3478 is also a udp listen port"},
        {L R U "mice: {enabled: true, option_type: 9, " MK "}\n",
         "mice.option_type 9 is Pad1, PadN or the authentication option"},
        {L R U "mice: {enabled: true, max_lifetime: 3, " MK "}\n",
         "mice.max_lifetime must be between 4 and 262140"},
        {L R U "mice: {enabled: true, max_bindings: 0, " MK "}\n",
         "mice.max_bindings must be between 1 and 65536"},
        {L R U "mice: {enabled: true, rate: 0, " MK "}\n", "mice.rate and mice.burst"},
        {L R U "mice: {enabled: true, keys: [{spi: 256, key: short, home: 192.0.2.1}]}\n",
         "mice.keys[0] (spi 256): key must be at least 16 bytes"},
        {L R U "mice: {enabled: true, keys: [{spi: 256, key: mobile-node-shared-key, home: "
               "192.0.2.1}, {spi: 256, key: mobile-node-shared-key, home: 192.0.2.2}]}\n",
         "mice.keys: spi 256 appears twice"},
        {L R U "mice: {enabled: true, keys: [{spi: 256, key: mobile-node-shared-key, home: "
               "192.0.2.1}, {spi: 257, key: mobile-node-shared-key, home: 192.0.2.1}]}\n",
         "mice.keys: spi 256 and 257 share a home address"},
        {L R U "mice: {enabled: true, keys: [{spi: 255, key: mobile-node-shared-key, home: "
               "192.0.2.1}]}\n",
         "spi"},
#undef MK
        /* cluster: a name, a secret, report addresses, sane water marks, unique siblings. */
        {L R U "cluster: {siblings: [{name: b, report: \"tcp://h:1\", alternate: [192.0.2.1]}]}\n",
         "cluster.siblings needs cluster.node"},
        {L R U "cluster: {node: a, listen: \"tcp://h:1\"}\n", "needs cluster.secret"},
        {L R U "cluster: {node: a, secret: short, listen: \"tcp://h:1\"}\n",
         "cluster.secret must be at least 16 bytes"},
        {L R U "cluster: {node: \"a b\", secret: 0123456789abcdef, listen: \"tcp://h:1\"}\n",
         "cluster.node 'a b'"},
        {L R U "cluster: {node: a, secret: 0123456789abcdef, listen: \"udp://h:1\"}\n",
         "cluster.listen 'udp://h:1'"},
        {L R U "cluster: {node: a, secret: 0123456789abcdef, listen: \"tcp://h:1\", "
               "high_water: 10, low_water: 10}\n",
         "cluster.low_water (10) must be below cluster.high_water (10)"},
        {L R U "cluster: {node: a, secret: 0123456789abcdef, listen: \"tcp://h:1\", "
               "interval_ms: 50}\n",
         "cluster.interval_ms must be between 100 and 60000"},
        {L R U "cluster: {node: a, secret: 0123456789abcdef, listen: \"tcp://h:1\", siblings: "
               "[{name: a, report: \"tcp://h:2\", alternate: [192.0.2.1]}]}\n",
         "cluster.siblings[0] is this node"},
        {L R U "cluster: {node: a, secret: 0123456789abcdef, listen: \"tcp://h:1\", siblings: "
               "[{name: b, report: \"tcp://h:2\", alternate: [192.0.2.1]}, "
               "{name: b, report: \"tcp://h:3\", alternate: [192.0.2.2]}]}\n",
         "'b' is listed twice"},
        {L R U "cluster: {node: a, secret: 0123456789abcdef, listen: \"tcp://h:1\", siblings: "
               "[{name: b, report: \"tcp://h:2\", alternate: []}]}\n",
         "cluster.siblings[0].alternate names no address"},
        /* trt: the /96, rule families, timeouts (docs/configuration.md). */
        {L R U "trt: {prefix: \"2001:db8::/64\"}\n", "trt.prefix must be an IPv6 /96"},
        {L R U "trt: {prefix: \"::ffff:0:0/96\"}\n", "trt.prefix must be an IPv6 /96"},
        {L R U "trt: {allow: [{src: 10.0.0.0/8, dst: 0.0.0.0/0}]}\n",
         "trt.allow[0].src: 10.0.0.0/8 is not an IPv6 prefix"},
        {L R U "trt: {deny: [{src: \"::/0\", dst: \"2001:db8::/32\"}]}\n",
         "trt.deny[0].dst: 2001:db8::/32 is not an IPv4 prefix"},
        {L R U "trt: {udp_idle_timeout: 0}\n", "trt.udp_idle_timeout must be at least 2"},
        {L R U "trt: {tcp_idle_timeout: 9}\n", "trt.tcp_idle_timeout must be at least 10"},
        {L R U "trt: {tcp_keepalive: 0}\n", "trt.tcp_keepalive must be between 1"},
        {L R U "trt: {ipv4_sources: [\"2001:db8::1\"]}\n", "trt.ipv4_sources[0]"},
        {L R U "trt: {max_udp: 0}\n", "trt.max_udp must be between 1"},
        {L R U "fastpath: {enabled: auto}\n", "fastpath.enabled needs fastpath.interfaces"},
        {L R U "fastpath: {enabled: on}\n", "fastpath.enabled needs fastpath.interfaces"},
/* cluster.anycast: its own listener, a unicast address per family. */
#define CN "cluster: {node: a, secret: 0123456789abcdef, listen: \"tcp://h:1\", "
#define AL "listen: [{address: 127.0.0.1}, {address: 192.0.2.100}, {address: 198.51.100.11}]\n"
        {L R U "cluster: {anycast: [192.0.2.100], unicast: [198.51.100.11:3478]}\n",
         "cluster.anycast and cluster.unicast need cluster.node"},
        {L R U CN "anycast: [192.0.2.100], unicast: [127.0.0.1:3478]}\n",
         "cluster.anycast: no listen entry has address 192.0.2.100 (each anycast address "
         "needs its own listener"},
        {AL R U CN "anycast: [192.0.2.100]}\n",
         "cluster.anycast 192.0.2.100 needs an IPv4 address of this node in cluster.unicast"},
        {AL R U CN "anycast: [192.0.2.100], unicast: [\"[2001:db8::1]:3478\"]}\n",
         "needs an IPv4 address of this node"},
        {AL R U CN "anycast: [192.0.2.100], unicast: [192.0.2.100:3478]}\n",
         "cluster.unicast: '192.0.2.100:3478' is also in cluster.anycast"},
        {AL R U CN "anycast: [192.0.2.100], unicast: [198.51.100.11:3479]}\n",
         "cluster.unicast: no listen entry answers on 198.51.100.11:3479"},
        {AL R U CN "anycast: [0.0.0.0], unicast: [198.51.100.11:3478]}\n",
         "cluster.anycast: '0.0.0.0' is not a unicast service address"},
        {AL R U CN "unicast: [198.51.100.11:3478]}\n",
         "cluster.unicast and cluster.domain are used only with cluster.anycast"},
#undef CN
#undef AL
        {L R U "software: "
               "ssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss"
               "ssssssssssssssssssssssssssssssssssssssssssssss\n",
         "software must be fewer than 128 characters"},
};

static void test_check_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < nitems(check_cases); i++) {
		const struct check_case *tc = &check_cases[i];
		struct config cfg;
		char err[512];
		int rc;

		rc = config_load_string(tc->yaml, strlen(tc->yaml), "t.yaml", &cfg, err,
		                        sizeof(err));
		if (rc == 0)
			rc = config_validate(&cfg, err, sizeof(err));
		if (rc != -1 || strstr(err, tc->msg) == NULL)
			fail_msg("case %zu: rc %d, got \"%s\", want \"%s\"", i, rc, err, tc->msg);
		config_clear(&cfg);
	}
}

/* Boundaries that must still pass: a check that is off by one fails here. */
/* fastpath: off by default, the three modes, interface names. */
static void test_fastpath(void **state)
{
	static const struct load_case bad[] = {
	        {"fastpath: {enabled: yes}\n", 0, 1, 21, "is not auto, on or off"},
	        {"fastpath: {interfaces: [eth0123456789abc]}\n", 0, 1, 25, "not an interface name"},
	        {"fastpath: {interfaces: [\"a b\"]}\n", 0, 1, 25, "not an interface name"},
	        {"fastpath: {interfaces: [a, b, c, d, e, f, g, h, i]}\n", 0, 1, 49,
	         "too many interfaces"},
	};
	struct config cfg;
	char err[512];

	(void)state;
	load_ok(L R U, &cfg);
	assert_int_equal(cfg.fastpath, CFG_FP_OFF);
	assert_int_equal(cfg.n_fastpath_ifs, 0);
	config_clear(&cfg);
	load_ok(L R U "fastpath: {enabled: auto, interfaces: [eth0, veth-a]}\n", &cfg);
	assert_int_equal(cfg.fastpath, CFG_FP_AUTO);
	assert_int_equal(cfg.n_fastpath_ifs, 2);
	assert_string_equal(cfg.fastpath_ifs[1], "veth-a");
	config_clear(&cfg);
	load_ok(L R U "fastpath: {enabled: on, interfaces: [eth0]}\n", &cfg);
	assert_int_equal(cfg.fastpath, CFG_FP_ON);
	config_clear(&cfg);
	load_ok(L R U "fastpath: {enabled: \"off\", interfaces: []}\n", &cfg);
	assert_int_equal(cfg.fastpath, CFG_FP_OFF);
	config_clear(&cfg);
	for (size_t i = 0; i < nitems(bad); i++) {
		if (config_load_string(bad[i].yaml, strlen(bad[i].yaml), "t.yaml", &cfg, err,
		                       sizeof(err)) != -1 ||
		    strstr(err, bad[i].msg) == NULL)
			fail_msg("fastpath case %zu: got \"%s\", want \"%s\"", i, err, bad[i].msg);
		config_clear(&cfg);
	}
}

/* twist: defaults, a full section, the one-port range, and the parse errors. */
static void test_twist(void **state)
{
	static const struct load_case bad[] = {
	        {"twist: {ports: 60000-50000}\n", 0, 1, 16, "not a port range"},
	        {"twist: {ports: 70000}\n", 0, 1, 16, "not a port range"},
	        {"twist: {ports: 5x}\n", 0, 1, 16, "not a port range"},
	        {"twist: {tun: twist0123456789ab}\n", 0, 1, 14, "not a device name"},
	        {"twist: {tun: \"a/b\"}\n", 0, 1, 14, "not a device name"},
	};
	struct config cfg;
	char err[512];

	(void)state;
	load_ok(L R U, &cfg);
	assert_false(cfg.twist_enabled);
	assert_int_equal(cfg.twist_port_min, 49152);
	assert_int_equal(cfg.twist_port_max, 65535);
	assert_string_equal(cfg.twist_tun, "twist0");
	assert_int_equal(cfg.twist_idle_timeout, 60);
	assert_int_equal(cfg.twist_max_flows_per_user, 64);
	config_clear(&cfg);
	load_ok(L R U "twist: {enabled: true, relay_ipv4: 203.0.113.200, relay_ipv6: "
	              "\"2001:db8:4::200\", ports: 16384-16385, tun: tw0, idle_timeout: 3, "
	              "max_flows_per_user: 0}\n",
	        &cfg);
	assert_true(cfg.twist_enabled);
	addr_expect(&cfg.twist_relay4, "203.0.113.200:0");
	assert_int_equal(cfg.twist_port_min, 16384);
	assert_int_equal(cfg.twist_port_max, 16385);
	assert_string_equal(cfg.twist_tun, "tw0");
	assert_int_equal(cfg.twist_idle_timeout, 3);
	assert_int_equal(cfg.twist_max_flows_per_user, 0);
	config_clear(&cfg);
	load_ok(L R U "twist: {ports: 60000}\n", &cfg);
	assert_int_equal(cfg.twist_port_min, 60000);
	assert_int_equal(cfg.twist_port_max, 60000);
	config_clear(&cfg);
	for (size_t i = 0; i < nitems(bad); i++) {
		if (config_load_string(bad[i].yaml, strlen(bad[i].yaml), "t.yaml", &cfg, err,
		                       sizeof(err)) != -1 ||
		    strstr(err, bad[i].msg) == NULL)
			fail_msg("twist case %zu: got \"%s\", want \"%s\"", i, err, bad[i].msg);
		config_clear(&cfg);
	}
}

/* trt: defaults, the contract's full section, and the parse errors. */
static void test_trt(void **state)
{
	static const struct load_case bad[] = {
	        {"trt: {nft_table: \"a b\"}\n", 0, 1, 18, "not an nft table name"},
	        {"trt: {allow: [{src: \"::/0\"}]}\n", 0, 1, 15, "missing key 'dst'"},
	        {"trt: {allow: [{src: \"2001:db8::1/64\", dst: 0.0.0.0/0}]}\n", 0, 1, 21,
	         "host bits set"},
	        {"trt: {ftp_ports: [0]}\n", 0, 1, 19, "ftp_ports"},
	        {"trt: {bogus: 1}\n", 0, 1, 7, "unknown key 'bogus' in 'trt'"},
	};
	struct config cfg;
	char err[512], b[TW_ADDR_STRLEN];

	(void)state;
	load_ok(L R U, &cfg);
	assert_false(cfg.trt_enabled);
	assert_string_equal(tw_addr_fmt_ip(&cfg.trt_prefix.net, b, sizeof(b)), "64:ff9b::");
	assert_int_equal(cfg.trt_prefix.prefix, 96);
	assert_int_equal(cfg.trt_port, 4630);
	assert_true(cfg.trt_nft);
	assert_string_equal(cfg.trt_nft_table, "twist_trt");
	assert_int_equal(cfg.trt_tcp_idle_timeout, 7440);
	assert_int_equal(cfg.trt_tcp_keepalive, 600);
	assert_int_equal(cfg.trt_udp_idle_timeout, 300);
	assert_int_equal(cfg.n_trt_ftp_ports, 1);
	assert_int_equal(cfg.trt_ftp_ports[0], 21);
	assert_int_equal(cfg.trt_max_tcp, 20000);
	assert_int_equal(cfg.trt_max_udp, 20000);
	assert_int_equal(cfg.n_trt_allow + cfg.n_trt_deny + cfg.n_trt_sources, 0);
	config_clear(&cfg);
	load_ok(L R U
	        "trt:\n  enabled: true\n  prefix: fd64:7472::/96\n  port: 4631\n"
	        "  nft: false\n  nft_table: trtc_x\n  ipv4_sources: [203.0.113.5, 203.0.113.6]\n"
	        "  allow: [{src: \"2001:db8:12:1::/64\", dst: 198.51.100.0/24}]\n"
	        "  deny: [{src: \"2001:db8:12:1::66/128\", dst: 0.0.0.0/0}]\n"
	        "  allow_private: true\n  tcp_idle_timeout: 10\n  tcp_keepalive: 5\n"
	        "  udp_idle_timeout: 2\n  ftp_ports: []\n  max_tcp: 5\n  max_udp: 6\n",
	        &cfg);
	assert_true(cfg.trt_enabled);
	assert_string_equal(tw_addr_fmt_ip(&cfg.trt_prefix.net, b, sizeof(b)), "fd64:7472::");
	assert_int_equal(cfg.trt_port, 4631);
	assert_false(cfg.trt_nft);
	assert_string_equal(cfg.trt_nft_table, "trtc_x");
	assert_int_equal(cfg.n_trt_sources, 2);
	addr_expect(&cfg.trt_sources[1], "203.0.113.6:0");
	assert_int_equal(cfg.n_trt_allow, 1);
	assert_int_equal(cfg.trt_allow[0].src.prefix, 64);
	assert_int_equal(cfg.trt_allow[0].dst.prefix, 24);
	assert_int_equal(cfg.n_trt_deny, 1);
	assert_int_equal(cfg.trt_deny[0].src.prefix, 128);
	assert_true(cfg.trt_allow_private);
	assert_int_equal(cfg.trt_tcp_idle_timeout, 10);
	assert_int_equal(cfg.trt_udp_idle_timeout, 2);
	assert_int_equal(cfg.n_trt_ftp_ports, 0);
	assert_int_equal(cfg.trt_max_udp, 6);
	assert_int_equal(config_validate(&cfg, err, sizeof(err)), 0);
	config_clear(&cfg);
	for (size_t i = 0; i < nitems(bad); i++) {
		if (config_load_string(bad[i].yaml, strlen(bad[i].yaml), "t.yaml", &cfg, err,
		                       sizeof(err)) != -1 ||
		    strstr(err, bad[i].msg) == NULL)
			fail_msg("trt case %zu: got \"%s\", want \"%s\"", i, err, bad[i].msg);
		config_clear(&cfg);
	}
}

static void test_check_limits_ok(void **state)
{
	static const char *const ok[] = {
	        L R "auth: {rest_secret: \"0123456789abcdef\"}\n",
	        L R "auth: {users: [{name: a, password: b}], nonce_lifetime: 86400}\n",
	        L R U "limits: {default_lifetime: 3600, max_lifetime: 3600}\n",
	        L R U "limits: {max_allocations: 10, user_quota: 10}\n",
	        L R U "limits: {max_allocations: 0, user_quota: 10}\n",
	        L R U "workers: 1024\n",
	        L R U "metrics: {enabled: false, listen: \"127.0.0.1:0\"}\n",
	        L "relay: {addresses: [127.0.0.1, \"::1\"], port_min: 1024, port_max: 1024}\n" U,
	        "listen: [{address: 127.0.0.1, transports: [udp]}, "
	        "{address: 127.0.0.1, transports: [tcp]}]\n" R U,
	        "listen: [{address: 0.0.0.0}, {address: \"::\"}]\n" R U,
	        "listen: [{address: 127.0.0.1, transports: [udp]}, "
	        "{address: 127.0.0.1, transports: [tls]}]\n" R U
	        "tls: {cert: a.pem, key: a.key, min_version: \"1.3\", ciphers: \"ECDHE+AESGCM\"}\n",
	        /* A TCP-only listener may sit on the other address. */
	        "listen: [{address: 127.0.0.1}, {address: 127.0.0.2, transports: [tcp]}]\n" R U
	        "stun: {rfc5780: {other_address: 127.0.0.2, other_port: 3479}}\n"
	        "compat: {rfc3489: false}\n",
	        /* The shared ports of docs/websocket.md §3. */
	        "listen: [{address: 127.0.0.1, transports: [udp, tcp, ws]}, "
	        "{address: 127.0.0.1, port: 443, transports: [tls, wss]}, "
	        "{address: 127.0.0.1, port: 8443, transports: [wss]}]\n" R U,
	        "# comment\n%YAML 1.1\n---\n" L R U "...\n",
	        "\xef\xbb\xbf" L R U,
	};
	struct config cfg;

	(void)state;
	for (size_t i = 0; i < nitems(ok); i++) {
		load_ok(ok[i], &cfg);
		config_clear(&cfg);
	}
}

static void invalid_expect(const struct config *cfg, const char *msg)
{
	char err[512];

	if (config_validate(cfg, err, sizeof(err)) != -1 || strstr(err, msg) == NULL)
		fail_msg("got \"%s\", want \"%s\"", err, msg);
}

/*
 * Structs that the loader never builds but a caller could: validation must
 * not trust that the YAML pass ran.
 */
static void test_check_struct(void **state)
{
	struct config base, cfg;
	struct cfg_user user = {.name = "a", .password = "b"};

	(void)state;
	load_ok(config_default_yaml, &base);
	config_clear(&base);
	base.users = &user;
	base.n_users = 1;

	cfg = base;
	cfg.n_listen = CFG_MAX_LISTEN + 1;
	invalid_expect(&cfg, "too many listeners (max 16)");
	cfg = base;
	cfg.listen[1].addr.family = 0;
	invalid_expect(&cfg, "listen[1]: no address");
	cfg = base;
	cfg.listen[0].addr.port = 0;
	invalid_expect(&cfg, "listen[0]: port 0 is not allowed");
	cfg = base;
	cfg.listen[0].udp = cfg.listen[0].tcp = false;
	invalid_expect(&cfg, "listen[0]: no transports");
	cfg = base;
	cfg.n_relay = CFG_MAX_RELAY + 1;
	invalid_expect(&cfg, "too many relay addresses (max 4)");
	cfg = base;
	cfg.relay[0].family = 0;
	invalid_expect(&cfg, "relay.addresses[0]: no address");
	cfg = base;
	cfg.users = NULL;
	invalid_expect(&cfg, "auth.users: bad user table");
	cfg = base;
	cfg.n_users = CFG_MAX_USERS + 1;
	invalid_expect(&cfg, "auth.users: bad user table");
	cfg = base;
	cfg.n_deny = CFG_MAX_CIDRS + 1;
	invalid_expect(&cfg, "peers: too many ranges (max 256)");
	cfg = base;
	cfg.n_allow = 1;
	cfg.n_deny = 1;
	tw_cidr_parse("10.0.0.0/8", &cfg.allow[0]);
	cfg.deny[0].net.family = TW_AF_INET;
	cfg.deny[0].prefix = 33;
	invalid_expect(&cfg, "peers.deny[0]: bad range");
	cfg = base;
	cfg.metrics.family = 0;
	invalid_expect(&cfg, "metrics.listen: no address");
	cfg.metrics_enabled = false;
	assert_int_equal(config_validate(&cfg, NULL, 0), 0);
	cfg = base;
	cfg.log_level = (enum log_level)4;
	invalid_expect(&cfg, "log.level: unknown level 4");
	cfg = base;
	assert_int_equal(config_validate(&cfg, NULL, 0), 0);
}

static char *users_doc(unsigned n)
{
	size_t cap = 256 + (size_t)n * 40, off;
	char *buf = malloc(cap);

	assert_non_null(buf);
	off = (size_t)snprintf(buf, cap, L R "auth:\n  users:\n");
	for (unsigned i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, cap - off, "    - {name: u%u, password: p}\n",
		                        i);
	return buf;
}

static void test_users_cap(void **state)
{
	struct config cfg;
	char err[512], want[64];
	char *doc;

	(void)state;
	doc = users_doc(CFG_MAX_USERS);
	load_ok(doc, &cfg);
	assert_int_equal(cfg.n_users, CFG_MAX_USERS);
	assert_string_equal(cfg.users[CFG_MAX_USERS - 1].name, "u9999");
	config_clear(&cfg);
	free(doc);

	doc = users_doc(CFG_MAX_USERS + 1);
	assert_int_equal(config_load_string(doc, strlen(doc), "t.yaml", &cfg, err, sizeof(err)),
	                 -1);
	/* Three lines of preamble; the first user is on line 5. */
	snprintf(want, sizeof(want), "t.yaml:%d:7: too many users (max %d)", CFG_MAX_USERS + 5,
	         CFG_MAX_USERS);
	assert_string_equal(err, want);
	assert_null(cfg.users);
	free(doc);
}

static void test_list_caps(void **state)
{
	static const struct {
		const char *head, *item;
		unsigned head_lines, max;
		const char *msg;
	} caps[] = {
	        {"listen:\n", "  - {address: 127.0.0.1, port: 2%03u}\n", 1, CFG_MAX_LISTEN,
	         "too many listeners (max 16)"},
	        {"relay:\n  addresses:\n", "    - 10.0.%u.1\n", 2, CFG_MAX_RELAY,
	         "too many relay addresses (max 4)"},
	        {"peers:\n  allow:\n", "    - 10.%u.0.0/16\n", 2, CFG_MAX_CIDRS,
	         "too many ranges in 'allow' (max 256)"},
	        {"peers:\n  deny:\n", "    - 10.%u.0.0/16\n", 2, CFG_MAX_CIDRS,
	         "too many ranges in 'deny' (max 256)"},
	};
	char buf[16384], err[512], want[32];
	struct config cfg;

	(void)state;
	for (size_t c = 0; c < nitems(caps); c++) {
		int off = snprintf(buf, sizeof(buf), "%s", caps[c].head);

		for (unsigned i = 0; i <= caps[c].max; i++) {
			/* At the cap: loads. One more: fails on the extra item's line. */
			if (i == caps[c].max) {
				assert_int_equal(config_load_string(buf, (size_t)off, "t.yaml",
				                                    &cfg, err, sizeof(err)),
				                 0);
				config_clear(&cfg);
			}
			off += snprintf(buf + off, sizeof(buf) - (size_t)off, caps[c].item, i);
		}
		assert_int_equal(
		        config_load_string(buf, (size_t)off, "t.yaml", &cfg, err, sizeof(err)), -1);
		snprintf(want, sizeof(want), "t.yaml:%u:", caps[c].head_lines + caps[c].max + 1);
		if (strncmp(err, want, strlen(want)) != 0 || strstr(err, caps[c].msg) == NULL)
			fail_msg("cap %zu: got \"%s\", want \"%s...%s\"", c, err, want,
			         caps[c].msg);
	}
}

static void test_doc_cap(void **state)
{
	size_t len = CFG_MAX_DOC + 1;
	char *doc = malloc(len), err[512];
	struct config cfg;

	(void)state;
	assert_non_null(doc);
	memset(doc, '#', len);
	assert_int_equal(config_load_string(doc, len, "big.yaml", &cfg, err, sizeof(err)), -1);
	assert_string_equal(err,
	                    "big.yaml:1:1: document is too large (1048577 bytes, max 1048576)");
	/* Exactly the cap is read (a comment: an empty document). */
	doc[len - 2] = '\n';
	assert_int_equal(config_load_string(doc, len - 1, "big.yaml", &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "empty document"));
	free(doc);
}

static void test_file(void **state)
{
	struct config cfg;
	char err[512];

	(void)state;
	assert_int_equal(config_load_file("/nonexistent/twist.yaml", &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/twist.yaml: No such file or directory");
	assert_int_equal(config_load_file("/", &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, "/: Is a directory");
	assert_int_equal(config_load_file(TWIST_SOURCE_DIR "/tests/relay/config/bad-key.yaml", &cfg,
	                                  err, sizeof(err)),
	                 -1);
	assert_string_equal(err, TWIST_SOURCE_DIR "/tests/relay/config/bad-key.yaml:7:3: unknown "
	                                          "key 'relay_addresses' in 'auth'");
	config_clear(&cfg);
}

static void test_clear_twice(void **state)
{
	struct config cfg;

	(void)state;
	load_ok(config_default_yaml, &cfg);
	assert_non_null(cfg.users);
	config_clear(&cfg);
	assert_null(cfg.users);
	assert_int_equal(cfg.n_users, 0);
	config_clear(&cfg);
	config_defaults(&cfg);
	config_clear(&cfg);
}

/* Error buffers of any size, or none, are safe; messages are truncated. */
static void test_err_buffers(void **state)
{
	static const char bad[] = "workers: x\n";
	struct config cfg;
	char small[8];

	(void)state;
	assert_int_equal(config_load_string(bad, strlen(bad), "t.yaml", &cfg, NULL, 0), -1);
	assert_int_equal(config_load_string(bad, strlen(bad), "t.yaml", &cfg, small, 0), -1);
	assert_int_equal(config_load_string(bad, strlen(bad), "t.yaml", &cfg, small, sizeof(small)),
	                 -1);
	assert_string_equal(small, "t.yaml:");
	assert_int_equal(config_load_string(bad, strlen(bad), NULL, &cfg, small, sizeof(small)),
	                 -1);
	assert_string_equal(small, "<string");
	assert_int_equal(config_load_string(NULL, 0, "t.yaml", &cfg, small, sizeof(small)), -1);
	assert_int_equal(config_load_file("/nonexistent", &cfg, NULL, 0), -1);
	config_defaults(&cfg);
	assert_int_equal(config_validate(&cfg, NULL, 0), -1);
	assert_int_equal(config_validate(&cfg, small, sizeof(small)), -1);
	assert_string_equal(small, "<defaul");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_default),
	        cmocka_unit_test(test_example),
	        cmocka_unit_test(test_docs),
	        cmocka_unit_test(test_values),
	        cmocka_unit_test(test_load_errors),
	        cmocka_unit_test(test_check_errors),
	        cmocka_unit_test(test_twist),
	        cmocka_unit_test(test_trt),
	        cmocka_unit_test(test_fastpath),
	        cmocka_unit_test(test_twist),
	        cmocka_unit_test(test_check_limits_ok),
	        cmocka_unit_test(test_check_struct),
	        cmocka_unit_test(test_users_cap),
	        cmocka_unit_test(test_list_caps),
	        cmocka_unit_test(test_doc_cap),
	        cmocka_unit_test(test_file),
	        cmocka_unit_test(test_clear_twice),
	        cmocka_unit_test(test_err_buffers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
