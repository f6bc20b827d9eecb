/*
 * This node's VRRP role, from the file the HA glue writes out of
 * keepalived's notify_fifo (DESIGN decision 7): "master" or "backup".
 * A missing file means backup: a node that cannot tell must not claim the
 * VIP's table.
 */
#ifndef TWIST_SYNCD_ROLE_H
#define TWIST_SYNCD_ROLE_H

#include <stdbool.h>

struct role;

struct role *role_new(const char *path);
void role_free(struct role *r);
/*
 * Reads the file again if force, or if it changed (mtime, size, inode) since
 * the last read. Returns true when the role is master.
 */
bool role_check(struct role *r, bool force);

#endif
