/*
 * Sibling reports over nanomsg (docs/cluster-protocol.md): a PUB socket on
 * cluster.listen carries this node's report every interval; one SUB socket
 * per sibling, connected to its report address, receives its reports. Both
 * sit on the main thread's loop, never on the packet path. nanomsg
 * reconnects by itself, so a sibling that restarts is heard again without
 * anything here noticing.
 *
 * Locking: the sibling table and the recent-redirect ring are under
 * c->lock, taken by the main thread (reports in and out) and by a worker
 * that redirects (cluster_pick). Everything a worker reads per Allocate is
 * an atomic in struct relay.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/log.h"
#include "relay/cluster.h"
#include "relay/registry.h"
#include "relay/relay.h"
#include "relay/sync.h"

_Static_assert(REDIRECT__COUNT == sizeof(((struct relay *)0)->redirects) / sizeof(uint64_t),
               "one counter per redirect reason");

#define SILENT_INTERVALS 3     /* a sibling unheard this many intervals is down */
#define RECENT_MS        5000  /* how long a redirected client stays in our reports */
#define FRESH_WINDOW_MS  30000 /* wall clocks of siblings may differ this much */
#define RECV_PER_CALL    64
#define KEY_MAX          256

struct sib {
	const struct cfg_sibling *cfg;
	struct cluster *c;
	int sock;
	struct event *ev;
	bool heard, was_up;
	uint64_t heard_ms; /* monotonic, at the last good report */
	struct cluster_report last;
	unsigned pending; /* clients sent its way since its last report */
};

struct recent {
	uint64_t hash, at_ms;
};

struct cluster {
	struct relay *r;
	pthread_mutex_t lock;
	int pub;
	struct event *tick;
	struct sib sibs[CFG_MAX_SIBLINGS];
	unsigned n_sibs;
	uint8_t key[KEY_MAX];
	size_t keylen;
	uint64_t boot_id, seq;
	struct recent recent[CLUSTER_RECENT_MAX];
	unsigned recent_next;
	uint64_t reports[CLUSTER__COUNT]; /* main thread only */
	uint64_t last_tick_ms, last_bytes, last_cpu_us;
	uint64_t bytes_per_s;
	uint16_t cpu_permille;
	uint64_t log_last;
};

