#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ha/ha.h"

/*
 * Temp file in the same directory, fsync, rename: a reader (twist-syncd,
 * keepalived's inotify on the track file) sees the old or the new content,
 * never a torn one.
 */
int ha_file_write_atomic(const char *path, const char *content)
{
	char tmp[4096];
	size_t len = strlen(content), off = 0;
	int fd, rc = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, content + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			goto bad;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0) {
		rc = -errno;
		goto bad;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = -errno;
		goto bad;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = -errno;
		goto bad;
	}
	return 0;
bad:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

/* At most len - 1 bytes, NUL-terminated; a longer file is an error. */
int ha_file_read_small(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len);
	if (n < 0)
		rc = -errno;
	else if ((size_t)n >= len)
		rc = -EFBIG;
	else
		buf[n] = '\0';
	close(fd);
	return rc;
}

/* A pid file: decimal digits, an optional newline, nothing else. */
int ha_pidfile_read(const char *path, pid_t *pid)
{
	char buf[32];
	long v = 0;
	size_t i;
	int rc;

	rc = ha_file_read_small(path, buf, sizeof(buf));
	if (rc < 0)
		return rc;
	for (i = 0; buf[i] >= '0' && buf[i] <= '9'; i++) {
		v = v * 10 + (buf[i] - '0');
		if (v > 4194304) /* PID_MAX_LIMIT */
			return -EINVAL;
	}
	if (i == 0 || v < 2 || !(buf[i] == '\0' || (buf[i] == '\n' && buf[i + 1] == '\0')))
		return -EINVAL;
	*pid = (pid_t)v;
	return 0;
}
