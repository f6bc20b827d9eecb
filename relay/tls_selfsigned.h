/*
 * A throwaway self-signed certificate for a tls listener with no tls.cert:
 * EC P-256, valid from now for 30 days, its subjectAltName the loopback
 * names and every listen address (browsers check TURN-TLS certificates
 * like HTTPS ones and want the name in the SAN, not the CN).
 */
#ifndef TWIST_RELAY_TLS_SELFSIGNED_H
#define TWIST_RELAY_TLS_SELFSIGNED_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "relay/config.h"

/* 0 with *crt and *key the caller's, or -1 with the OpenSSL error queued. */
int tls_selfsigned(const struct config *cfg, X509 **crt, EVP_PKEY **key);

#endif
