/*
 * twistctl: manages twist-relay's user database (relay/userdb.h) and asks
 * the running relay to reload it over its control socket (relay/control.c).
 * It writes SQLite directly, so it works whether or not a relay runs; when
 * one does, a command returns only after the relay has loaded the change.
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ctl/ctl.h"
#include "proto/stun.h"
#include "relay/config.h"
#include "relay/userdb.h"

#define EXIT_USAGE CTL_EXIT_USAGE
#define ARG_MAX    512

static const char usage_text[] =
        "usage: twistctl [--config PATH] [--db PATH] [--socket PATH] COMMAND [ARGS]\n"
        "\n"
        "Users (long-term credentials; only the keys are stored, never the password):\n"
        "  user add NAME [--realm R] [--password-stdin | --password P]\n"
        "               [--quota N] [--bandwidth BPS]\n"
        "      N: allocations the user may hold at once (0 = unlimited);\n"
        "      BPS: bytes per second per allocation (0 = unlimited). Unset, the\n"
        "      relay's limits.user_quota and limits.bandwidth apply.\n"
        "  user del NAME [--realm R]\n"
        "  user passwd NAME [--realm R] [--password-stdin | --password P]\n"
        "  user list [--realm R]\n"
        "TURN REST shared secrets (rotation: every active secret is accepted):\n"
        "  secret add [--secret S | --secret-stdin] [--not-after TIME]\n"
        "      Without a secret, a random one is made and printed. TIME is seconds\n"
        "      since the epoch, or +SECONDS from now; after it the secret is refused.\n"
        "  secret del ID\n"
        "  secret list\n"
        "The running relay (each also with --json: one JSON object on stdout):\n"
        "  reload      load the database now and wait for it (also done after\n"
        "              every change above)\n"
        "  status      role, sync state, load, water marks, draining, siblings, and\n"
        "              the users and secrets the relay holds\n"
        "  sessions [--user U]\n"
        "              allocations: user, transport, client, relayed address, age,\n"
        "              bytes each way\n"
        "  drain       send new allocations to siblings (300 Try Alternate); existing\n"
        "              ones stay; /serving answers 503 so the anycast route goes\n"
        "  undrain     take new allocations again\n"
        "  role        HA role and sync state\n"
        "\n"
        "Options:\n"
        "  --config PATH   the relay's config, read for auth.database, control.socket\n"
        "                  and auth.realm (default " CTL_DEFAULT_CONFIG ", when it\n"
        "                  exists)\n"
        "  --db PATH       the user database (default: the config's auth.database,\n"
        "                  else " CTL_DEFAULT_DB "; created if new)\n"
        "  --socket PATH   the relay's control socket (default: the config's\n"
        "                  control.socket, else " CTL_DEFAULT_SOCKET ")\n"
        "  --json          one JSON object on stdout (the relay's commands)\n"
        "  --help, --version\n"
        "\n"
        "Without --password or --password-stdin, the password is asked for twice\n"
        "on the terminal. --password puts it in the process list: avoid it.\n"
        "The realm defaults to the running relay's, else the config's, else\n"
        "twist.local.\n"
        "After a change, twistctl asks the relay to reload and waits up to 10 s for\n"
        "its answer. If no relay answers on the socket, it says so and still\n"
        "succeeds: the relay reads the database when it starts.\n"
        "\n"
        "Run as root, twistctl acts as the owner of the database file (of its\n"
        "directory for a new one), so the relay's user can still open it.\n"
        "\n"
        "Exit status: 0 success, 1 error (or the relay said no), 2 usage error,\n"
        "3 the relay's control socket cannot be reached (missing, refused, not\n"
        "permitted).\n";

struct ctl {
	const char *db_path;
	const char *sock;
	char realm[256];
	struct userdb *db;
	/* From the relay's config file, when it is there. */
	char cfg_db[CFG_STR];
	char cfg_sock[CFG_STR];
	char cfg_realm[CFG_STR];
	const char *cfg_path; /* NULL: no config file was read */
	bool json;            /* --json: one JSON object on stdout */
};

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "twistctl: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(see twistctl --help)\n");
	return EXIT_USAGE;
}