/* Node names are at most CLUSTER_NAME_MAX bytes (config_check.c). */
static void name_copy(char *dst, const char *src)
{
	size_t n = strnlen(src, CLUSTER_NAME_MAX);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static uint64_t interval_ms(const struct relay *r)
{
	return r->cfg.cluster_interval_ms;
}

static bool sib_up(const struct sib *s, uint64_t now)
{
	return s->heard && now - s->heard_ms < SILENT_INTERVALS * interval_ms(s->c->r);
}

/* The secret from the config or its file; a trailing newline is not part of it. */
static int key_load(struct cluster *c, const struct config *cfg)
{
	const char *path = cfg->cluster_secret_file;
	ssize_t n;
	int fd;

	if (cfg->cluster_secret[0]) {
		c->keylen = strlen(cfg->cluster_secret);
		memcpy(c->key, cfg->cluster_secret, c->keylen);
		return 0;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		log_err("cluster.secret_file %s: %s", path, strerror(errno));
		return -errno;
	}
	n = read(fd, c->key, sizeof(c->key));
	close(fd);
	while (n > 0 && (c->key[n - 1] == '\n' || c->key[n - 1] == '\r'))
		n--;
	if (n < 16 || n >= (ssize_t)sizeof(c->key)) {
		log_err("cluster.secret_file %s: want 16 to %zu bytes", path, sizeof(c->key) - 1);
		return -EINVAL;
	}
	c->keylen = (size_t)n;
	return 0;
}

enum cluster_role cluster_role_now(struct relay *r)
{
	char path[CFG_STR + 8], buf[16] = "";
	FILE *f;

	if (!r->cfg.ha_enabled)
		return CLUSTER_ROLE_STANDALONE;
	if (r->cfg.ha_role_file[0])
		snprintf(path, sizeof(path), "%s", r->cfg.ha_role_file);
	else
		snprintf(path, sizeof(path), "%s/role", r->cfg.ha_ipc_dir);
	if (!(f = fopen(path, "re")))
		return CLUSTER_ROLE_BACKUP; /* no role written yet: not the master */
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return strncmp(buf, "master", 6) == 0 ? CLUSTER_ROLE_MASTER : CLUSTER_ROLE_BACKUP;
}

enum cluster_sync cluster_sync_now(struct relay *r)
{
	if (!r->cfg.ha_enabled)
		return CLUSTER_SYNC_NONE;
	if (!sync_connected(r))
		return CLUSTER_SYNC_DOWN;
	return sync_peer_ready(r) ? CLUSTER_SYNC_SYNCED : CLUSTER_SYNC_PARTIAL;
}

/* Relayed bytes per second and process CPU, over the last interval. */
static void load_sample(struct cluster *c, uint64_t now)
{
	struct relay *r = c->r;
	struct rusage ru;
	uint64_t bytes = 0, cpu = 0, dt = now - c->last_tick_ms;

	for (unsigned i = 0; i < r->n_workers; i++)
		bytes += (uint64_t)STAT_GET(&r->workers[i]->st, rx_client_bytes) +
		         (uint64_t)STAT_GET(&r->workers[i]->st, rx_peer_bytes);
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu = (uint64_t)ru.ru_utime.tv_sec * 1000000 + (uint64_t)ru.ru_utime.tv_usec +
		      (uint64_t)ru.ru_stime.tv_sec * 1000000 + (uint64_t)ru.ru_stime.tv_usec;
	if (c->last_tick_ms && dt) {
		uint64_t pm = (cpu - c->last_cpu_us) / dt; /* us per ms = permille */

		c->bytes_per_s = (bytes - c->last_bytes) * 1000 / dt;
		c->cpu_permille = pm > UINT16_MAX ? UINT16_MAX : (uint16_t)pm;
	}
	c->last_tick_ms = now;
	c->last_bytes = bytes;
	c->last_cpu_us = cpu;
}

/* Under c->lock: the clients redirected in the last RECENT_MS. */
static void recent_fill(struct cluster *c, struct cluster_report *rep, uint64_t now)
{
	rep->n_recent = 0;
	for (unsigned i = 0; i < CLUSTER_RECENT_MAX; i++) {
		const struct recent *e = &c->recent[i];

		if (e->hash && now - e->at_ms < RECENT_MS)
			rep->recent[rep->n_recent++] = e->hash;
	}
}

static void report_send(struct cluster *c, uint64_t now)
{
	struct relay *r = c->r;
	struct cluster_report rep = {0};
	uint8_t buf[CLUSTER_MSG_MAX];
	int len;

	name_copy(rep.name, r->cfg.cluster_node);
	rep.seq = ++c->seq;
	rep.boot_id = c->boot_id;
	rep.wall_ms = clock_wall_ms();
	rep.allocs = (uint32_t)registry_count(r->reg);
	rep.capacity = r->cfg.cluster_capacity ? r->cfg.cluster_capacity : r->cfg.max_allocations;
	rep.bytes_per_s = c->bytes_per_s;
	rep.cpu_permille = c->cpu_permille;
	if (__atomic_load_n(&r->draining, __ATOMIC_RELAXED))
		rep.flags |= CLUSTER_F_DRAINING;
	if (__atomic_load_n(&r->redirecting, __ATOMIC_RELAXED))
		rep.flags |= CLUSTER_F_REDIRECTING;
	rep.role = (uint8_t)cluster_role_now(r);
	rep.sync = (uint8_t)cluster_sync_now(r);
	pthread_mutex_lock(&c->lock);
	recent_fill(c, &rep, now);
	pthread_mutex_unlock(&c->lock);
	len = cluster_report_pack(&rep, c->key, c->keylen, buf, sizeof(buf));
	if (len > 0 && nn_send(c->pub, buf, (size_t)len, NN_DONTWAIT) < 0 &&
	    log_ratelimit(&c->log_last, now, 10000))
		log_warn("cluster: report not sent: %s", nn_strerror(nn_errno()));
}

/* Up and down, logged once per change. */
static void health_log(struct cluster *c, uint64_t now)
{
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->n_sibs; i++) {
		struct sib *s = &c->sibs[i];
		bool up = sib_up(s, now);

		if (up != s->was_up)
			log_info("cluster: sibling %s is %s", s->cfg->name,
			         up ? "up" : "down (silent for 3 intervals)");
		s->was_up = up;
	}
	pthread_mutex_unlock(&c->lock);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cluster *c = arg;
	uint64_t now = relay_now_ms();

	(void)fd;
	(void)what;
	load_sample(c, now);
	report_send(c, now);
	health_log(c, now);
}

