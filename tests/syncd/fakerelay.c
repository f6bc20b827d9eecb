#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/syncd/fakerelay.h"
#include "tests/syncd/util.h"

uint64_t fr_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int fr_ipc_connect(int proto, const char *dir, const char *name)
{
	char url[300];
	int s = nn_socket(AF_SP, proto), v = 10;

	if (s < 0)
		return -1;
	snprintf(url, sizeof(url), "ipc://%s/%s", dir, name);
	nn_setsockopt(s, NN_SOL_SOCKET, NN_RECONNECT_IVL, &v, sizeof(v));
	v = 4 << 20;
	nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVMAXSIZE, &v, sizeof(v));
	if (nn_connect(s, url) < 0) {
		nn_close(s);
		return -1;
	}
	return s;
}

int fr_open(struct frelay *r, const char *dir)
{
	memset(r, 0, sizeof(*r));
	r->tab = calloc(FR_MAX, sizeof(*r->tab));
	r->push = fr_ipc_connect(NN_PUSH, dir, "sync-in.ipc");
	r->pull = fr_ipc_connect(NN_PULL, dir, "sync-out.ipc");
	if (!r->tab || r->push < 0 || r->pull < 0) {
		fr_close(r);
		return -1;
	}
	return 0;
}

void fr_close(struct frelay *r)
{
	if (r->push >= 0)
		nn_close(r->push);
	if (r->pull >= 0)
		nn_close(r->pull);
	free(r->tab);
	r->tab = NULL;
	r->push = r->pull = -1;
}

void fr_clear(struct frelay *r)
{
	memset(r->tab, 0, FR_MAX * sizeof(*r->tab));
	r->live = 0;
}

int fr_send_raw(struct frelay *r, const void *buf, size_t len)
{
	/* A bound for a loaded machine, not a verdict: syncd drains its ipc when it can. */
	uint64_t end = fr_now_us() + 30000000;

	while (nn_send(r->push, buf, len, NN_DONTWAIT) < 0) {
		if (nn_errno() != EAGAIN || fr_now_us() > end)
			return -1;
		fr_poll(&r, 1, 1); /* keep reading meanwhile: syncd may be waiting on us */
	}
	return 0;
}

int fr_send(struct frelay *r, const Twist__Local *m)
{
	size_t len = twist__local__get_packed_size(m);
	uint8_t *buf = malloc(len + 1);
	int rc;

	if (!buf)
		return -1;
	twist__local__pack(m, buf);
	rc = fr_send_raw(r, buf, len);
	free(buf);
	return rc;
}

static int send_flows(struct frelay *r, unsigned first, unsigned n, bool del, uint64_t token,
                      bool reply)
{
	static struct util_flow u[512];
	static Twist__Flow *fp[512];
	Twist__Local m = TWIST__LOCAL__INIT;

	while (n) {
		unsigned k = n < 512 ? n : 512;

		twist__local__init(&m);
		for (unsigned i = 0; i < k; i++) {
			util_flow_init(&u[i], first + i, false, 1, 1, 600);
			if (del) {
				u[i].f.deleted = 1;
				u[i].f.n_relayed = u[i].f.n_perms = u[i].f.n_chans = 0;
			}
			fp[i] = &u[i].f;
		}
		m.n_flows = k;
		m.flows = fp;
		m.dump_reply = reply;
		if (k == n && token) {
			m.n_tokens = 1;
			m.tokens = &token;
		}
		if (fr_send(r, &m) < 0)
			return -1;
		first += k;
		n -= k;
	}
	return 0;
}

int fr_push_range(struct frelay *r, unsigned first, unsigned n, bool del, uint64_t token)
{
	if (n == 0 && token) {
		Twist__Local m = TWIST__LOCAL__INIT;

		m.n_tokens = 1;
		m.tokens = &token;
		return fr_send(r, &m);
	}
	return send_flows(r, first, n, del, token, false);
}

int fr_ask_dump(struct frelay *r)
{
	Twist__Local m = TWIST__LOCAL__INIT;

	m.dump = 1;
	return fr_send(r, &m);
}

static void take_flow(struct frelay *r, const Twist__Flow *f)
{
	long i = util_flow_index(f);
	struct fr_flow *e;

	if (f->deleted)
		r->deletes++;
	else
		r->imports++;
	if (r->on_flow)
		r->on_flow(r, f);
	if (i < 0 || i >= FR_MAX)
		return;
	e = &r->tab[i];
	if (f->deleted) {
		if (e->present)
			r->live--;
		memset(e, 0, sizeof(*e));
		return;
	}
	if (!e->present)
		r->live++;
	e->present = 1;
	e->lifetime = f->lifetime;
	e->relport = f->n_relayed ? (uint16_t)(f->relayed[0].data[f->relayed[0].len - 2] << 8 |
	                                       f->relayed[0].data[f->relayed[0].len - 1])
	                          : 0;
	e->nperm = (uint8_t)f->n_perms;
	e->nchan = (uint8_t)f->n_chans;
}

static void take(struct frelay *r, Twist__Local *m)
{
	r->msgs++;
	r->synced = m->peer_synced;
	r->heartbeats += m->heartbeat;
	for (size_t i = 0; i < m->n_flows; i++)
		take_flow(r, m->flows[i]);
	for (size_t i = 0; i < m->n_tokens && r->n_tokens < 4096; i++)
		r->tokens[r->n_tokens++] = m->tokens[i];
	r->dump_ends += m->dump_end;
	if (m->dump) {
		/* syncd restarted: answer with our flows, like the relay (dump_reply). */
		r->dump_asks++;
		if (r->reply_n)
			send_flows(r, r->reply_first, r->reply_n, false, 0, true);
	}
}

