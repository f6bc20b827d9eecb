/*
 * relay/tls.c and relay/tls_selfsigned.c without sockets: the throwaway
 * certificate (key type, self-signature, which listen addresses its SAN
 * holds), the start-up errors an operator sees, and a reload that must
 * refuse a broken certificate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "relay/tls.h"
#include "relay/tls_selfsigned.h"

static void load(const char *yaml, struct config *cfg)
{
	char err[512];

	if (config_load_string(yaml, strlen(yaml), "t.yaml", cfg, err, sizeof(err)) < 0)
		fail_msg("%s", err);
}

/* The certificate's subjectAltName as OpenSSL prints it. */
static char *san_text(X509 *crt)
{
	int at = X509_get_ext_by_NID(crt, NID_subject_alt_name, -1);
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *s;
	long n;

	assert_true(at >= 0);
	assert_non_null(b);
	assert_int_equal(X509V3_EXT_print(b, X509_get_ext(crt, at), 0, 0), 1);
	n = BIO_get_mem_data(b, &p);
	s = strndup(p, (size_t)n);
	BIO_free(b);
	return s;
}

static void test_selfsigned(void **state)
{
	struct config cfg;
	X509 *crt;
	EVP_PKEY *key;
	char *san;

	(void)state;
	load("listen:\n"
	     "  - { address: 192.0.2.1, port: 443, transports: [tls] }\n"
	     "  - { address: \"2001:db8::5\", port: 443, transports: [tls] }\n"
	     "  - { address: 0.0.0.0, port: 5349, transports: [tls] }\n"
	     "  - { address: 198.51.100.1, port: 3478, transports: [udp, tcp] }\n",
	     &cfg);
	assert_int_equal(tls_selfsigned(&cfg, &crt, &key), 0);
	assert_true(EVP_PKEY_is_a(key, "EC"));
	assert_int_equal(EVP_PKEY_get_bits(key), 256);
	assert_int_equal(X509_verify(crt, key), 1); /* signed by its own key */
	assert_int_equal(X509_check_private_key(crt, key), 1);
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(crt), X509_get_issuer_name(crt)), 0);
	san = san_text(crt);
	assert_non_null(strstr(san, "IP Address:127.0.0.1"));
	assert_non_null(strstr(san, "IP Address:0:0:0:0:0:0:0:1"));
	assert_non_null(strstr(san, "DNS:localhost"));
	assert_non_null(strstr(san, "IP Address:192.0.2.1"));
	assert_non_null(strstr(san, "IP Address:2001:DB8:0:0:0:0:0:5"));
	/* Neither the wildcard nor a listener without tls. */
	assert_null(strstr(san, "0.0.0.0"));
	assert_null(strstr(san, "198.51.100.1"));
	free(san);
	X509_free(crt);
	EVP_PKEY_free(key);
	config_clear(&cfg);
}

struct files {
	char dir[64];
	char crt[2][96], key[2][96], junk[96];
};

static void write_pem(const char *path, X509 *crt, EVP_PKEY *key)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	if (crt)
		assert_int_equal(PEM_write_X509(f, crt), 1);
	else
		assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
}

/* Two certificate and key pairs, and a file that is neither. */
static void files_make(struct files *fs, const struct config *cfg)
{
	FILE *f;

	snprintf(fs->dir, sizeof(fs->dir), "/tmp/twist-test-tls.XXXXXX");
	assert_non_null(mkdtemp(fs->dir));
	for (int i = 0; i < 2; i++) {
		X509 *crt;
		EVP_PKEY *key;

		assert_int_equal(tls_selfsigned(cfg, &crt, &key), 0);
		snprintf(fs->crt[i], sizeof(fs->crt[i]), "%s/%d.pem", fs->dir, i);
		snprintf(fs->key[i], sizeof(fs->key[i]), "%s/%d.key", fs->dir, i);
		write_pem(fs->crt[i], crt, NULL);
		write_pem(fs->key[i], NULL, key);
		X509_free(crt);
		EVP_PKEY_free(key);
	}
	snprintf(fs->junk, sizeof(fs->junk), "%s/junk.pem", fs->dir);
	f = fopen(fs->junk, "w");
	assert_non_null(f);
	fputs("not a certificate\n", f);
	fclose(f);
}

static void files_rm(struct files *fs)
{
	for (int i = 0; i < 2; i++) {
		unlink(fs->crt[i]);
		unlink(fs->key[i]);
	}
	unlink(fs->junk);
	rmdir(fs->dir);
}

static void use(struct config *cfg, const char *crt, const char *key)
{
	snprintf(cfg->tls_cert, sizeof(cfg->tls_cert), "%s", crt);
	snprintf(cfg->tls_key, sizeof(cfg->tls_key), "%s", key);
}

static void new_fails(struct config *cfg, const char *crt, const char *key, const char *want)
{
	char err[512];

	use(cfg, crt, key);
	assert_null(tls_server_new(cfg, err, sizeof(err)));
	if (!strstr(err, want))
		fail_msg("got \"%s\", want \"%s\"", err, want);
}

static void test_server(void **state)
{
	struct tls_server *t;
	struct files fs;
	struct config cfg;
	char err[512];

	(void)state;
	load("listen: [{ address: 127.0.0.1, port: 5349, transports: [tls] }]\n", &cfg);
	files_make(&fs, &cfg);
	new_fails(&cfg, "/nonexistent/a.pem", fs.key[0],
	          "tls.cert: cannot load /nonexistent/a.pem");
	new_fails(&cfg, fs.crt[0], "/nonexistent/a.key", "tls.key: cannot load /nonexistent/a.key");
	new_fails(&cfg, fs.crt[0], fs.key[1], "tls.key does not match tls.cert");
	new_fails(&cfg, fs.junk, fs.key[0], "tls.cert: cannot load");
	snprintf(cfg.tls_ciphers, sizeof(cfg.tls_ciphers), "NO-SUCH-CIPHER");
	new_fails(&cfg, fs.crt[0], fs.key[0], "tls.ciphers: no usable cipher");
	cfg.tls_ciphers[0] = '\0';

	use(&cfg, fs.crt[0], fs.key[0]);
	t = tls_server_new(&cfg, err, sizeof(err));
	if (!t)
		fail_msg("%s", err);
	use(&cfg, fs.crt[0], fs.key[1]);
	assert_int_equal(tls_server_reload(t, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does not match"));
	use(&cfg, fs.crt[1], fs.key[1]);
	assert_int_equal(tls_server_reload(t, &cfg, err, sizeof(err)), 0);
	snprintf(cfg.tls_min_version, sizeof(cfg.tls_min_version), "1.3");
	assert_int_equal(tls_server_reload(t, &cfg, err, sizeof(err)), 0);
	/* Without tls.cert a reload keeps what runs. */
	use(&cfg, "", "");
	assert_int_equal(tls_server_reload(t, &cfg, err, sizeof(err)), 0);
	tls_server_free(t);
	tls_server_free(NULL);

	t = tls_server_new(&cfg, err, sizeof(err)); /* self-signed */
	assert_non_null(t);
	tls_server_free(t);
	files_rm(&fs);
	config_clear(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_selfsigned),
	        cmocka_unit_test(test_server),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
