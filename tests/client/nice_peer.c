/*
 * nice_peer: the libnice side of tests/integration/ice_libnice.sh. The
 * same offer files and ping/pong stream as ice_peer.c (see there), on
 * Debian's libnice (RFC 5245 compatibility, its default aggressive
 * nomination). Prints one RESULT line; exits 0 when all pongs came back
 * and the peer is done too.
 */
#include <agent.h>
#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_COUNT 100000

static const char *dir, *name, *peer_name;
static unsigned count = 1000, sent, pongs, pings_in, ticks, timeout_s = 90;
static guint stream;
static gboolean offered, remote_set, ready, done;
static guint8 *got;
static NiceAgent *agent;
static GMainLoop *loop;
static int exit_code = 1;

static void path(const char *who, const char *ext, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s.%s", dir, who, ext);
}

static void on_gathered(NiceAgent *a, guint s, gpointer d)
{
	char fn[512], tmp[520];
	gchar *ufrag, *pwd;
	GSList *l, *c;
	FILE *f;
	(void)d;

	path(name, "offer", fn, sizeof(fn));
	snprintf(tmp, sizeof(tmp), "%s.tmp", fn);
	f = fopen(tmp, "w");
	if (!f)
		exit(1);
	nice_agent_get_local_credentials(a, s, &ufrag, &pwd);
	fprintf(f, "%s\n%s\n", ufrag, pwd);
	l = nice_agent_get_local_candidates(a, s, 1);
	for (c = l; c; c = c->next) {
		gchar *sdp = nice_agent_generate_local_candidate_sdp(a, c->data);

		/* "a=candidate:..." -> the attribute value */
		fprintf(f, "%s\n", strncmp(sdp, "a=", 2) == 0 ? sdp + 2 : sdp);
		g_free(sdp);
	}
	g_slist_free_full(l, (GDestroyNotify)nice_candidate_free);
	fprintf(f, "end\n");
	fclose(f);
	rename(tmp, fn);
	g_free(ufrag);
	g_free(pwd);
	offered = TRUE;
}

static gboolean read_offer(void)
{
	char fn[512], ufrag[300], pwd[300], line[600], sdp[620];
	GSList *list = NULL;
	gboolean end = FALSE;
	FILE *f;

	path(peer_name, "offer", fn, sizeof(fn));
	f = fopen(fn, "r");
	if (!f)
		return FALSE;
	if (!fgets(ufrag, sizeof(ufrag), f) || !fgets(pwd, sizeof(pwd), f)) {
		fclose(f);
		return FALSE;
	}
	ufrag[strcspn(ufrag, "\r\n")] = '\0';
	pwd[strcspn(pwd, "\r\n")] = '\0';
	while (fgets(line, sizeof(line), f)) {
		NiceCandidate *c;

		line[strcspn(line, "\r\n")] = '\0';
		if (strcmp(line, "end") == 0) {
			end = TRUE;
			break;
		}
		snprintf(sdp, sizeof(sdp), "a=candidate:%s", line);
		c = nice_agent_parse_remote_candidate_sdp(agent, stream, sdp);
		if (c)
			list = g_slist_append(list, c);
		else
			fprintf(stderr, "nice_peer: cannot parse %s\n", sdp);
	}
	fclose(f);
	if (!end) {
		g_slist_free_full(list, (GDestroyNotify)nice_candidate_free);
		return FALSE;
	}
	nice_agent_set_remote_credentials(agent, stream, ufrag, pwd);
	nice_agent_set_remote_candidates(agent, stream, 1, list);
	g_slist_free_full(list, (GDestroyNotify)nice_candidate_free);
	return TRUE;
}

static void on_recv(NiceAgent *a, guint s, guint comp, guint len, gchar *buf, gpointer d)
{
	char msg[64];
	unsigned n;
	(void)d;

	if (len >= sizeof(msg))
		return;
	memcpy(msg, buf, len);
	msg[len] = '\0';
	if (sscanf(msg, "ping %u", &n) == 1) {
		pings_in++;
		snprintf(msg, sizeof(msg), "pong %u", n);
		nice_agent_send(a, s, comp, strlen(msg), msg);
	} else if (sscanf(msg, "pong %u", &n) == 1 && n < count && !got[n]) {
		got[n] = 1;
		pongs++;
	}
}

static void on_state(NiceAgent *a, guint s, guint comp, guint state, gpointer d)
{
	(void)a;
	(void)s;
	(void)comp;
	(void)d;
	printf("STATE %s\n", nice_component_state_to_string(state));
	fflush(stdout);
	if (state == NICE_COMPONENT_STATE_READY)
		ready = TRUE;
}

