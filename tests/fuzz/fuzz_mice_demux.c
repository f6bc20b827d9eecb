/*
 * libFuzzer harness for proto/mice_demux.c: whatever the demux calls STUN
 * must be a STUN message with a valid FINGERPRINT last; everything else
 * goes through the Mobility Header parser without harm.
 */
#include "proto/mice_demux.h"
#include "proto/mice_mh.h"
#include "proto/stun.h"

#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct stun_msg sm;
	static struct mice_mh m;

	if (mice_demux(data, size) == MICE_DEMUX_STUN) {
		CHECK(stun_msg_parse(&sm, data, size) == 0);
		CHECK(sm.fp >= 0 && stun_msg_fingerprint_ok(&sm));
		CHECK(sm.attr[sm.fp].off + 4u == size);
		return 0;
	}
	(void)mice_mh_parse(&m, data, size, MICE_OPT_EXPERIMENTAL);
	return 0;
}