/* --name VALUE or --name=VALUE at argv[*i]; NULL if argv[*i] is not --name. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *err)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*err = usage_error("%s needs a value", name);
		return NULL;
	}
	return argv[++*i];
}

static int parse_u64(const char *s, uint64_t max, int64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = (int64_t)v;
	return 0;
}

static bool text_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	return n > 0 && n <= max && stun_opaque_ok((const uint8_t *)s, n);
}

static int db_open(struct ctl *c)
{
	char err[512];

	if (userdb_open(c->db_path, true, &c->db, err, sizeof(err)) < 0) {
		fprintf(stderr, "twistctl: %s\n", err);
		return -1;
	}
	return 0;
}

/* The running relay's realm, else its config file's, else the default. */
static void realm_default(struct ctl *c)
{
	char ans[300];

	if (c->realm[0])
		return;
	if (ctl_ask(c->sock, "realm", ans, sizeof(ans)) == 0 && strncmp(ans, "ok ", 3) == 0 &&
	    strlen(ans + 3) < sizeof(c->realm))
		strcpy(c->realm, ans + 3);
	else if (c->cfg_realm[0] && strlen(c->cfg_realm) < sizeof(c->realm))
		strcpy(c->realm, c->cfg_realm);
	else
		strcpy(c->realm, "twist.local");
}

/* Asks the relay to load the database; 0 also when none runs. */
static int relay_reload(struct ctl *c, bool quiet_absent)
{
	char ans[512];
	int rc = ctl_ask(c->sock, "reload", ans, sizeof(ans));

	if (rc == -ENOENT || rc == -ECONNREFUSED) {
		if (!quiet_absent)
			fprintf(stderr,
			        "twistctl: no relay answers on %s (not running?): the database is "
			        "updated, and the relay reads it when it starts\n",
			        c->sock);
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "twistctl: relay control socket %s: %s\n", c->sock, strerror(-rc));
		return -1;
	}
	if (strncmp(ans, "ok", 2) != 0) {
		fprintf(stderr, "twistctl: the relay did not reload: %s\n", ans);
		return -1;
	}
	printf("relay reloaded: %s\n", ans + (ans[2] == ' ' ? 3 : 2));
	return 0;
}

struct user_opts {
	const char *name;
	const char *password;
	bool pw_stdin;
	int64_t quota, bandwidth;
};

static int user_args(struct ctl *c, int argc, char **argv, struct user_opts *o, const char *allow)
{
	int err = 0;

	o->quota = o->bandwidth = USERDB_LIMIT_NONE;
	for (int i = 0; i < argc; i++) {
		const char *v;

		if (argv[i][0] != '-' && !o->name) {
			o->name = argv[i];
		} else if ((v = opt_value(argc, argv, &i, "--realm", &err))) {
			if (snprintf(c->realm, sizeof(c->realm), "%s", v) >= (int)sizeof(c->realm))
				return usage_error("realm too long: %s", v);
		} else if (strchr(allow, 'p') &&
		           (v = opt_value(argc, argv, &i, "--password", &err))) {
			o->password = v;
		} else if (strchr(allow, 'p') && strcmp(argv[i], "--password-stdin") == 0) {
			o->pw_stdin = true;
		} else if (strchr(allow, 'q') && (v = opt_value(argc, argv, &i, "--quota", &err))) {
			if (parse_u64(v, 4294967294u, &o->quota) < 0)
				return usage_error("--quota wants 0..4294967294, not '%s'", v);
		} else if (strchr(allow, 'q') &&
		           (v = opt_value(argc, argv, &i, "--bandwidth", &err))) {
			if (parse_u64(v, INT64_MAX, &o->bandwidth) < 0)
				return usage_error("--bandwidth wants bytes per second, not '%s'",
				                   v);
		} else {
			return err ? err : usage_error("unexpected argument '%s'", argv[i]);
		}
		if (err)
			return err;
	}
	if (strchr(allow, 'n') && !o->name)
		return usage_error("%s", "a user NAME is needed");
	if (o->name && !text_ok(o->name, 508))
		return usage_error("bad user name '%s' (1..508 bytes, no control characters)",
		                   o->name);
	if (c->realm[0] && !text_ok(c->realm, 255))
		return usage_error("bad realm '%s'", c->realm);
	if (o->password && o->pw_stdin)
		return usage_error("%s", "--password and --password-stdin exclude each other");
	return 0;
}