static int drain(struct frelay *r)
{
	int n = 0;

	for (;;) {
		void *buf = NULL;
		int len = nn_recv(r->pull, &buf, NN_MSG, NN_DONTWAIT);
		Twist__Local *m;

		if (len < 0)
			return n;
		m = flow_local_unpack(buf, (size_t)len);
		nn_freemsg(buf);
		if (!m) {
			fprintf(stderr, "fakerelay: twist-syncd sent an invalid message\n");
			continue;
		}
		take(r, m);
		twist__local__free_unpacked(m, flow_allocator());
		n++;
	}
}

int fr_poll(struct frelay **rs, size_t n, int timeout_ms)
{
	return fr_poll_us(rs, n, timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000);
}

int fr_poll_us(struct frelay **rs, size_t n, int64_t timeout_us)
{
	struct timespec ts = {(time_t)(timeout_us / 1000000), (long)(timeout_us % 1000000) * 1000};
	struct pollfd pfd[8];
	int got = 0;

	for (size_t i = 0; i < n && i < 8; i++) {
		size_t sz = sizeof(int);
		int fd = -1;

		nn_getsockopt(rs[i]->pull, NN_SOL_SOCKET, NN_RCVFD, &fd, &sz);
		pfd[i].fd = fd;
		pfd[i].events = POLLIN;
	}
	if (ppoll(pfd, (nfds_t)n, timeout_us < 0 ? NULL : &ts, NULL) < 0 && errno != EINTR)
		return -1;
	for (size_t i = 0; i < n; i++)
		got += drain(rs[i]);
	return got;
}

bool fr_wait(struct frelay **rs, size_t n, bool (*cond)(void *), void *arg, int timeout_ms)
{
	uint64_t end = fr_now_us() + (uint64_t)timeout_ms * 1000;

	for (;;) {
		fr_poll(rs, n, 0);
		if (cond(arg))
			return true;
		if (fr_now_us() > end)
			return false;
		fr_poll(rs, n, 5);
	}
}

bool fr_has_token(const struct frelay *r, uint64_t token)
{
	for (size_t i = 0; i < r->n_tokens; i++)
		if (r->tokens[i] == token)
			return true;
	return false;
}

pid_t fr_spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

int fr_node_init(struct fr_node *n, const char *tmp, const char *name, int id, const char *role)
{
	FILE *f;

	memset(n, 0, sizeof(*n));
	n->id = id;
	n->port = fr_free_port();
	n->mport = fr_free_port();
	snprintf(n->dir, sizeof(n->dir), "%s/%s", tmp, name);
	snprintf(n->role, sizeof(n->role), "%s/role", n->dir);
	snprintf(n->log, sizeof(n->log), "%s/syncd-%s.log", tmp, name);
	if (!n->port || !n->mport || n->port == n->mport || mkdir(n->dir, 0750) < 0)
		return -1;
	if (!(f = fopen(n->role, "w")))
		return -1;
	fprintf(f, "%s\n", role);
	fclose(f);
	return 0;
}

pid_t fr_node_start(struct fr_node *n, const struct fr_node *p, const char *bin,
                    const char *const *extra)
{
	char id[16], pid[16], listen[64], peer[64], metrics[64];
	const char *argv[40] = {bin,        "--node-id",   id,       "--peer-id", pid,
	                        "--listen", listen,        "--peer", peer,        "--ipc-dir",
	                        n->dir,     "--role-file", n->role,  "--metrics", metrics};
	size_t k = 15;

	snprintf(id, sizeof(id), "%d", n->id);
	snprintf(pid, sizeof(pid), "%d", p->id);
	snprintf(listen, sizeof(listen), "tcp://127.0.0.1:%u", n->port);
	snprintf(peer, sizeof(peer), "tcp://127.0.0.1:%u", p->port);
	snprintf(metrics, sizeof(metrics), "127.0.0.1:%u", n->mport);
	for (; extra && *extra && k < 39; extra++)
		argv[k++] = *extra;
	argv[k] = NULL;
	n->pid = fr_spawn((char *const *)argv, n->log);
	return n->pid;
}

int fr_stop(pid_t pid, bool kill9, int timeout_ms)
{
	uint64_t end = fr_now_us() + (uint64_t)timeout_ms * 1000;
	int status;

	if (pid <= 0)
		return -1;
	kill(pid, kill9 ? SIGKILL : SIGTERM);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (fr_now_us() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		usleep(5000);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return kill9 && WIFSIGNALED(status) ? 0 : -1;
}

uint16_t fr_free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port = 0;

	if (fd < 0)
		return 0;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

void fr_rmtree(const char *dir)
{
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static ssize_t http_get(uint16_t port, const char *path, char *out, size_t cap)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons(port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {10, 0}; /* a loaded ASan syncd can be slow to answer */
	char req[256];
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto bad;
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
	if (write(fd, req, (size_t)n) != n)
		goto bad;
	while (got + 1 < cap && (n = read(fd, out + got, cap - got - 1)) > 0)
		got += (size_t)n;
	out[got] = 0;
	close(fd);
	return (ssize_t)got;
bad:
	close(fd);
	return -1;
}

double fr_metric(uint16_t port, const char *name)
{
	static char buf[1 << 17];
	size_t nl = strlen(name);

	if (http_get(port, "/metrics", buf, sizeof(buf)) < 0)
		return -1;
	for (char *line = buf; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (strncmp(line, name, nl) == 0 && line[nl] == ' ')
			return strtod(line + nl + 1, NULL);
	return -1;
}
