/*
 * The few nanomsg socket chores link.c and local.c share: options and the
 * level-signalled readiness fds (nn_getsockopt(3): NN_RCVFD is readable
 * while a message can be received, NN_SNDFD while one can be sent; the fds
 * are for polling only, never for reading or writing).
 */
#ifndef TWIST_SYNCD_NNUTIL_H
#define TWIST_SYNCD_NNUTIL_H

#include <stddef.h>

/* An SP socket of the given protocol with the size cap set; -errno on failure. */
int nnu_socket(int protocol, size_t rcvmax);
int nnu_fd(int sock, int option);
int nnu_set_int(int sock, int level, int option, int value);

#endif