/* Fills u's keys from the password the options name or the terminal gives. */
static int user_keys(const struct user_opts *o, struct userdb_user *u)
{
	char pw[ARG_MAX];
	int rc = 0;

	if (o->password)
		snprintf(pw, sizeof(pw), "%s", o->password);
	else if (ctl_password_read(o->pw_stdin, pw, sizeof(pw)) < 0)
		return -1;
	if (!text_ok(pw, 255)) {
		fprintf(stderr, "twistctl: the password must be 1..255 bytes without control "
		                "characters\n");
		rc = -1;
	} else if (userdb_keys(u, pw, strlen(pw)) < 0) {
		fprintf(stderr, "twistctl: cannot derive the keys\n");
		rc = -1;
	}
	OPENSSL_cleanse(pw, sizeof(pw));
	return rc;
}

static int cmd_user_add(struct ctl *c, int argc, char **argv, bool passwd)
{
	struct user_opts o = {0};
	struct userdb_user u = {0};
	int rc = user_args(c, argc, argv, &o, passwd ? "np" : "npq");

	if (rc)
		return rc;
	realm_default(c);
	u.name = o.name;
	u.realm = c->realm;
	u.quota = o.quota;
	u.bandwidth = o.bandwidth;
	if (user_keys(&o, &u) < 0 || db_open(c) < 0)
		return 1;
	rc = passwd ? userdb_user_passwd(c->db, &u) : userdb_user_add(c->db, &u);
	OPENSSL_cleanse(&u, sizeof(u));
	if (rc == -EEXIST || rc == -ENOENT) {
		fprintf(stderr, "twistctl: user '%s' in realm '%s' %s\n", o.name, c->realm,
		        rc == -EEXIST ? "exists already (user passwd changes its password)"
		                      : "does not exist");
		return 1;
	}
	if (rc < 0) {
		fprintf(stderr, "twistctl: %s: %s\n", c->db_path, userdb_errmsg(c->db));
		return 1;
	}
	printf("user '%s' %s in realm '%s'\n", o.name, passwd ? "has a new password" : "added",
	       c->realm);
	return relay_reload(c, false) < 0;
}

static int cmd_user_del(struct ctl *c, int argc, char **argv)
{
	struct user_opts o = {0};
	int rc = user_args(c, argc, argv, &o, "n");

	if (rc)
		return rc;
	realm_default(c);
	if (db_open(c) < 0)
		return 1;
	rc = userdb_user_del(c->db, o.name, c->realm);
	if (rc == -ENOENT) {
		fprintf(stderr, "twistctl: no user '%s' in realm '%s'\n", o.name, c->realm);
		return 1;
	}
	if (rc < 0) {
		fprintf(stderr, "twistctl: %s: %s\n", c->db_path, userdb_errmsg(c->db));
		return 1;
	}
	printf("user '%s' deleted from realm '%s'\n", o.name, c->realm);
	return relay_reload(c, false) < 0;
}

static void limit_fmt(int64_t v, char *buf, size_t len)
{
	if (v < 0)
		snprintf(buf, len, "default");
	else if (v == 0)
		snprintf(buf, len, "unlimited");
	else
		snprintf(buf, len, "%" PRId64, v);
}

static int print_user(void *arg, const struct userdb_user *u)
{
	char q[32], b[32];

	(void)arg;
	limit_fmt(u->quota, q, sizeof(q));
	limit_fmt(u->bandwidth, b, sizeof(b));
	printf("%-24s %-20s %-10s %s\n", u->name, u->realm, q, b);
	return 0;
}

