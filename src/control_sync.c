/*
 * control_sync.c - nfqspictl sync: status, role, resync
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * `sync role` is what keepalived's notify hooks call, so it answers at
 * once: the sync thread does the rest (the window grace of a new master,
 * a backup's request for the table) in its own time.
 */
#include <string.h>

#include "control.h"

int
cmd_sync(struct client *c, struct evbuffer *b)
{
	struct ctl_request	*r = &c->req;
	struct sync		*s = c->ctl->info->sync;
	struct sync_status	 st;
	const char		*sub = r->argc > 1 ? r->argv[1] : "status";
	int			 json = (c->flags & CTL_F_JSON) != 0;
	int			 role = SYNC_ROLE_BACKUP;

	if (s == NULL) {
		client_error(c, "sync is off (no [sync] section)");
		return (-1);
	}
	if (strcmp(sub, "status") == 0 && r->argc <= 2) {
		sync_status(s, &st);
		sync_print(b, &st, json);
		return (0);
	}
	if (strcmp(sub, "role") == 0 && r->argc == 3) {
		if (strcmp(r->argv[2], "master") == 0)
			role = SYNC_ROLE_MASTER;
		else if (strcmp(r->argv[2], "backup") == 0)
			role = SYNC_ROLE_BACKUP;
		else {
			client_error(c, "sync role: \"%s\" is not master or "
			    "backup", r->argv[2]);
			return (-1);
		}
	} else if (strcmp(sub, "resync") != 0 || r->argc != 2) {
		client_error(c, "sync: expected status, role master|backup or "
		    "resync");
		return (-1);
	}
	/* changes state: client_request() checked the peer */
	if (strcmp(sub, "resync") == 0) {
		sync_resync(s);
		evbuffer_add_printf(b, json ? "{\"resync\":true}\n" :
		    "asked the peer for its whole table\n");
		return (0);
	}
	(void)sync_set_role(s, role);
	evbuffer_add_printf(b, json ? "{\"role\":\"%s\"}\n" : "role %s\n",
	    sync_role_name(role));
	return (0);
}