static void count(struct cluster *c, enum cluster_verdict v, const char *from)
{
	uint64_t now = relay_now_ms();

	c->reports[v]++;
	if (v != CLUSTER_OK && log_ratelimit(&c->log_last, now, 1000))
		log_warn("cluster: report on %s's socket dropped: %s (counted; logged once a "
		         "second)",
		         from, cluster_verdict_name(v));
}

static void report_take(struct sib *s, const uint8_t *buf, size_t len)
{
	struct cluster *c = s->c;
	struct cluster_report rep;
	enum cluster_verdict v = cluster_report_unpack(buf, len, c->key, c->keylen, &rep);

	/* A report in another sibling's name on this socket is a misconfiguration
	 * or a replay from elsewhere: not this sibling's load. */
	if (v == CLUSTER_OK && strcmp(rep.name, s->cfg->name) != 0)
		v = CLUSTER_MALFORMED;
	pthread_mutex_lock(&c->lock);
	if (v == CLUSTER_OK &&
	    (!cluster_report_fresh(&rep, s->last.boot_id, s->last.seq, s->last.wall_ms,
	                           clock_wall_ms(), FRESH_WINDOW_MS)))
		v = CLUSTER_STALE;
	if (v == CLUSTER_OK) {
		s->last = rep;
		s->heard = true;
		s->heard_ms = relay_now_ms();
		s->pending = 0;
	}
	pthread_mutex_unlock(&c->lock);
	count(c, v, s->cfg->name);
}

static void sub_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sib *s = arg;

	(void)fd;
	(void)what;
	for (int i = 0; i < RECV_PER_CALL; i++) {
		void *buf = NULL;
		int n = nn_recv(s->sock, &buf, NN_MSG, NN_DONTWAIT);

		if (n < 0)
			break;
		report_take(s, buf, (size_t)n);
		nn_freemsg(buf);
	}
}

static int sub_open(struct cluster *c, struct sib *s, struct event_base *base)
{
	int max = CLUSTER_MSG_MAX, fd;
	size_t sz = sizeof(fd);

	s->sock = nn_socket(AF_SP, NN_SUB);
	if (s->sock < 0 || nn_setsockopt(s->sock, NN_SUB, NN_SUB_SUBSCRIBE, "", 0) < 0 ||
	    nn_setsockopt(s->sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &max, sizeof(max)) < 0 ||
	    nn_connect(s->sock, s->cfg->report) < 0 ||
	    nn_getsockopt(s->sock, NN_SOL_SOCKET, NN_RCVFD, &fd, &sz) < 0) {
		log_err("cluster: sibling %s at %s: %s", s->cfg->name, s->cfg->report,
		        nn_strerror(nn_errno()));
		return -EIO;
	}
	s->ev = event_new(base, fd, EV_READ | EV_PERSIST, sub_cb, s);
	if (!s->ev || event_add(s->ev, NULL) < 0)
		return -ENOMEM;
	(void)c;
	return 0;
}

static int pub_open(struct cluster *c)
{
	const char *url = c->r->cfg.cluster_listen;

	c->pub = nn_socket(AF_SP, NN_PUB);
	if (c->pub < 0 || nn_bind(c->pub, url) < 0) {
		log_err("cluster.listen %s: %s", url, nn_strerror(nn_errno()));
		return -EIO;
	}
	return 0;
}

