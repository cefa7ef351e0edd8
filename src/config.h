/*
 * config.h - the validated, immutable configuration
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * config_load() is the only way in (config_reload() at a reload): it
 * reads the INI file, validates every section, key and value, and
 * returns a struct nobody changes afterwards.  A reload builds a new one
 * and swaps the pointer.
 */
#ifndef NFQSPI_CONFIG_H
#define NFQSPI_CONFIG_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "ct.h"
#include "frag.h"
#include "rule.h"
#include "ruleset.h"
#include "divert.h"
#include "syncproto.h"

#define CONFIG_DEFAULT_PATH	"/etc/nfqspi.ini"
#define CONFIG_PATHLEN		256
#define CONFIG_IDLE_WARN	60	/* [daemon] idle_warn's default */
/* warnings kept of one load (struct config's warn): the first few say
   enough, and the count of the rest is kept */
#define CONFIG_MAXWARN		8
/* a long path and names of rules: a shadow warning names up to 8
   (config.c); within a log line with "reload: warning: " (log.c) */
#define CONFIG_WARNLEN		1000

/* [sync]: connection-state sync with an HA peer (sync.c) */
enum sync_role {
	SYNC_ROLE_BACKUP = 0,
	SYNC_ROLE_MASTER
};

struct sync_config {
	uint8_t		 on;		/* the section is there */
	uint8_t		 role;		/* enum sync_role at start */
	struct sockaddr_storage listen;	/* local address and port */
	struct sockaddr_storage peer;
	socklen_t	 addrlen;	/* of both: one family */
	char		 keyfile[CONFIG_PATHLEN];
	struct sync_key	 key;		/* from the file's secret */
	uint16_t	 mtu;		/* bytes of a datagram's payload */
	uint16_t	 flush_ms;	/* changes wait at most this long */
	uint32_t	 resend;	/* messages kept for resends */
	uint32_t	 queue;		/* changes a worker may hold */
	uint32_t	 refresh;	/* s: long-lived connections re-sent */
	uint32_t	 grace;		/* s of liberal windows after
					   becoming master */
	uint32_t	 alone;		/* s without the peer: ready
					   without its table; 0 never */
};

enum config_mode {
	MODE_ENFORCE = 0,
	MODE_MONITOR
};

struct auth;

/* [daemon] threads at most: the workers one question asks at once
   (worker_call_all_within()) */
#define WORKERS_MAX	64

struct config {
	char		 path[CONFIG_PATHLEN];

	/* [daemon] */
	uint16_t	 queue;
	uint16_t	 threads;
	uint8_t		 fail_open;
	uint8_t		 mode;		/* enum config_mode */
	uint16_t	 fail_open_grace; /* s of liberal windows after an
					   overflow the kernel let pass */
	uint32_t	 queue_maxlen;
	char		 user[64];	/* "": stay root */
	uint32_t	 user_line;	/* of user, for config_user_check() */
	char		 pidfile[CONFIG_PATHLEN];
	char		 control[CONFIG_PATHLEN];
	char		 http[64];	/* "": off */
	struct rule_addrset *http_allow; /* who may use it; never NULL
					   (default loopback) */
	uint8_t		 divert;	/* enum divert_mode: installed and
					   watched by nfqspid */
	uint32_t	 idle_warn;	/* seconds without a packet on a queue
					   while the interfaces carry traffic
					   before a warning; 0: never */
	char		 http_auth[CONFIG_PATHLEN];	/* "": none */
	uint8_t		 fastpath;	/* judged connections skip the queue
					   through the kernel (fpd.c) */
	struct auth	*http_users;	/* read from http_auth, or NULL */
	char		 state_file[CONFIG_PATHLEN];	/* "": off; the table
					   across a restart (state.c) */

	/* [conntrack] */
	struct ct_config ct;
	uint8_t		 checksum;	/* verify what the kernel has not */
	struct frag_config frag;	/* frag_* keys */

	/* [policy]: enum rule_action for each enum ct_state */
	uint8_t		 policy[CT_STATE_MAX];

	/* [log] */
	int		 facility;	/* LOG_DAEMON, ... */
	uint32_t	 log_rate;	/* audit records per second */
	uint8_t		 log_invalid;

