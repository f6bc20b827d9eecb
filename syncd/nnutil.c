#include <errno.h>
#include <nanomsg/nn.h>

#include "syncd/nnutil.h"

int nnu_set_int(int sock, int level, int option, int value)
{
	return nn_setsockopt(sock, level, option, &value, sizeof(value)) < 0 ? -nn_errno() : 0;
}

int nnu_socket(int protocol, size_t rcvmax)
{
	int s = nn_socket(AF_SP, protocol), rc;

	if (s < 0)
		return -nn_errno();
	/* Above FLOW_MAX_MSG so that an oversized message is read and counted. */
	if ((rc = nnu_set_int(s, NN_SOL_SOCKET, NN_RCVMAXSIZE, (int)rcvmax)) < 0) {
		nn_close(s);
		return rc;
	}
	return s;
}

int nnu_fd(int sock, int option)
{
	int fd = -1;
	size_t sz = sizeof(fd);

	if (nn_getsockopt(sock, NN_SOL_SOCKET, option, &fd, &sz) < 0)
		return -nn_errno();
	return fd;
}
