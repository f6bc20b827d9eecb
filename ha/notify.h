/*
 * keepalived's notify_fifo, parsed. keepalived writes one line per event,
 * in order (keepalived.conf(5), vrrp_sync_group "notify"):
 *
 *	INSTANCE "VI_1" MASTER 100
 *	GROUP "VG_1" BACKUP 0
 *
 * The state is MASTER, BACKUP, FAULT, STOP, DELETED, MASTER_RX_LOWER_PRI,
 * or MASTER_PRIORITY / BACKUP_PRIORITY (notify_priority_changes). The same
 * FIFO may carry LVS lines ("VS ...", "RS ..."), which we recognise and
 * ignore. The bytes come from another process: they are read through a
 * cursor and anything else is a counted drop.
 *
 * No I/O here: ha/fifo.c reads the FIFO and feeds notify_lines_feed().
 */
#ifndef TWIST_HA_NOTIFY_H
#define TWIST_HA_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#define NOTIFY_NAME_MAX 128 /* bytes of an instance or group name, NUL included */
#define NOTIFY_LINE_MAX 512 /* longer lines are dropped whole */

enum notify_kind {
	NOTIFY_INSTANCE,
	NOTIFY_GROUP,
};

enum vrrp_state {
	VRRP_MASTER,
	VRRP_BACKUP,
	VRRP_FAULT,
	VRRP_STOP,
	VRRP_DELETED,
	VRRP_MASTER_RX_LOWER_PRI,
	VRRP_MASTER_PRIORITY,
	VRRP_BACKUP_PRIORITY,
};

struct notify_event {
	enum notify_kind kind;
	char name[NOTIFY_NAME_MAX];
	enum vrrp_state state;
	unsigned priority; /* 0..255 */
};

/*
 * One line, without its '\n' (a trailing '\r' is tolerated).
 * Returns 0 with *ev filled, -ENOMSG for a well-formed line that is not
 * about VRRP (LVS "VS"/"RS"), or -EINVAL.
 */
int notify_parse(const uint8_t *line, size_t len, struct notify_event *ev);

const char *notify_kind_name(enum notify_kind k);
const char *vrrp_state_name(enum vrrp_state s);

/*
 * Line assembly across read() calls. Lines longer than NOTIFY_LINE_MAX are
 * dropped up to their newline and counted; nothing is allocated.
 */
struct notify_lines {
	uint8_t buf[NOTIFY_LINE_MAX];
	size_t len;
	int discarding; /* inside an overlong line: skip to its '\n' */
	uint64_t overlong;
};

typedef void (*notify_line_cb)(const uint8_t *line, size_t len, void *arg);

void notify_lines_init(struct notify_lines *nl);
void notify_lines_feed(struct notify_lines *nl, const uint8_t *p, size_t n, notify_line_cb cb,
                       void *arg);

#endif
