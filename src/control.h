/*
 * control.h - private to the control socket's files
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 *   control.c          the socket, the clients, their frames, dispatch
 *   control_table.c    conntrack: listings and deletes in slices
 *   control_events.c   events: the clients that follow the tables
 *   control_rules.c    rules and iptables: the configuration printed
 *   control_sync.c     sync: the HA peer's status, role, resync
 *
 * A command function answers into b and returns 0, or sends an error
 * (client_error()) and returns -1, or starts a job that answers over
 * several turns of the main loop and returns 1.
 */
#ifndef NFQSPI_CONTROL_H
#define NFQSPI_CONTROL_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <stdint.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "nfqspid.h"
#include "ctlproto.h"
#include "ctfilter.h"

#define CONTROL_MAXCLIENTS	16
/* events streams keep their slots: the last 4 stay for status, reload */
#define CONTROL_MAXSTREAMS	(CONTROL_MAXCLIENTS - 4)
#define CONTROL_BACKLOG		16
#define CONTROL_READ_TIMEOUT	10	/* seconds without a byte */
#define CONTROL_DEADLINE	5	/* seconds for a whole request */
#define CONTROL_WRITE_TIMEOUT	30	/* seconds without taking output */
#define CONTROL_SLICE		1024	/* entries per worker_slice() */
#define CONTROL_LOWAT		(64 * 1024)	/* produce more below this */
#define CONTROL_EVENTS_MAX	(1024 * 1024)	/* output buffered for an
						   events client, at most */

enum job {
	JOB_NONE = 0,
	JOB_CT_LIST,
	JOB_CT_COUNT,		/* with filters: walk and count */
	JOB_CT_DELETE,		/* flush too: a delete that matches all */
	JOB_EVENTS		/* until the client goes */
};

struct control;

struct client {
	TAILQ_ENTRY(client)	 entry;
	struct control		*ctl;
	struct bufferevent	*bev;
	struct event		*ev_step;
	struct event		*ev_deadline;	/* the request's */
	uint64_t		 requests;	/* whole ones received */
	int			 closing;	/* free once output is sent */
	int			 evicted;	/* its slot given away: not in
						   nclients while it closes */
	uint32_t		 flags;		/* the request's CTL_F_* */
	int			 listening;	/* events: subscribed */
	int			 privileged;	/* may change state */
	uid_t			 uid;		/* the peer's, SO_PEERCRED */
	pid_t			 pid;
	uint64_t		 lost;		/* events not sent yet */

	/* a command that takes more than one slice */
	enum job		 job;
	unsigned		 wi;		/* worker we are at */
	uint64_t		 cursor;	/* its ct_walk() cursor */
	int			 first;		/* no JSON element yet */
	uint64_t		 count;		/* listed or removed */
	int			 all;		/* flush: no filter */
	struct ctf		 filter;	/* conntrack's, events' */

	struct ctl_request	 req;
};

TAILQ_HEAD(clientlist, client);

struct control {
	struct event_base	*base;
	char			 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int			 fd;
	struct event		*ev_accept;
	struct event		*ev_pause;
	const struct daemon_info *info;
	struct worker		**workers;
	unsigned		 nworkers;
	struct events		*events;	/* NULL: none */
	int			(*reload)(void *, char *, size_t);
	void			*reload_arg;
	struct clientlist	 clients;
	unsigned		 nclients;
	gid_t			 gid;		/* the daemon's group */
	struct accept_guard	 guard;		/* accept() out of descriptors */
	struct log_rl		 rl_full;	/* clients dropped or refused */
	struct log_rl		 rl_streams;	/* events streams ended or
						   refused: apart, so that
						   neither hides the other */
	struct log_rl		 rl_denied;	/* permission denied */
	struct log_rl		 rl_exiting;	/* refused while exiting */
	char			 exiting[STATUS_LATE_LEN]; /* why; "" while
						   every worker runs */
};

/* control.c */
void	 client_data(struct client *c, struct evbuffer *buf);
void	 client_end(struct client *c, const char *note);
void	 client_error(struct client *c, const char *fmt, ...)
	    NFQSPI_PRINTF(2, 3);
/* worker i failed a question: ETIMEDOUT in errno, or not running */
void	 client_worker_error(struct client *c, unsigned i);
void	 client_done(struct client *c);
void	 client_close(struct client *c);

/* control_table.c */
void	 control_table_step(evutil_socket_t fd, short ev, void *arg);
int	 cmd_conntrack(struct client *c, struct evbuffer *b);

/* control_events.c */
void	 cmd_events(struct client *c);
void	 control_events(void *arg, int event, const struct ct_view *v,
	    uint64_t lost);

/* control_sync.c */
int	 cmd_sync(struct client *c, struct evbuffer *b);

/* control_rules.c */
int	 cmd_rules(struct client *c, struct evbuffer *b);
int	 cmd_iptables(struct client *c, struct evbuffer *b);
int	 cmd_nft(struct client *c, struct evbuffer *b);

#endif /* NFQSPI_CONTROL_H */
