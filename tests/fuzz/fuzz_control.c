/*
 * libFuzzer target for relay/control_parse.c, the control socket's lines:
 * the input is cut at LF into lines as relay/control.c cuts them, and each
 * goes through control_parse. Beyond the sanitizers it checks the parser's
 * promises: only its documented results, a known verb when it accepts, the
 * same answer twice, and nothing over CONTROL_LINE_MAX accepted.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/control_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_line(const char *line, size_t len)
{
	enum control_verb v, again;
	int rc = control_parse(line, len, &v);

	if (rc != 0 && rc != -EINVAL && rc != -ENOENT && rc != -E2BIG)
		abort();
	if (len > CONTROL_LINE_MAX && rc != -E2BIG)
		abort();
	if (rc != 0)
		return;
	if (strcmp(control_verb_name(v), "?") == 0)
		abort();
	if (control_parse(line, len, &again) != 0 || again != v)
		abort();
	{
		char arg[CONTROL_LINE_MAX + 1];

		/* Whatever control_parse takes, the argument form takes the same way. */
		if (control_parse_arg(line, len, &again, arg, sizeof(arg)) != 0 || again != v ||
		    arg[0] != '\0')
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *copy = malloc(len ? len : 1); /* exact size: ASan sees any over-read */

		if (!copy)
			return 0;
		memcpy(copy, p, len);
		check_line(copy, len);
		free(copy);
		p += len + 1;
	}
	return 0;
}
