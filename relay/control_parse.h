/*
 * The control socket's line protocol (docs/operations.md, "The control
 * socket"): one command per line, one answer line each. The parser is pure,
 * so that it can be fuzzed (tests/fuzz/fuzz_control.c).
 */
#ifndef TWIST_RELAY_CONTROL_PARSE_H
#define TWIST_RELAY_CONTROL_PARSE_H

#include <stddef.h>

#define CONTROL_LINE_MAX 256 /* bytes, without the LF */

enum control_verb {
	CONTROL_PING,
	CONTROL_RELOAD,
	CONTROL_STATUS,
	CONTROL_REALM,
	CONTROL_HELP,
	CONTROL_QUIT,
	CONTROL_DRAIN, /* redirect new Allocates to siblings (docs/cluster-protocol.md) */
	CONTROL_UNDRAIN,
	CONTROL_ROLE,     /* HA role and sync state */
	CONTROL_STATE,    /* role, sync, load, draining: twistctl status */
	CONTROL_SIBLINGS, /* one line per sibling */
	CONTROL_SESSIONS, /* one line per allocation; an optional user name */
};

/*
 * line is one line without its LF (a trailing CR is allowed). 0 with *verb
 * set; -EINVAL (empty, a control byte, arguments where none are taken),
 * -ENOENT (unknown verb) or -E2BIG (over CONTROL_LINE_MAX).
 */
int control_parse(const char *line, size_t len, enum control_verb *verb);
/*
 * The same, for verbs that take an argument (sessions USER): the rest of
 * the line after the verb, trimmed, into arg ("" when none). A verb that
 * takes none still refuses one.
 */
int control_parse_arg(const char *line, size_t len, enum control_verb *verb, char *arg,
                      size_t arglen);
const char *control_verb_name(enum control_verb v);

#endif