static gboolean exists(const char *who, const char *ext)
{
	char fn[512];
	struct stat st;

	path(who, ext, fn, sizeof(fn));
	return stat(fn, &st) == 0;
}

static gboolean on_tick(gpointer d)
{
	char msg[32], fn[512];
	NiceCandidate *l = NULL, *r = NULL;
	(void)d;

	if (++ticks > timeout_s * 100)
		goto finish;
	if (offered && !remote_set)
		remote_set = read_offer();
	for (int i = 0; ready && i < 4 && sent < count; i++) {
		snprintf(msg, sizeof(msg), "ping %u", sent);
		if (nice_agent_send(agent, stream, 1, strlen(msg), msg) < 0)
			break;
		sent++;
	}
	if (!done && pongs == count) {
		FILE *f;

		done = TRUE;
		path(name, "done", fn, sizeof(fn));
		f = fopen(fn, "w");
		if (f)
			fclose(f);
	}
	if (!(done && exists(peer_name, "done")))
		return TRUE;
	exit_code = 0;
finish:
	nice_agent_get_selected_pair(agent, stream, 1, &l, &r);
	printf("RESULT name=%s sent=%u pongs=%u pings_in=%u selected=%s:%s\n", name, sent, pongs,
	       pings_in, l ? (l->type == NICE_CANDIDATE_TYPE_RELAYED ? "relay" : "other") : "none",
	       r ? (r->type == NICE_CANDIDATE_TYPE_RELAYED ? "relay" : "other") : "none");
	fflush(stdout);
	g_main_loop_quit(loop);
	return FALSE;
}

int main(int argc, char **argv)
{
	gboolean controlling = FALSE;
	const char *turn = NULL, *host = NULL;
	gboolean tcp = FALSE;
	int turn_port = 3478;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--dir"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--name"))
			name = argv[i + 1];
		else if (!strcmp(argv[i], "--peer"))
			peer_name = argv[i + 1];
		else if (!strcmp(argv[i], "--role"))
			controlling = !strcmp(argv[i + 1], "controlling");
		else if (!strcmp(argv[i], "--host"))
			host = argv[i + 1];
		else if (!strcmp(argv[i], "--turn"))
			turn = argv[i + 1];
		else if (!strcmp(argv[i], "--turn-port"))
			turn_port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--turn-transport"))
			tcp = !strcmp(argv[i + 1], "tcp");
		else if (!strcmp(argv[i], "--count"))
			count = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--timeout"))
			timeout_s = (unsigned)strtoul(argv[i + 1], NULL, 10);
	}
	if (!dir || !name || !peer_name || count > MAX_COUNT) {
		fprintf(stderr, "usage: nice_peer --dir D --name N --peer P --role R [--host IP] "
		                "[--turn IP --turn-port P [--turn-transport tcp]] [--count N]\n");
		return 2;
	}
	got = calloc(count ? count : 1, 1);
	loop = g_main_loop_new(NULL, FALSE);
	agent = nice_agent_new(g_main_loop_get_context(loop), NICE_COMPATIBILITY_RFC5245);
	g_object_set(agent, "controlling-mode", controlling, "upnp", FALSE, "ice-tcp", FALSE, NULL);
	if (host) {
		NiceAddress a;

		nice_address_init(&a);
		if (!nice_address_set_from_string(&a, host))
			return 2;
		nice_agent_add_local_address(agent, &a);
	}
	stream = nice_agent_add_stream(agent, 1);
	if (turn) {
		g_object_set(agent, "force-relay", TRUE, NULL);
		nice_agent_set_relay_info(agent, stream, 1, turn, (guint)turn_port, "demo", "demo",
		                          tcp ? NICE_RELAY_TYPE_TURN_TCP
		                              : NICE_RELAY_TYPE_TURN_UDP);
	}
	g_signal_connect(agent, "candidate-gathering-done", G_CALLBACK(on_gathered), NULL);
	g_signal_connect(agent, "component-state-changed", G_CALLBACK(on_state), NULL);
	nice_agent_attach_recv(agent, stream, 1, g_main_loop_get_context(loop), on_recv, NULL);
	if (!nice_agent_gather_candidates(agent, stream))
		return 1;
	g_timeout_add(10, on_tick, NULL);
	g_main_loop_run(loop);
	g_object_unref(agent);
	g_main_loop_unref(loop);
	free(got);
	return exit_code;
}
