#include "relay/fastpath_deadline.h"

uint64_t fastpath_deadline(uint64_t now_ms, uint64_t chan_expires, uint64_t perm_expires,
                           uint64_t alloc_expires)
{
	uint64_t d = chan_expires < perm_expires ? chan_expires : perm_expires;

	d = d < alloc_expires ? d : alloc_expires;
	/* now + guard cannot wrap: both are small monotonic figures. */
	if (d <= now_ms + FASTPATH_GUARD_MS)
		return 0;
	return d - FASTPATH_GUARD_MS;
}
