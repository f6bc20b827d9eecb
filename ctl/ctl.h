/* twistctl internals: the relay's control socket and password input. */
#ifndef TWIST_CTL_CTL_H
#define TWIST_CTL_CTL_H

#include <stddef.h>

#define CTL_DEFAULT_DB     "/var/lib/twist/users.db"
#define CTL_DEFAULT_SOCKET "/run/twist/relay.sock"
#define CTL_DEFAULT_CONFIG "/etc/twist/twist-relay.yaml"
#define CTL_WAIT_S         10 /* for the relay's answer */

/*
 * Sends one command line and reads the answer line into out (without LF).
 * 0; -ECONNREFUSED or -ENOENT when no relay listens; -ETIMEDOUT; -errno.
 */
int ctl_ask(const char *socket_path, const char *cmd, char *out, size_t outlen);

/*
 * A password: from stdin (one line) when from_stdin, else prompted for twice
 * on /dev/tty without echo. 0, or -1 with a message printed.
 */
int ctl_password_read(int from_stdin, char *out, size_t outlen);

#endif