static int cmd_user_list(struct ctl *c, int argc, char **argv)
{
	struct user_opts o = {0};
	int rc = user_args(c, argc, argv, &o, "");

	if (rc)
		return rc;
	if (o.name)
		return usage_error("unexpected argument '%s'", o.name);
	if (db_open(c) < 0)
		return 1;
	printf("%-24s %-20s %-10s %s\n", "NAME", "REALM", "QUOTA", "BANDWIDTH");
	if (userdb_user_each(c->db, c->realm[0] ? c->realm : NULL, print_user, NULL) < 0) {
		fprintf(stderr, "twistctl: %s: %s\n", c->db_path, userdb_errmsg(c->db));
		return 1;
	}
	return 0;
}

/* 32 random bytes in base64: what `secret add` makes when given none. */
static int secret_random(char *out, size_t outlen)
{
	unsigned char raw[32];

	if (outlen < 45 || RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, raw, sizeof(raw));
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

static int not_after_parse(const char *v, int64_t *out)
{
	int64_t n;

	if (parse_u64(v + (v[0] == '+'), INT32_MAX * 4ll, &n) < 0 || n == 0)
		return -1;
	*out = v[0] == '+' ? (int64_t)time(NULL) + n : n;
	return 0;
}

static int cmd_secret_add(struct ctl *c, int argc, char **argv)
{
	char secret[ARG_MAX] = "";
	int64_t not_after = 0, id;
	bool from_stdin = false, made = false;
	int rc, err = 0;

	for (int i = 0; i < argc; i++) {
		const char *v;

		if ((v = opt_value(argc, argv, &i, "--secret", &err)))
			snprintf(secret, sizeof(secret), "%s", v);
		else if (strcmp(argv[i], "--secret-stdin") == 0)
			from_stdin = true;
		else if ((v = opt_value(argc, argv, &i, "--not-after", &err))) {
			if (not_after_parse(v, &not_after) < 0)
				return usage_error("--not-after wants EPOCH or +SECONDS, not '%s'",
				                   v);
		} else
			return err ? err : usage_error("unexpected argument '%s'", argv[i]);
		if (err)
			return err;
	}
	if (from_stdin && ctl_password_read(1, secret, sizeof(secret)) < 0)
		return 1;
	if (!secret[0]) {
		if (secret_random(secret, sizeof(secret)) < 0)
			return 1;
		made = true;
	}
	if (strlen(secret) < USERDB_SECRET_MIN || !text_ok(secret, USERDB_SECRET_MAX)) {
		fprintf(stderr, "twistctl: a secret is %d..%d bytes without control characters\n",
		        USERDB_SECRET_MIN, USERDB_SECRET_MAX);
		return 1;
	}
	if (db_open(c) < 0)
		return 1;
	rc = userdb_secret_add(c->db, secret, not_after, &id);
	if (rc < 0) {
		fprintf(stderr, "twistctl: %s\n",
		        rc == -EEXIST ? "that secret is there already" : userdb_errmsg(c->db));
		return 1;
	}
	printf("secret %" PRId64 " added%s\n", id, made ? ":" : "");
	if (made)
		printf("%s\n", secret);
	OPENSSL_cleanse(secret, sizeof(secret));
	return relay_reload(c, false) < 0;
}

static int cmd_secret_del(struct ctl *c, int argc, char **argv)
{
	int64_t id;
	int rc;

	if (argc != 1 || parse_u64(argv[0], INT64_MAX, &id) < 0)
		return usage_error("%s", "secret del wants one secret ID (see secret list)");
	if (db_open(c) < 0)
		return 1;
	rc = userdb_secret_del(c->db, id);
	if (rc < 0) {
		fprintf(stderr, "twistctl: %s\n",
		        rc == -ENOENT ? "no such secret" : userdb_errmsg(c->db));
		return 1;
	}
	printf("secret %" PRId64 " deleted\n", id);
	return relay_reload(c, false) < 0;
}

/* Only a prefix: the list is for choosing what to delete, not for copying. */
static int print_secret(void *arg, const struct userdb_secret *s)
{
	int64_t now = *(int64_t *)arg;
	char na[32];

	if (s->not_after)
		snprintf(na, sizeof(na), "%" PRId64, s->not_after);
	else
		snprintf(na, sizeof(na), "never");
	printf("%-6" PRId64 " %.4s...  %-12" PRId64 " %-12s %s\n", s->id, s->secret, s->created, na,
	       s->not_after && s->not_after < now ? "expired" : "active");
	return 0;
}

static int cmd_secret_list(struct ctl *c, int argc, char **argv)
{
	int64_t now = (int64_t)time(NULL);

	if (argc)
		return usage_error("unexpected argument '%s'", argv[0]);
	if (db_open(c) < 0)
		return 1;
	printf("%-6s %-9s %-12s %-12s %s\n", "ID", "SECRET", "CREATED", "NOT-AFTER", "STATE");
	if (userdb_secret_each(c->db, print_secret, &now) < 0) {
		fprintf(stderr, "twistctl: %s: %s\n", c->db_path, userdb_errmsg(c->db));
		return 1;
	}
	return 0;
}

/* The running relay's verbs; [--json] and, for sessions, [--user U]. */
static int cmd_relay(struct ctl *c, const char *verb, int argc, char **argv)
{
	struct ctl_relay_opts o = {.sock = c->sock, .json = c->json};
	char ans[512];
	int err = 0, rc;

	for (int i = 0; i < argc; i++) {
		const char *v;

		if (strcmp(argv[i], "--json") == 0)
			o.json = true;
		else if (strcmp(verb, "sessions") == 0 &&
		         (v = opt_value(argc, argv, &i, "--user", &err)))
			o.user = v;
		else
			return err ? err : usage_error("unexpected argument '%s'", argv[i]);
		if (err)
			return err;
	}
	if (strcmp(verb, "reload") != 0 || o.json)
		return ctl_relay_cmd(&o, verb);
	/* Plain reload keeps the words user add and secret add print. */
	rc = ctl_ask(c->sock, "reload", ans, sizeof(ans));
	if (rc < 0)
		return ctl_noreach(c->sock, rc);
	if (strncmp(ans, "ok", 2) != 0) {
		fprintf(stderr, "twistctl: the relay did not reload: %s\n", ans);
		return CTL_EXIT_NO;
	}
	printf("relay reloaded: %s\n", ans + (ans[2] == ' ' ? 3 : 2));
	return 0;
}

static int dispatch(struct ctl *c, int argc, char **argv)
{
	const char *what = argv[0], *verb = argc > 1 ? argv[1] : "";

	if (strcmp(what, "user") == 0) {
		if (strcmp(verb, "add") == 0)
			return cmd_user_add(c, argc - 2, argv + 2, false);
		if (strcmp(verb, "passwd") == 0)
			return cmd_user_add(c, argc - 2, argv + 2, true);
		if (strcmp(verb, "del") == 0)
			return cmd_user_del(c, argc - 2, argv + 2);
		if (strcmp(verb, "list") == 0)
			return cmd_user_list(c, argc - 2, argv + 2);
		return usage_error("user wants add, del, passwd or list, not '%s'", verb);
	}
	if (strcmp(what, "secret") == 0) {
		if (strcmp(verb, "add") == 0)
			return cmd_secret_add(c, argc - 2, argv + 2);
		if (strcmp(verb, "del") == 0)
			return cmd_secret_del(c, argc - 2, argv + 2);
		if (strcmp(verb, "list") == 0)
			return cmd_secret_list(c, argc - 2, argv + 2);
		return usage_error("secret wants add, del or list, not '%s'", verb);
	}
	if (strcmp(what, "reload") == 0 || strcmp(what, "status") == 0 ||
	    strcmp(what, "sessions") == 0 || strcmp(what, "drain") == 0 ||
	    strcmp(what, "undrain") == 0 || strcmp(what, "role") == 0)
		return cmd_relay(c, what, argc - 1, argv + 1);
	return usage_error("unknown command '%s'", what);
}

/*
 * Run as root, twistctl becomes the owner of the database (or, for a new
 * one, of its directory) before it opens anything: SQLite makes the -wal
 * and -shm files beside the database as whoever writes, and a relay
 * running as twist could not open files that root created. Returns 0, or
 * -1 with a message.
 */
static int become_db_owner(const char *path)
{
	char dir[4096];
	struct stat sb;

	if (geteuid() != 0)
		return 0;
	if (stat(path, &sb) < 0) {
		snprintf(dir, sizeof(dir), "%s", path);
		if (stat(dirname(dir), &sb) < 0)
			return 0; /* nothing there yet: userdb_open says what is wrong */
	}
	if (sb.st_uid == 0)
		return 0;
	if (setgroups(0, NULL) < 0 || setgid(sb.st_gid) < 0 || setuid(sb.st_uid) < 0) {
		fprintf(stderr, "twistctl: cannot become uid %u gid %u, the owner of %s: %s\n",
		        (unsigned)sb.st_uid, (unsigned)sb.st_gid, path, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The relay's config file gives the database, the socket and the realm,
 * so that twistctl with no options acts on what the relay uses. The
 * default file may be absent (then the built-in defaults stand); one named
 * with --config must load.
 */
static int read_relay_config(struct ctl *c, const char *path, bool named)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	char err[512];
	int rc = 0;

	if (!cfg) {
		fprintf(stderr, "twistctl: out of memory\n");
		return -1;
	}
	if (!named && access(path, F_OK) < 0)
		goto out;
	if (config_load_file(path, cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "twistctl: %s\n", err);
		rc = -1;
		goto out;
	}
	snprintf(c->cfg_db, sizeof(c->cfg_db), "%s", cfg->database);
	snprintf(c->cfg_sock, sizeof(c->cfg_sock), "%s", cfg->control_socket);
	snprintf(c->cfg_realm, sizeof(c->cfg_realm), "%s", cfg->realm);
	c->cfg_path = path;
out:
	config_clear(cfg);
	free(cfg);
	return rc;
}

int main(int argc, char **argv)
{
	struct ctl c = {0};
	const char *cfg_path = NULL;
	int i, rc, err = 0;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *v;

		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage_text, stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("twistctl %s\n", TWIST_VERSION);
			return 0;
		}
		if ((v = opt_value(argc, argv, &i, "--config", &err)))
			cfg_path = v;
		else if ((v = opt_value(argc, argv, &i, "--db", &err)))
			c.db_path = v;
		else if ((v = opt_value(argc, argv, &i, "--socket", &err)))
			c.sock = v;
		else if (strcmp(argv[i], "--json") == 0)
			c.json = true;
		else
			return err ? err : usage_error("unknown option '%s'", argv[i]);
	}
	if (i >= argc)
		return usage_error("%s", "a command is needed");
	if (read_relay_config(&c, cfg_path ? cfg_path : CTL_DEFAULT_CONFIG, cfg_path != NULL) < 0)
		return 1;
	if (!c.db_path) {
		c.db_path = c.cfg_db[0] ? c.cfg_db : CTL_DEFAULT_DB;
		if (c.cfg_path && !c.cfg_db[0] &&
		    (strcmp(argv[i], "user") == 0 || strcmp(argv[i], "secret") == 0))
			fprintf(stderr,
			        "twistctl: warning: %s sets no auth.database: the relay does not "
			        "read %s\n",
			        c.cfg_path, c.db_path);
	}
	if (!c.sock)
		c.sock = c.cfg_path ? c.cfg_sock : CTL_DEFAULT_SOCKET;
	/* Only the database commands: the relay's verbs keep the caller's rights. */
	if ((strcmp(argv[i], "user") == 0 || strcmp(argv[i], "secret") == 0) &&
	    become_db_owner(c.db_path) < 0)
		return 1;
	rc = dispatch(&c, argc - i, argv + i);
	userdb_close(c.db);
	return rc;
}
