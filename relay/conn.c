#include <stddef.h>

#include "relay/conn.h"
#include "relay/tcp.h"
#include "relay/udp.h"

const struct conn_ops *conn_ops_for(uint8_t transport)
{
	const struct conn_ops *all[] = {udp_conn_ops(), tcp_conn_ops()};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (all[i]->transport == transport)
			return all[i];
	return NULL;
}
