/*
 * twistctl's verbs for the running relay: status, sessions, drain,
 * undrain, role and reload. The relay answers "ok key=value ..." (or
 * "ok lines=N" and N such lines); plain output passes those tokens on, and
 * --json turns each line into one JSON object, so that scripts need no
 * parser of their own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"

#define LINE_MAX_CTL 4096
#define LINES_MAX    10000000u /* more answer lines than any relay holds allocations */

int ctl_noreach(const char *sock, int err)
{
	const char *hint = "";

	if (err == -EACCES || err == -EPERM)
		hint = " (run as root or as a member of the relay's control.group)";
	else if (err == -ENOENT || err == -ECONNREFUSED)
		hint = " (is twist-relay running, with this control.socket?)";
	fprintf(stderr, "twistctl: cannot reach the relay's control socket %s: %s%s\n",
	        sock[0] ? sock : "(none configured)", strerror(-err), hint);
	return CTL_EXIT_NOREACH;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* A JSON string from a token value: %XX decoded, quotes and controls escaped. */
static void json_str(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned c = (unsigned char)s[i];

		if (c == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			c = (unsigned)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
			i += 2;
		}
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc((int)c, f);
	}
	fputc('"', f);
}

static bool is_number(const char *s, size_t n)
{
	if (n == 0 || n > 18 || (s[0] == '0' && n > 1))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* The members of one object from "k=v k=v" (without braces). */
static void json_members(FILE *f, const char *line, bool *first)
{
	const char *p = line;

	while (*p) {
		const char *tok, *eq, *end;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		tok = p;
		end = strchr(p, ' ');
		if (!end)
			end = p + strlen(p);
		eq = memchr(tok, '=', (size_t)(end - tok));
		p = end;
		if (!eq || eq == tok)
			continue;
		fprintf(f, "%s", *first ? "" : ",");
		*first = false;
		json_str(f, tok, (size_t)(eq - tok));
		fputc(':', f);
		eq++;
		if (is_number(eq, (size_t)(end - eq)) ||
		    ((size_t)(end - eq) == 4 && memcmp(eq, "true", 4) == 0) ||
		    ((size_t)(end - eq) == 5 && memcmp(eq, "false", 5) == 0))
			fwrite(eq, 1, (size_t)(end - eq), f);
		else
			json_str(f, eq, (size_t)(end - eq));
	}
}

static void json_object(FILE *f, const char *line)
{
	bool first = true;

	fputc('{', f);
	json_members(f, line, &first);
	fputc('}', f);
}

/* "ok ..." is 0 with *rest after it; "error ..." prints it and is CTL_EXIT_NO. */
static int verdict(const struct ctl_relay_opts *o, const char *ans, const char **rest)
{
	if (strncmp(ans, "ok", 2) == 0 && (ans[2] == ' ' || ans[2] == '\0')) {
		*rest = ans + (ans[2] ? 3 : 2);
		return 0;
	}
	fprintf(stderr, "twistctl: the relay said: %s\n", ans);
	if (o->json) {
		printf("{\"ok\":false,\"error\":");
		json_str(stdout, ans, strlen(ans));
		printf("}\n");
	}
	return CTL_EXIT_NO;
}

static int link_fail(const struct ctl_relay_opts *o, int rc)
{
	if (rc == -ETIMEDOUT || rc == -ECONNRESET) {
		fprintf(stderr, "twistctl: the relay on %s did not answer: %s\n", o->sock,
		        strerror(-rc));
		return CTL_EXIT_NO;
	}
	return ctl_noreach(o->sock, rc);
}

/* One command with one answer line into ans; 0 or an exit status. */
static int ask(const struct ctl_relay_opts *o, const char *cmd, char *ans, size_t len,
               const char **rest)
{
	int rc = ctl_ask(o->sock, cmd, ans, len);

	if (rc < 0)
		return link_fail(o, rc);
	return verdict(o, ans, rest);
}

/* "ok lines=N": N lines follow, each printed (plain) or as an array element. */
static int ask_lines(const struct ctl_relay_opts *o, const char *cmd, const char *plain_prefix,
                     unsigned *count)
{
	char *buf = malloc(LINE_MAX_CTL);
	struct ctl_link l;
	const char *rest;
	unsigned long n;
	char *end;
	int rc;

	if (!buf)
		return CTL_EXIT_NO;
	if ((rc = ctl_open(&l, o->sock, cmd)) < 0 || (rc = ctl_line(&l, buf, LINE_MAX_CTL)) < 0) {
		rc = link_fail(o, rc);
		goto done;
	}
	if ((rc = verdict(o, buf, &rest)) != 0)
		goto done;
	n = strncmp(rest, "lines=", 6) == 0 ? strtoul(rest + 6, &end, 10) : LINES_MAX + 1ul;
	if (n > LINES_MAX) {
		fprintf(stderr, "twistctl: unexpected answer to %s: %s\n", cmd, buf);
		rc = CTL_EXIT_NO;
		goto done;
	}
	if (o->json)
		printf("[");
	for (unsigned long i = 0; i < n; i++) {
		if ((rc = ctl_line(&l, buf, LINE_MAX_CTL)) < 0) {
			if (o->json)
				printf("]");
			rc = link_fail(o, rc);
			goto done;
		}
		if (o->json) {
			printf("%s", i ? "," : "");
			json_object(stdout, buf);
		} else {
			printf("%s%s\n", plain_prefix, buf);
		}
	}
	if (o->json)
		printf("]");
	*count = (unsigned)n;
	rc = 0;
done:
	ctl_close(&l);
	free(buf);
	return rc;
}

static int cmd_status(const struct ctl_relay_opts *o)
{
	char st[LINE_MAX_CTL], users[LINE_MAX_CTL];
	const char *rest, *urest = NULL;
	unsigned n;
	int rc;

	if ((rc = ask(o, "state", st, sizeof(st), &rest)) != 0)
		return rc;
	/* Users are there only with auth.database; without, the rest still stands. */
	if (ctl_ask(o->sock, "status", users, sizeof(users)) == 0 && strncmp(users, "ok ", 3) == 0)
		urest = users + 3;
	if (o->json) {
		bool first = true;

		printf("{\"ok\":true,");
		json_members(stdout, rest, &first);
		printf(",\"users\":");
		if (urest)
			json_object(stdout, urest);
		else
			printf("null");
		printf(",\"sibling_list\":");
	} else {
		if (urest)
			printf("ok %s\n", urest);
		printf("%s\n", rest);
	}
	rc = ask_lines(o, "siblings", "sibling ", &n);
	if (o->json)
		printf("}\n");
	return rc;
}

static int cmd_sessions(const struct ctl_relay_opts *o)
{
	char cmd[600];
	unsigned n = 0;
	int rc;

	if (o->user && (strlen(o->user) > 255 || strpbrk(o->user, "\r\n"))) {
		fprintf(stderr, "twistctl: bad user name\n");
		return CTL_EXIT_USAGE;
	}
	snprintf(cmd, sizeof(cmd), "sessions%s%s", o->user ? " " : "", o->user ? o->user : "");
	if (o->json)
		printf("{\"ok\":true,\"sessions\":");
	rc = ask_lines(o, cmd, "", &n);
	if (o->json)
		printf(",\"count\":%u}\n", rc == 0 ? n : 0);
	return rc;
}

static int cmd_one(const struct ctl_relay_opts *o, const char *verb)
{
	char ans[LINE_MAX_CTL];
	const char *rest;
	int rc = ask(o, verb, ans, sizeof(ans), &rest);

	if (rc)
		return rc;
	if (o->json) {
		bool first = false;

		printf("{\"ok\":true");
		json_members(stdout, rest, &first);
		printf("}\n");
	} else {
		printf("%s\n", rest);
	}
	if (strcmp(verb, "drain") == 0 && strstr(rest, "warning=no_healthy_sibling"))
		fprintf(stderr, "twistctl: warning: no healthy sibling can take new allocations: "
		                "they are still served here until one can\n");
	return 0;
}

int ctl_relay_cmd(const struct ctl_relay_opts *o, const char *verb)
{
	if (strcmp(verb, "status") == 0)
		return cmd_status(o);
	if (strcmp(verb, "sessions") == 0)
		return cmd_sessions(o);
	return cmd_one(o, verb);
}
