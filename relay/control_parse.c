#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "relay/control_parse.h"

static const enum control_verb verbs[] = {
        CONTROL_PING, CONTROL_RELOAD, CONTROL_STATUS,   CONTROL_REALM,
        CONTROL_HELP, CONTROL_QUIT,   CONTROL_DRAIN,    CONTROL_UNDRAIN,
        CONTROL_ROLE, CONTROL_STATE,  CONTROL_SIBLINGS, CONTROL_SESSIONS,
};

static bool takes_arg(enum control_verb v)
{
	return v == CONTROL_SESSIONS;
}

const char *control_verb_name(enum control_verb v)
{
	switch (v) {
	case CONTROL_PING:
		return "ping";
	case CONTROL_RELOAD:
		return "reload";
	case CONTROL_STATUS:
		return "status";
	case CONTROL_REALM:
		return "realm";
	case CONTROL_HELP:
		return "help";
	case CONTROL_QUIT:
		return "quit";
	case CONTROL_DRAIN:
		return "drain";
	case CONTROL_UNDRAIN:
		return "undrain";
	case CONTROL_ROLE:
		return "role";
	case CONTROL_STATE:
		return "state";
	case CONTROL_SIBLINGS:
		return "siblings";
	case CONTROL_SESSIONS:
		return "sessions";
	}
	return "?";
}

int control_parse(const char *line, size_t len, enum control_verb *verb)
{
	return control_parse_arg(line, len, verb, NULL, 0);
}

/* Leading and trailing blanks are tolerated, so "reload \r" is "reload". */
int control_parse_arg(const char *line, size_t len, enum control_verb *verb, char *arg,
                      size_t arglen)
{
	size_t i, b = 0, e;

	if (len > CONTROL_LINE_MAX)
		return -E2BIG;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] >= 0x7f)
			if (line[i] != '\t')
				return -EINVAL;
	while (b < len && (line[b] == ' ' || line[b] == '\t'))
		b++;
	e = len;
	while (e > b && (line[e - 1] == ' ' || line[e - 1] == '\t'))
		e--;
	if (b == e)
		return -EINVAL;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		const char *name = control_verb_name(verbs[i]);
		size_t n = strlen(name);

		if (e - b >= n && memcmp(line + b, name, n) == 0 &&
		    (e - b == n || line[b + n] == ' ' || line[b + n] == '\t')) {
			size_t a = b + n;

			while (a < e && (line[a] == ' ' || line[a] == '\t'))
				a++;
			if (a < e && (!arg || !takes_arg(verbs[i]) || e - a >= arglen))
				return -EINVAL;
			if (arg) {
				memcpy(arg, line + a, e - a);
				arg[e - a] = '\0';
			}
			*verb = verbs[i];
			return 0;
		}
	}
	return -ENOENT;
}
