/* twistctl internals: the relay's control socket and password input. */
#ifndef TWIST_CTL_CTL_H
#define TWIST_CTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define CTL_DEFAULT_DB     "/var/lib/twist/users.db"
#define CTL_DEFAULT_SOCKET "/run/twist/relay.sock"
#define CTL_DEFAULT_CONFIG "/etc/twist/twist-relay.yaml"
#define CTL_WAIT_S         10 /* for the relay's answer */

/*
 * Sends one command line and reads the answer line into out (without LF).
 * 0; -ECONNREFUSED or -ENOENT when no relay listens; -ETIMEDOUT; -errno.
 */
int ctl_ask(const char *socket_path, const char *cmd, char *out, size_t outlen);

/* A conversation with more than one answer line (docs/operations.md). */
struct ctl_link {
	int fd;
	struct timespec end; /* CTL_WAIT_S after the command */
};

/* Connects and sends cmd: 0, or -errno (the socket is missing, refused...). */
int ctl_open(struct ctl_link *l, const char *socket_path, const char *cmd);
/* The next answer line without its LF: 0, -ETIMEDOUT, -ECONNRESET, -errno. */
int ctl_line(struct ctl_link *l, char *out, size_t outlen);
void ctl_close(struct ctl_link *l);

#define CTL_EXIT_NO      1 /* the relay said no */
#define CTL_EXIT_USAGE   2
#define CTL_EXIT_NOREACH 3 /* the control socket cannot be reached */

/* The relay's own verbs (ctl_relay.c): status, sessions, drain, undrain, role, reload. */
struct ctl_relay_opts {
	const char *sock;
	bool json;
	const char *user; /* sessions --user */
};
/* Exit status; messages on stderr. */
int ctl_relay_cmd(const struct ctl_relay_opts *o, const char *verb);
/* "cannot reach the control socket PATH: why", and CTL_EXIT_NOREACH. */
int ctl_noreach(const char *sock, int err);

/*
 * A password: from stdin (one line) when from_stdin, else prompted for twice
 * on /dev/tty without echo. 0, or -1 with a message printed.
 */
int ctl_password_read(int from_stdin, char *out, size_t outlen);

#endif
