/* ICE descriptions for the MIP-ICE tests (test_mice.c, test_mice_demux.c). */
#ifndef TWIST_TESTS_PROTO_MICE_UTIL_H
#define TWIST_TESTS_PROTO_MICE_UTIL_H

#include <stdio.h>
#include <string.h>

#include "proto/mice.h"

/* n candidates of one family (4 or 6), every other one with a related address. */
static inline void mice_test_desc(struct mice_ice *d, unsigned n, int fam)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->ufrag, sizeof(d->ufrag), "mn01");
	snprintf(d->pwd, sizeof(d->pwd), "M1ceExamplePassword+22");
	d->n_cands = (uint8_t)n;
	for (unsigned i = 0; i < n; i++) {
		struct mice_cand *c = &d->cand[i];

		c->type = (uint8_t)(i % 4);
		c->component = (uint8_t)(1 + i % 2);
		c->transport = (uint8_t)(i % 4);
		c->priority = 0x7effffffu - i;
		snprintf(c->foundation, sizeof(c->foundation), "f%u", i);
		c->addr.family = fam == 4 ? TW_AF_INET : TW_AF_INET6;
		if (fam == 4) {
			c->addr.ip[0] = 203, c->addr.ip[1] = 0, c->addr.ip[2] = 113;
			c->addr.ip[3] = (uint8_t)(10 + i);
		} else {
			c->addr.ip[0] = 0x20, c->addr.ip[1] = 0x01, c->addr.ip[2] = 0x0d;
			c->addr.ip[3] = 0xb8, c->addr.ip[15] = (uint8_t)(10 + i);
		}
		c->addr.port = (uint16_t)(50000 + i);
		if (i % 2) {
			c->related = c->addr;
			c->related.ip[fam == 4 ? 3 : 15] ^= 0x80;
			c->related.port = (uint16_t)(40000 + i);
		}
	}
}

#endif