int cluster_start(struct relay *r, struct event_base *base)
{
	const struct config *cfg = &r->cfg;
	struct timeval tv = {cfg->cluster_interval_ms / 1000,
	                     (cfg->cluster_interval_ms % 1000) * 1000};
	struct cluster *c;
	int rc;

	if (!cfg->cluster_node[0])
		return 0;
	if (!(c = calloc(1, sizeof(*c))))
		return -ENOMEM;
	c->r = r;
	c->pub = -1;
	pthread_mutex_init(&c->lock, NULL);
	r->cluster = c;
	if ((rc = key_load(c, cfg)) < 0)
		return rc;
	if (RAND_bytes((unsigned char *)&c->boot_id, sizeof(c->boot_id)) != 1)
		return -EIO;
	if ((rc = pub_open(c)) < 0)
		return rc;
	for (unsigned i = 0; i < cfg->n_siblings; i++) {
		struct sib *s = &c->sibs[c->n_sibs++];

		s->cfg = &cfg->siblings[i];
		s->c = c;
		if ((rc = sub_open(c, s, base)) < 0)
			return rc;
	}
	c->tick = event_new(base, -1, EV_PERSIST, tick_cb, c);
	if (!c->tick || event_add(c->tick, &tv) < 0)
		return -ENOMEM;
	log_info("cluster: node %s publishing on %s every %u ms, %u siblings, high water %u",
	         cfg->cluster_node, cfg->cluster_listen, cfg->cluster_interval_ms, c->n_sibs,
	         cfg->cluster_high_water);
	return 0;
}

void cluster_stop(struct relay *r)
{
	struct cluster *c = r->cluster;

	if (!c)
		return;
	for (unsigned i = 0; i < c->n_sibs; i++) {
		if (c->sibs[i].ev)
			event_free(c->sibs[i].ev);
		if (c->sibs[i].sock >= 0)
			nn_close(c->sibs[i].sock);
	}
	if (c->tick)
		event_free(c->tick);
	if (c->pub >= 0)
		nn_close(c->pub);
	pthread_mutex_destroy(&c->lock);
	OPENSSL_cleanse(c->key, sizeof(c->key));
	free(c);
	r->cluster = NULL;
}

static unsigned low_water(const struct config *cfg)
{
	return cfg->cluster_low_water ? cfg->cluster_low_water
	                              : (unsigned)((uint64_t)cfg->cluster_high_water * 9 / 10);
}

bool cluster_should_redirect(struct relay *r, enum redirect_reason *why)
{
	unsigned hw = r->cfg.cluster_high_water;
	size_t n;
	int red;

	if (__atomic_load_n(&r->draining, __ATOMIC_RELAXED)) {
		*why = REDIRECT_DRAINING;
		return true;
	}
	*why = REDIRECT_HIGH_WATER;
	if (!r->cluster || hw == 0)
		return false;
	n = registry_count(r->reg);
	red = __atomic_load_n(&r->redirecting, __ATOMIC_RELAXED);
	/* Hysteresis: on at high water, off only at low water. */
	if (!red && n >= hw) {
		if (!__atomic_exchange_n(&r->redirecting, 1, __ATOMIC_RELAXED))
			log_info("cluster: %zu allocations, at high water (%u): redirecting new "
			         "Allocates",
			         n, hw);
		return true;
	}
	if (red && n <= low_water(&r->cfg)) {
		if (__atomic_exchange_n(&r->redirecting, 0, __ATOMIC_RELAXED))
			log_info("cluster: %zu allocations, at low water (%u): serving new "
			         "Allocates again",
			         n, low_water(&r->cfg));
		return false;
	}
	return red;
}

static bool recently_redirected(const struct cluster_report *rep, uint64_t h)
{
	for (unsigned i = 0; i < rep->n_recent; i++)
		if (rep->recent[i] == h)
			return true;
	return false;
}

/* Under c->lock. A sibling that could take a client of family fam (0: any). */
static bool sib_eligible(const struct sib *s, uint8_t fam, uint64_t now)
{
	if (!sib_up(s, now) || (s->last.flags & (CLUSTER_F_DRAINING | CLUSTER_F_REDIRECTING)))
		return false;
	if (fam == 0)
		return s->cfg->alt[0].family || s->cfg->alt[1].family;
	return s->cfg->alt[fam == TW_AF_INET6].family != 0;
}

