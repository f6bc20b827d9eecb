/* The control socket client and password input for twistctl. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ctl/ctl.h"

static long ms_left(const struct timespec *end)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (end->tv_sec - now.tv_sec) * 1000 + (end->tv_nsec - now.tv_nsec) / 1000000;
}

/* Reads up to the first LF, until the deadline. */
static int read_line(int fd, char *out, size_t outlen, const struct timespec *end)
{
	size_t n = 0;

	while (n + 1 < outlen) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long left = ms_left(end);
		ssize_t r;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!(p.revents & (POLLIN | POLLHUP)))
			continue;
		r = read(fd, out + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? -ECONNRESET : -errno;
		if (out[n] == '\n')
			break;
		n++;
	}
	out[n] = '\0';
	return 0;
}

int ctl_open(struct ctl_link *l, const char *socket_path, const char *cmd)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	size_t len = strlen(cmd);
	int rc;

	l->fd = -1;
	if (!socket_path[0])
		return -ENOENT; /* control.socket "": the relay has none */
	if (strlen(socket_path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, socket_path);
	if ((l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	clock_gettime(CLOCK_MONOTONIC, &l->end);
	l->end.tv_sec += CTL_WAIT_S;
	if (connect(l->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		goto bad;
	if (send(l->fd, cmd, len, MSG_NOSIGNAL) != (ssize_t)len ||
	    send(l->fd, "\n", 1, MSG_NOSIGNAL) != 1)
		goto bad;
	return 0;
bad:
	rc = -errno;
	close(l->fd);
	l->fd = -1;
	return rc;
}

int ctl_line(struct ctl_link *l, char *out, size_t outlen)
{
	return read_line(l->fd, out, outlen, &l->end);
}

void ctl_close(struct ctl_link *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

int ctl_ask(const char *socket_path, const char *cmd, char *out, size_t outlen)
{
	struct ctl_link l;
	int rc = ctl_open(&l, socket_path, cmd);

	if (rc == 0)
		rc = ctl_line(&l, out, outlen);
	ctl_close(&l);
	return rc;
}

static int read_tty_line(int fd, const char *prompt, char *out, size_t outlen)
{
	struct termios old, quiet;
	ssize_t n = 0, r;
	bool echo_off;

	if (write(fd, prompt, strlen(prompt)) < 0)
		return -1;
	echo_off = tcgetattr(fd, &old) == 0;
	if (echo_off) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	while ((size_t)n + 1 < outlen && (r = read(fd, out + n, 1)) == 1 && out[n] != '\n')
		n++;
	out[n] = '\0';
	if (echo_off)
		tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0)
		return -1;
	return 0;
}

int ctl_password_read(int from_stdin, char *out, size_t outlen)
{
	char again[256];
	size_t n;
	int fd;

	if (from_stdin) {
		if (!fgets(out, (int)outlen, stdin)) {
			fprintf(stderr, "twistctl: no password on stdin\n");
			return -1;
		}
		n = strcspn(out, "\r\n");
		out[n] = '\0';
		return 0;
	}
	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC)) < 0) {
		fprintf(stderr, "twistctl: no terminal to prompt on: use --password-stdin\n");
		return -1;
	}
	if (read_tty_line(fd, "Password: ", out, outlen) < 0 ||
	    read_tty_line(fd, "Again: ", again, sizeof(again)) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	if (strcmp(out, again) != 0) {
		fprintf(stderr, "twistctl: the passwords differ\n");
		return -1;
	}
	return 0;
}
