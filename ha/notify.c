#include <errno.h>
#include <string.h>

#include "ha/notify.h"
#include "proto/cursor.h"

/* A token: bytes up to the next space or the end. */
static int get_token(struct cur *c, struct cur *tok)
{
	size_t n = 0;

	while (n < cur_left(c) && cur_ptr(c)[n] != ' ')
		n++;
	if (n == 0)
		return -1;
	return cur_get_sub(c, n, tok);
}

static int get_space(struct cur *c)
{
	uint8_t b;

	if (cur_get_u8(c, &b) < 0 || b != ' ')
		return -1;
	return 0;
}

static int tok_is(const struct cur *tok, const char *s)
{
	size_t n = strlen(s);

	return tok->len == n && memcmp(tok->p, s, n) == 0;
}

/* Printable ASCII other than space and '"': what keepalived accepts in a name. */
static int name_byte_ok(uint8_t b)
{
	return b > ' ' && b < 0x7f && b != '"';
}

static int parse_name(struct cur *tok, char *out)
{
	const uint8_t *p = tok->p;
	size_t n = tok->len;

	if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
		p++;
		n -= 2;
	}
	if (n == 0 || n >= NOTIFY_NAME_MAX)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!name_byte_ok(p[i]))
			return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

static const struct {
	const char *word;
	enum vrrp_state state;
} states[] = {
        {"MASTER", VRRP_MASTER},
        {"BACKUP", VRRP_BACKUP},
        {"FAULT", VRRP_FAULT},
        {"STOP", VRRP_STOP},
        {"DELETED", VRRP_DELETED},
        {"MASTER_RX_LOWER_PRI", VRRP_MASTER_RX_LOWER_PRI},
        {"MASTER_PRIORITY", VRRP_MASTER_PRIORITY},
        {"BACKUP_PRIORITY", VRRP_BACKUP_PRIORITY},
};

static int parse_state(const struct cur *tok, enum vrrp_state *out)
{
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (tok_is(tok, states[i].word)) {
			*out = states[i].state;
			return 0;
		}
	return -1;
}

/* Plain decimal 0..255, no sign, no leading zero. */
static int parse_priority(const struct cur *tok, unsigned *out)
{
	unsigned v = 0;

	if (tok->len == 0 || tok->len > 3 || (tok->len > 1 && tok->p[0] == '0'))
		return -1;
	for (size_t i = 0; i < tok->len; i++) {
		if (tok->p[i] < '0' || tok->p[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(tok->p[i] - '0');
	}
	if (v > 255)
		return -1;
	*out = v;
	return 0;
}

int notify_parse(const uint8_t *line, size_t len, struct notify_event *ev)
{
	struct cur c, tok;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	cur_init(&c, line, len);
	memset(ev, 0, sizeof(*ev));
	if (get_token(&c, &tok) < 0)
		return -EINVAL;
	if (tok_is(&tok, "INSTANCE"))
		ev->kind = NOTIFY_INSTANCE;
	else if (tok_is(&tok, "GROUP"))
		ev->kind = NOTIFY_GROUP;
	else if (tok_is(&tok, "VS") || tok_is(&tok, "RS"))
		return cur_left(&c) > 0 ? -ENOMSG : -EINVAL;
	else
		return -EINVAL;
	if (get_space(&c) < 0 || get_token(&c, &tok) < 0 || parse_name(&tok, ev->name) < 0)
		return -EINVAL;
	if (get_space(&c) < 0 || get_token(&c, &tok) < 0 || parse_state(&tok, &ev->state) < 0)
		return -EINVAL;
	if (get_space(&c) < 0 || get_token(&c, &tok) < 0 || parse_priority(&tok, &ev->priority) < 0)
		return -EINVAL;
	if (cur_left(&c) != 0)
		return -EINVAL;
	return 0;
}

const char *notify_kind_name(enum notify_kind k)
{
	switch (k) {
	case NOTIFY_INSTANCE:
		return "INSTANCE";
	case NOTIFY_GROUP:
		return "GROUP";
	}
	return "?";
}

const char *vrrp_state_name(enum vrrp_state s)
{
	switch (s) {
	case VRRP_MASTER:
		return "MASTER";
	case VRRP_BACKUP:
		return "BACKUP";
	case VRRP_FAULT:
		return "FAULT";
	case VRRP_STOP:
		return "STOP";
	case VRRP_DELETED:
		return "DELETED";
	case VRRP_MASTER_RX_LOWER_PRI:
		return "MASTER_RX_LOWER_PRI";
	case VRRP_MASTER_PRIORITY:
		return "MASTER_PRIORITY";
	case VRRP_BACKUP_PRIORITY:
		return "BACKUP_PRIORITY";
	}
	return "?";
}

void notify_lines_init(struct notify_lines *nl)
{
	memset(nl, 0, sizeof(*nl));
}

void notify_lines_feed(struct notify_lines *nl, const uint8_t *p, size_t n, notify_line_cb cb,
                       void *arg)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b = p[i];

		if (b == '\n') {
			if (!nl->discarding)
				cb(nl->buf, nl->len, arg);
			nl->len = 0;
			nl->discarding = 0;
			continue;
		}
		if (nl->discarding)
			continue;
		if (nl->len == sizeof(nl->buf)) {
			nl->overlong++;
			nl->discarding = 1;
			nl->len = 0;
			continue;
		}
		nl->buf[nl->len++] = b;
	}
}
