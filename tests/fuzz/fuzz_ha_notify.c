/*
 * libFuzzer target for ha/notify.c, keepalived's notify_fifo lines: any
 * bytes go through the line assembler in chunks cut by the input itself,
 * and every line through notify_parse. Beyond the sanitizers it checks the
 * parser's promises: a line it accepts names a known kind and state, a
 * printable NUL-terminated name, a priority of at most 255, and it parses
 * the same way again; no line handed out is longer than NOTIFY_LINE_MAX.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ha/notify.h"
#include "ha/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_line(const uint8_t *line, size_t len, void *arg)
{
	struct notify_event ev, again;
	size_t n;
	int rc;

	(void)arg;
	if (len > NOTIFY_LINE_MAX)
		abort();
	rc = notify_parse(line, len, &ev);
	if (rc != 0) {
		if (rc != -EINVAL && rc != -ENOMSG)
			abort();
		return;
	}
	n = strnlen(ev.name, NOTIFY_NAME_MAX);
	if (n == 0 || n == NOTIFY_NAME_MAX || ev.priority > 255)
		abort();
	for (size_t i = 0; i < n; i++)
		if (ev.name[i] <= ' ' || ev.name[i] >= 0x7f || ev.name[i] == '"')
			abort();
	if (ev.kind != NOTIFY_INSTANCE && ev.kind != NOTIFY_GROUP)
		abort();
	if (strcmp(vrrp_state_name(ev.state), "?") == 0)
		abort();
	/* The role decision takes any state without surprise. */
	if (strcmp(ha_state_name(ha_state_next(HA_INIT, ev.state)), "?") == 0)
		abort();
	if (notify_parse(line, len, &again) != 0 || memcmp(&ev, &again, sizeof(ev)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct notify_lines nl;
	size_t off = 0;

	/* The whole input as one line, as if it came without a newline. */
	check_line(data, size > NOTIFY_LINE_MAX ? NOTIFY_LINE_MAX : size, NULL);

	/* Then as a stream, in chunks whose sizes come from the data. */
	notify_lines_init(&nl);
	while (off < size) {
		size_t chunk = 1 + data[off] % 64;

		if (chunk > size - off)
			chunk = size - off;
		notify_lines_feed(&nl, data + off, chunk, check_line, NULL);
		off += chunk;
	}
	if (nl.len > NOTIFY_LINE_MAX)
		abort();
	return 0;
}
