#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "relay/tls_selfsigned.h"

#define VALID_DAYS 30
#define SAN_MAX    (64 + CFG_MAX_LISTEN * (4 + TW_ADDR_STRLEN))

/* Wildcard listen addresses name no host; they are left out. */
static bool san_worthy(const struct tw_addr *a)
{
	static const uint8_t zero[16];

	return memcmp(a->ip, zero, tw_addr_iplen(a)) != 0;
}

static void san_build(const struct config *cfg, char *san, size_t len)
{
	char ip[TW_ADDR_STRLEN];
	size_t n;

	snprintf(san, len, "IP:127.0.0.1,IP:::1,DNS:localhost");
	for (unsigned i = 0; i < cfg->n_listen; i++) {
		if (!(cfg->listen[i].tls || cfg->listen[i].dtls) ||
		    !san_worthy(&cfg->listen[i].addr))
			continue;
		tw_addr_fmt_ip(&cfg->listen[i].addr, ip, sizeof(ip));
		if (strcmp(ip, "127.0.0.1") == 0 || strcmp(ip, "::1") == 0)
			continue;
		n = strlen(san);
		snprintf(san + n, len - n, ",IP:%s", ip);
	}
}

static int add_ext(X509 *crt, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&v3, crt, crt, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return -1;
	ok = X509_add_ext(crt, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static int fill(X509 *crt, EVP_PKEY *key, const char *san)
{
	X509_NAME *name = X509_get_subject_name(crt);
	unsigned char serial[16];
	BIGNUM *bn;
	int ok;

	/* A random serial: a client caching certificates by issuer and serial
	 * must not mistake one restart's certificate for another's. */
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		return -1;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(crt));
	BN_free(bn);
	if (!ok || !X509_set_version(crt, X509_VERSION_3) ||
	    !X509_gmtime_adj(X509_getm_notBefore(crt), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(crt), (long)VALID_DAYS * 86400) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                                (const unsigned char *)"twist-relay self-signed", -1, -1,
	                                0) ||
	    !X509_set_issuer_name(crt, name) || !X509_set_pubkey(crt, key))
		return -1;
	if (add_ext(crt, NID_subject_alt_name, san) < 0 ||
	    add_ext(crt, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(crt, NID_ext_key_usage, "serverAuth") < 0)
		return -1;
	return X509_sign(crt, key, EVP_sha256()) > 0 ? 0 : -1;
}

int tls_selfsigned(const struct config *cfg, X509 **crt, EVP_PKEY **key)
{
	char san[SAN_MAX];

	san_build(cfg, san, sizeof(san));
	*key = EVP_EC_gen("P-256");
	*crt = X509_new();
	if (*key && *crt && fill(*crt, *key, san) == 0)
		return 0;
	X509_free(*crt);
	EVP_PKEY_free(*key);
	*crt = NULL;
	*key = NULL;
	return -1;
}
