#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "syncd/role.h"

struct role {
	char *path;
	bool known; /* stat has been seen once */
	bool exists;
	struct stat st; /* of the last read */
	bool master;
};

struct role *role_new(const char *path)
{
	struct role *r = calloc(1, sizeof(*r));

	if (!r || !(r->path = strdup(path))) {
		free(r);
		return NULL;
	}
	return r;
}

void role_free(struct role *r)
{
	if (!r)
		return;
	free(r->path);
	free(r);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* "master" or "backup", surrounded by whitespace; anything else is -EINVAL. */
static int role_parse(const char *buf, size_t n, bool *master)
{
	size_t a = 0;

	while (a < n && isspace((unsigned char)buf[a]))
		a++;
	while (n > a && isspace((unsigned char)buf[n - 1]))
		n--;
	if (n - a == 6 && memcmp(buf + a, "master", 6) == 0)
		*master = true;
	else if (n - a == 6 && memcmp(buf + a, "backup", 6) == 0)
		*master = false;
	else
		return -EINVAL;
	return 0;
}

static bool role_read(struct role *r)
{
	char buf[64];
	ssize_t n;
	bool master = false;
	int fd = open(r->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		if (errno != ENOENT)
			log_warn("role file %s: %s; taking backup", r->path, strerror(errno));
		return false;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0 || role_parse(buf, (size_t)n, &master) < 0) {
		log_warn("role file %s: expected 'master' or 'backup'; taking backup", r->path);
		return false;
	}
	return master;
}

bool role_check(struct role *r, bool force)
{
	struct stat st;
	bool exists = stat(r->path, &st) == 0;

	if (!force && r->known && exists == r->exists && (!exists || same_file(&st, &r->st)))
		return r->master;
	r->known = true;
	r->exists = exists;
	if (exists)
		r->st = st;
	r->master = exists && role_read(r);
	return r->master;
}
