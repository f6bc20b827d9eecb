/* The encapsulation port: draft-tschofenig-mip6-ice-01 §12's demux in front of the home agent. */
#include "proto/mice_demux.h"
#include "relay/dataplane.h"
#include "relay/mice_ha.h"
#include "relay/mice_port.h"
#include "relay/relay.h"

struct port_out {
	struct worker *w;
	int fd;
};

static void port_send(void *ctx, const struct tw_addr *dst, const uint8_t *buf, size_t len)
{
	struct port_out *o = ctx;

	(void)tx_now(o->w, o->fd, dst, buf, len);
}

bool mice_port_input(struct worker *w, const struct listener *l, const struct tw_addr *src,
                     const uint8_t *buf, size_t len)
{
	struct port_out o = {w, l->fd};
	struct mice_ha_out out = {port_send, &o, l->addr};

	if (!l->mice || !w->r->mice)
		return false;
	if (mice_demux(buf, len) == MICE_DEMUX_STUN) {
		mice_ha_count_stun(w->r->mice);
		return false;
	}
	mice_ha_input(w->r->mice, w->now_ms, src, buf, len, &out);
	return true;
}