	/* [sync] */
	struct sync_config sync;

	/* [rule NAME] sections, in file order */
	struct rule	*rules;
	size_t		 nrules;
	struct ruleset	*ruleset;	/* the rules compiled for lookups */
	/* config_map_rules(): rule i was rule_from[i] of rule_from_cfg
	   (SIZE_MAX: new), so that a worker keeps a renamed policy's
	   counters without matching names itself; NULL: not made */
	size_t		*rule_from;
	const struct config *rule_from_cfg;
	/* CT_STATE_BIT()s of the states no rule names, so that their
	   packets skip the rules (config_load() sets it; 0: ask them) */
	uint8_t		 norule_states;

	/* Rules that are valid but can never match (an IPv6 address with
	   proto = icmp, src all IPv4 and dst all IPv6, ...), worded as the
	   errors are, for nfqspid -n and the log at a start or reload */
	char		 warn[CONFIG_MAXWARN][CONFIG_WARNLEN];
	size_t		 nwarn;
	size_t		 warn_more;	/* not kept: there was no room */
};

/*
 * Returns NULL on error, with one line in err naming the file, the
 * section, the key and what was expected, e.g.
 *   nfqspi.ini: [rule ssh-in] dport: "22-" is not a port or port range
 * config_load() is for a start and nfqspid -n: everything is checked.
 * config_reload() checks what a reload applies: [sync] waits for the
 * next start, so its key file is not read (sync.key stays zeros); the
 * daemon may have dropped root, and a key only root may read must not
 * stop a reload of the rules.
 */
struct config	*config_load(const char *path, char *err, size_t errlen);
struct config	*config_reload(const char *path, char *err, size_t errlen);
/* Fills c->rule_from against old (a reload, in the main thread), by a
   hash of old's rule names.  0, or -1 and errno (then it stays NULL). */
int		 config_map_rules(struct config *c, const struct config *old);
void		 config_free(struct config *c);
/* [daemon] user is a user of this system: 0, or -1 with the error in
   err, as config_load() words them.  For nfqspid -n and a start, not
   --replay, which may read a policy made for another machine. */
int		 config_user_check(const struct config *c, char *err,
		    size_t errlen);

/*
 * config_sync.c: [sync] for config.c.  config_sync_key() takes one key:
 * 0, 1 if it is no key of [sync], -1 with the reason in err (the key
 * named, not the section).  At the section's end config_sync_done()
 * checks that listen, peer and key were given, config_sync_peer() that
 * peer is of listen's address family, a unicast address and not listen
 * itself, config_sync_keyfile() reads the key file into sc->key: each 0
 * or -1.
 */
void		 config_sync_defaults(struct sync_config *sc);
int		 config_sync_key(struct sync_config *sc, const char *key,
		    const char *val, char *err, size_t errlen);
int		 config_sync_done(struct sync_config *sc, char *err,
		    size_t errlen);
int		 config_sync_peer(const struct sync_config *sc, char *err,
		    size_t errlen);
int		 config_sync_keyfile(struct sync_config *sc, char *err,
		    size_t errlen);
/* 1 if a and b say the same but for the secret (a reload's has none,
   config_reload()), else 0 */
int		 config_sync_same(const struct sync_config *a,
		    const struct sync_config *b);
/*
 * ADDR:PORT or [ADDR]:PORT, port 1-65535: ADDR's text (not checked) into
 * addr, len bytes, and the port; AF_INET6 if bracketed, else AF_INET;
 * -1 if v is neither or ADDR does not fit.
 */
int		 config_split_addrport(const char *v, char *addr, size_t len,
		    uint16_t *port);
/* ADDR:PORT (an IPv4 address or [IPv6], port 1-65535): 0, or -1 */
int		 config_addrport(const char *v, struct sockaddr_storage *ss,
		    socklen_t *len);
/* "10.0.9.1:3780", "[fd00::1]:3780" */
void		 config_sync_addr(const struct sockaddr_storage *ss,
		    char *buf, size_t len);

#endif /* NFQSPI_CONFIG_H */