/* a's load below b's: (allocations + our pending redirects) / capacity. */
static bool lighter(const struct sib *a, const struct sib *b)
{
	uint64_t ca = a->last.capacity ? a->last.capacity : 1;
	uint64_t cb = b->last.capacity ? b->last.capacity : 1;

	return ((uint64_t)a->last.allocs + a->pending) * cb <
	       ((uint64_t)b->last.allocs + b->pending) * ca;
}

int cluster_pick(struct relay *r, const struct tw_addr *client, uint8_t fam,
                 struct cluster_target *t)
{
	struct cluster *c = r->cluster;
	struct sib *best = NULL;
	uint64_t now = relay_now_ms(), h;

	if (!c)
		return -ENOENT;
	h = cluster_client_hash(c->key, c->keylen, client);
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->n_sibs; i++) {
		struct sib *s = &c->sibs[i];

		/* No loops: never back to a sibling that just sent this client here. */
		if (!sib_eligible(s, fam, now) || recently_redirected(&s->last, h))
			continue;
		if (!best || lighter(s, best))
			best = s;
	}
	if (best) {
		best->pending++;
		c->recent[c->recent_next] = (struct recent){h, now};
		c->recent_next = (c->recent_next + 1) % CLUSTER_RECENT_MAX;
		t->alt = best->cfg->alt[fam == TW_AF_INET6];
		snprintf(t->domain, sizeof(t->domain), "%s", best->cfg->domain);
		name_copy(t->name, best->cfg->name);
	}
	pthread_mutex_unlock(&c->lock);
	return best ? 0 : -ENOENT;
}

unsigned cluster_siblings(struct relay *r, struct cluster_sibling_view *out, unsigned max)
{
	struct cluster *c = r->cluster;
	uint64_t now = relay_now_ms();
	unsigned n = 0;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->n_sibs && n < max; i++, n++) {
		const struct sib *s = &c->sibs[i];

		name_copy(out[n].name, s->cfg->name);
		out[n].up = sib_up(s, now);
		out[n].eligible = sib_eligible(s, 0, now);
		out[n].heard = s->heard;
		out[n].age_ms = s->heard ? now - s->heard_ms : 0;
		out[n].last = s->last;
	}
	pthread_mutex_unlock(&c->lock);
	return n;
}

unsigned cluster_available(struct relay *r)
{
	struct cluster_sibling_view v[CFG_MAX_SIBLINGS];
	unsigned n = cluster_siblings(r, v, CFG_MAX_SIBLINGS), avail = 0;

	for (unsigned i = 0; i < n; i++)
		avail += v[i].eligible;
	return avail;
}

void cluster_metrics(struct relay *r, struct evbuffer *b)
{
	struct cluster_sibling_view v[CFG_MAX_SIBLINGS];
	unsigned n = cluster_siblings(r, v, CFG_MAX_SIBLINGS);

	if (!r->cluster)
		return;
	evbuffer_add_printf(b, "# HELP twist_cluster_sibling_up 1 while the sibling's reports "
	                       "arrive (silent 3 intervals: 0).\n"
	                       "# TYPE twist_cluster_sibling_up gauge\n");
	for (unsigned i = 0; i < n; i++)
		evbuffer_add_printf(b, "twist_cluster_sibling_up{sibling=\"%s\"} %d\n", v[i].name,
		                    v[i].up);
	evbuffer_add_printf(b, "# HELP twist_cluster_sibling_load Allocations the sibling "
	                       "last reported.\n"
	                       "# TYPE twist_cluster_sibling_load gauge\n");
	for (unsigned i = 0; i < n; i++)
		evbuffer_add_printf(b, "twist_cluster_sibling_load{sibling=\"%s\"} %u\n", v[i].name,
		                    v[i].last.allocs);
	evbuffer_add_printf(b, "# HELP twist_cluster_reports_total Sibling reports received, "
	                       "by verdict.\n"
	                       "# TYPE twist_cluster_reports_total counter\n");
	/* Read from the metrics thread, written by the main thread: both are the
	 * main loop here (metrics_http runs on it), so no lock. */
	for (int i = 0; i < CLUSTER__COUNT; i++)
		evbuffer_add_printf(b, "twist_cluster_reports_total{result=\"%s\"} %llu\n",
		                    cluster_verdict_name((enum cluster_verdict)i),
		                    (unsigned long long)r->cluster->reports[i]);
}
