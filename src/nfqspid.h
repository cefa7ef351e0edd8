/*
 * nfqspid.h - the daemon: prototypes grouped by the file that defines them
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The pure modules (pkt, ct, rule, config, verdict) have headers of their
 * own so tests and fuzzers can link them alone; this header is for the
 * parts that do I/O.
 *
 * How the daemon side reports failure (one convention for every file):
 * - A function that can fail returns 0 (or a count) on success and -1
 *   on failure, or a pointer and NULL, with errno saying why.  Nothing
 *   else: no negative errno values, no bool.
 * - Where the caller must show a person more than strerror(errno) can
 *   say (which key of which section, which step of start-up failed), it
 *   takes "char *err, size_t errlen" as its last two parameters, writes
 *   one line there (no newline) and still returns -1 or NULL; errno is
 *   then unspecified.  Those are the loaders and checkers of files
 *   (config_*(), auth_*(), services_port(), the rule value parsers
 *   rule_parse_*()), ctl_filter_parse() (the line goes back to
 *   nfqspictl), the openers of start-up (worker_new(), sync_new(),
 *   fpd_open(), http_open(), diverter_open()) and the reload callback:
 *   the parameter names say which.
 * - A predicate (rule_match(), ctl_filter_match(), ...) returns 1 or
 *   0 and cannot fail.
 * - Bad input from the network (packets, control requests) is not a
 *   failure of the function: it is an INVALID verdict, an error reply
 *   or a counter, never a log line per packet.
 * - log_warn()/fatal() are for start-up and for the main thread; strings
 *   are copied with spi_strlcpy() (strl.h) or snprintf() with its result
 *   checked, never strcpy().
 */
#ifndef NFQSPID_H
#define NFQSPID_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "pkt.h"
#include "ct.h"
#include "ct_view.h"
#include "rule.h"
#include "config.h"
#include "verdict.h"
#include "limit.h"
#include "reason.h"
#include "nqmsg.h"
#include "divert.h"
#include "qwatch.h"
#include "syncseq.h"
#include "fpq.h"

#ifndef __dead
#define __dead		__attribute__((__noreturn__))
#endif
#define NFQSPI_PRINTF(a, b)	__attribute__((__format__(printf, a, b)))

/* log.c */
#define LOG_STDERR_NONE	0	/* detached: syslog only */
#define LOG_STDERR_ALL	1	/* -f, and until the configuration is read */
#define LOG_STDERR_WARN	2	/* starting detached: warnings and errors */
#define LOG_STDERR_JOURNAL 3	/* stderr is the journal: warnings and
				   errors there alone, the rest to syslog */
void	 log_init(int tostderr, int debug, int facility);
int	 log_stderr_journal(void);
void	 log_close(void);
void	 log_setfacility(int facility);
int	 log_getdebug(void);
int	 log_last_error(char *buf, size_t len);
void	 log_on_fatal(void (*fn)(const char *, int));
void	 log_warn(const char *, ...) NFQSPI_PRINTF(1, 2);
void	 log_warnx(const char *, ...) NFQSPI_PRINTF(1, 2);
void	 log_info(const char *, ...) NFQSPI_PRINTF(1, 2);
void	 log_debug(const char *, ...) NFQSPI_PRINTF(1, 2);
void	 log_audit(const char *, ...) NFQSPI_PRINTF(1, 2);
/* One line per LOG_RL_SECS for a kind of event that others can repeat
   at will (refused clients, accept failures).  log_rl() says whether
   this one may be logged, and how many were held back before it;
   log_rl_more() says so at the end of the line, when there were any. */
#define LOG_RL_SECS	10
struct log_rl {
	uint64_t	 last;		/* spi_now_ms() / 1000; 0: never */
	uint64_t	 held;
};
int	 log_rl(struct log_rl *rl, uint64_t *held);
#define LOG_RL_MORELEN	80	/* the longest count fits */
const char *log_rl_more(uint64_t held, char *buf, size_t len);
__dead void fatal(const char *, ...) NFQSPI_PRINTF(1, 2);
__dead void fatalx(const char *, ...) NFQSPI_PRINTF(1, 2);

/* nq.c: one NFQUEUE, spoken to over libmnl */
struct nq;

/*
 * Bytes of each packet the kernel copies to us.  The engine needs the
 * headers only: IPv4/IPv6 with extension headers, TCP with options, and
 * an ICMP error's quoted IP header plus 8 bytes of its transport header.
 * 512 covers all of that with room for long IPv6 extension chains; the
 * payload stays in the kernel (GSO packets can be 64k).
 */
#define NQ_COPY_RANGE	512
/*
 * With [conntrack] checksum = yes the checksums need every byte: up to a
 * jumbo frame is copied.  Only a GSO packet is longer (NFQA_CFG_F_GSO),
 * and its checksum is the kernel's (verified by GRO, or filled in on
 * the way out), so it is not ours to check.  Fragments are never longer
 * than the link's MTU: each comes whole.  A queue copies this much only
 * while packets come that the kernel has not verified (worker_copy.c).
 */
#define NQ_COPY_WHOLE	9216
/* Datagrams read with one recvmmsg(), and decided together. */
#define NQ_BATCH	32

/* What the callback of nq_recv_batch() decides for one packet. */
struct nq_verdict {
	uint8_t		 accept;	/* 1 accept, 0 drop */
	uint8_t		 set_mark;
	uint8_t		 defer;		/* decided later: the callback's
					   owner must call nq_verdict()
					   for this id exactly once */
	uint8_t		 repeat;	/* NF_REPEAT: queued again, copied
					   as nq_set_copy() said since */
	uint32_t	 mark;
};

struct nq_stats {
	uint64_t	 received;
	uint64_t	 verdicts;
	uint64_t	 verdict_errors;
	uint64_t	 enobufs;
	uint64_t	 bad_messages;	/* no packet id: cannot be answered */
	uint64_t	 malformed;	/* had an id; answered as INVALID */
	uint64_t	 batches;	/* NFQNL_MSG_VERDICT_BATCH sent */
	uint64_t	 deferred;	/* verdicts given later by nq_verdict() */
	uint64_t	 lost;		/* packet ids that never came: the
					   socket's buffer was full */
	uint64_t	 repeated;	/* NF_REPEAT verdicts */
};

/* Binds the queue, copying copy bytes of each packet (NQ_COPY_RANGE,
   NQ_COPY_WHOLE), later at most maxcopy (nq_set_copy()).  NULL and errno
   on failure (EBUSY: bound elsewhere). */
struct nq	*nq_open(uint16_t queue, uint32_t maxlen, int fail_open,
		    uint32_t copy, uint32_t maxcopy);
/* Unbinds the queue and closes the socket. */
void		 nq_close(struct nq *q);
int		 nq_fd(const struct nq *q);
uint16_t	 nq_queue(const struct nq *q);
int		 nq_set_params(struct nq *q, uint32_t maxlen, int fail_open);
/* Copy copy bytes of each packet queued from now on (at most nq_open()'s
   maxcopy); maxlen and fail_open are sent along as nq_set_params(). */
int		 nq_set_copy(struct nq *q, uint32_t copy, uint32_t maxlen,
		    int fail_open);
uint32_t	 nq_copy(const struct nq *q);
/*
 * Reads what the socket holds (at most budget messages, 0: until it is
 * empty), hands the packets to cb a batch at a time and sends the
 * verdicts before it returns: cb gets n packets (at most NQ_BATCH, read
 * together, so it may look ahead) and their n verdicts preset to drop;
 * whatever cb leaves in v[i] is p[i]'s verdict, so every packet read
 * gets exactly one.  p[i] and its data are valid during the call only.
 * Returns the number of packets, or -1 and errno when the queue is lost
 * (anything but EAGAIN, EINTR and ENOBUFS).
 */
typedef void	(*nq_batch_cb)(void *arg, const struct nq_packet *p,
		    struct nq_verdict *v, size_t n);
int		 nq_recv_batch(struct nq *q, size_t budget, nq_batch_cb cb,
		    void *arg);
/*
 * Shutting down: the kernel stops queueing (queue_maxlen 0: new packets
 * follow fail_open), so that draining afterwards leaves nothing behind.
 */
int		 nq_quiesce(struct nq *q);
/*
 * The verdict of a packet whose callback set v->defer.  While any is
 * outstanding nq sends no batch verdict (a batch would cover it too).
 */
int		 nq_verdict(struct nq *q, uint32_t id, const struct nq_verdict *v);
void		 nq_get_stats(const struct nq *q, struct nq_stats *s);
/* stats.lost alone, for every batch */
uint64_t	 nq_lost(const struct nq *q);
/* The packets the kernel holds for the queue (nq_proc_read()'s
   waiting); -1 if unknown. */
int64_t		 nq_backlog(const struct nq *q);
/*
 * The kernel's view of queues first .. first + n - 1, from
 * /proc/net/netfilter/nfnetlink_queue (our network namespace's): packets
 * waiting, dropped because the queue was full, dropped because our
 * socket buffer was; -1 where a queue is not listed.  Returns how many
 * of them are listed, -1 if the file cannot be read.
 */
struct nq_proc {
	int64_t		 waiting;
	int64_t		 dropped;
	int64_t		 user_dropped;
};
int		 nq_proc_read(unsigned first, unsigned n, struct nq_proc *q);
/* "queue 0 is in use by another process", ... for an nq_open() errno */
const char	*nq_strerror(int err);

/* worker.c: a thread with its own queue, libevent base and table */
struct worker;
struct event_base;
struct events;
struct fpd;

/*
 * synclink.c's counters, kept by the sync thread; in struct
 * worker_stats so that status.c's one list shows them (the workers' own
 * are zero).
 */
struct sync_stats {
	uint64_t	 sent;		/* data messages */
	uint64_t	 resent;
	uint64_t	 received;	/* messages taken */
	uint64_t	 changes;	/* records the workers queued */
	uint64_t	 coalesced;	/* ... superseded before they left */
	uint64_t	 lost;		/* ... that found their ring full */
	uint64_t	 applied;	/* records imported (backup) */
	uint64_t	 ignored;	/* records a master left alone */
	uint64_t	 import_failed;	/* table full */
	uint64_t	 norule;	/* a rule name this node lacks */
	uint64_t	 swept;		/* ours a whole table did not bring */
	uint64_t	 bulks_sent;
	uint64_t	 bulks_received;
	uint64_t	 nacks_sent;
	uint64_t	 nacks_received;
	uint64_t	 forged;	/* refused: HMAC */
	uint64_t	 replayed;	/* refused: seen already, old epoch */
	uint64_t	 malformed;	/* refused: size, magic, type, body */
	uint64_t	 version;	/* refused: another protocol version */
	uint64_t	 strangers;	/* not from the peer's address */
	uint64_t	 send_errors;
};

/*
 * A worker's counters.  Every field is a uint64_t or a struct of them:
 * worker_stats_add() adds them word by word, and status.c's counters[]
 * says how each is shown.  A new counter is a field here and a row
 * there.
 */
struct worker_stats {
	uint64_t	 received;
	uint64_t	 accepted;
	uint64_t	 dropped;
	uint64_t	 invalid;
	uint64_t	 related;
	uint64_t	 audited;
	uint64_t	 suppressed;	/* audit records over [log] rate */
	struct nq_stats	 nq;
	struct ct_stats	 ct;
	uint64_t	 conns;		/* in the table */
	uint64_t	 rejects;	/* answers sent for reject rules */
	uint64_t	 reject_errors;	/* answers that could not be sent */
	uint64_t	 overflows;	/* the queue overflowed while failing
					   open (each starts a grace) */
	uint64_t	 adopted;	/* [sync]: connections taken from
					   their home worker (worker_ask.c) */
	uint64_t	 adopt_failed;	/* moved between workers, but the
					   receiving table refused them:
					   lost */
	uint64_t	 adopt_missed;	/* packets judged without waiting
					   for home's answer: the cap, or
					   no answer in time */
	uint64_t	 adopt_untold;	/* fresh entries whose home worker
					   was not told: its list was full
					   (WORKER_FRESH) */
	uint64_t	 forgot_deletes; /* connections given back to
					   home after more of the peer's
					   DELETEs than it remembers
					   (WORKER_GONE): ended unchecked */
	uint64_t	 forgot_moved;	/* connections living in another
					   worker that home's full list
					   (WORKER_THERE_MAX) forgot while
					   the peer's record could come */
	uint64_t	 adopt_waiting;	/* packets waiting for home's answer
					   now (gauge) */
	uint64_t	 adopt_bytes;	/* ... with their questions' (gauge;
					   WORKER_ADOPT_BYTES the cap) */
	uint64_t	 grace_saved;	/* packets a new master held for the
					   old master's record: accepted
					   against what it brought (not a
					   SYN, which needs none) */
	uint64_t	 grace_unsaved;	/* ... still refused (no record in
					   time, or refused with it) */
	uint64_t	 restored;	/* from [daemon] state_file at start */
	struct limit_stats limit;	/* rate and conn_limit */
	struct frag_stats frag;		/* the fragment cache */
	uint64_t	 sources;	/* in the limit table */
	uint64_t	 reasons[REASON_MAX];	/* INVALID packets by why */
	struct sync_stats sync;		/* the sync thread's (status.c) */
	struct fp_stats	 fp;		/* the fast path */
};

/*
 * Run fn(w, arg) in the worker's own thread, between two packets, and
 * wait until it returns.  This is how the main thread (control socket,
 * reload) reaches a worker's table without a lock on the packet path.
 * Returns 0, or -1 and ESRCH if the worker is not running.
 */
int	 worker_call(struct worker *w, void (*fn)(struct worker *, void *),
	    void *arg);
/*
 * The same for a question that changes nothing (a status, a listing):
 * if the worker has not taken the call within ms, it is withdrawn -- fn
 * never runs, arg may go -- and -1 comes back with ETIMEDOUT, so that
 * a stopped or hung worker does not hold the main loop (control socket,
 * page, signals, systemd's watchdog) until the watchdog thread ends us.
 * A call the worker has taken is waited for to its end: it is busy.
 * What changes a worker (a reload, a delete) waits with worker_call():
 * half done is worse than late.
 */
int	 worker_call_within(struct worker *w,
	    void (*fn)(struct worker *, void *), void *arg, unsigned ms);
/*
 * The same question to n workers at once, within one deadline for all:
 * fn(w[i], (char *)args + i * size) in each worker's thread.  Every call
 * is posted before any is waited for, so the workers that do not answer
 * cost ms in all, not ms each, and one that answers is never late for
 * coming after them.  err[i] (n of them) gets 0, or what errno
 * worker_call_within() would give (ESRCH, ETIMEDOUT); returns how many
 * failed.
 */
unsigned worker_call_all_within(struct worker **w, unsigned n,
	    void (*fn)(struct worker *, void *), void *args, size_t size,
	    unsigned ms, int *err);
/*
 * How long worker_call_within() waits for the main thread's questions.
 * A running worker comes back to its loop after every batch (at most
 * WORKER_BUDGET packets) and every tick, so it takes a call in well
 * under a millisecond; a second is missed only by a worker stopped or
 * stuck, and stays short to a person at nfqspictl and to an HTTP
 * scrape, which wait the whole of it once, however many workers do not
 * answer (worker_call_all_within()).
 */
#define WORKER_QUERY_MS	1000
/* ms since w's loop last ran (now: spi_now_ms()), from any thread. */
uint64_t worker_idle_ms(const struct worker *w, uint64_t now);
/*
 * The main thread's way through the tables (worker_slice.c): from worker
 * wi's ct_walk() cursor on ({0, 0} the start), one worker_call() hands
 * at most max entries to fn in the worker's thread, then moves wi and
 * cursor on (wi + 1 and cursor 0 once that table is done; wi == n: all
 * are).  fn gets the entry's view, its rule's name too (NULL with
 * noview: a flush needs none); it may ct_remove() the entry.  0, or -1
 * and ESRCH if worker wi is not running.  The tables may change between
 * two slices: an entry there all along is handed out once, one removed
 * before the walk reached it never, one added meanwhile at most once.
 */
struct ct_slice {
	unsigned	 wi;
	uint64_t	 cursor;
	int		 noview;
	unsigned	 wait_ms;	/* a listing: worker_call_within()
					   (ETIMEDOUT); 0: a delete waits */
	void		(*fn)(struct ct_table *t, struct ct_entry *e,
			    struct ct_view *v, void *arg);
	void		*arg;
};
int	 worker_slice(struct worker **workers, unsigned n, struct ct_slice *s,
	    size_t max);
/* The connections in all n tables, asked at once within
   WORKER_QUERY_MS (worker_call_all_within()); -1, errno (ESRCH,
   ETIMEDOUT, EINVAL past WORKERS_MAX) and *wi the first worker that
   failed. */
int	 worker_ct_count_all(struct worker **w, unsigned n, size_t *total,
	    unsigned *wi);
/* Only from inside a worker_call() function: */
struct ct_table *worker_ct(struct worker *w);
const struct config *worker_config(struct worker *w);
void	 worker_get_stats(struct worker *w, struct worker_stats *s);
/* From the main thread: the counters of w[i] in s[i] and its table's
   max in ctmax[i], every worker asked at once within ms
   (worker_call_all_within(): err[i]); how many failed, or -1 and
   EINVAL past WORKERS_MAX. */
int	 worker_snapshot_all(struct worker **w, unsigned n,
	    struct worker_stats *s, uint32_t *ctmax, unsigned ms, int *err);
/* Add every counter of s to t (totals over the workers). */
void	 worker_stats_add(struct worker_stats *t,
	    const struct worker_stats *s);
unsigned worker_id(const struct worker *w);
/*
 * Packets and bytes each rule decided, as pairs: [2 * i] packets and
 * [2 * i + 1] bytes of rule i (i < nrules), then of the [policy] default
 * of each state (nrules + enum ct_state).  *n is nrules + CT_STATE_MAX,
 * 0 (and NULL) if there are none.  Across a reload a rule keeps its
 * counts if it keeps its name.
 */
const uint64_t *worker_rule_counters(struct worker *w, size_t *n);
/* Zero them (nfqspictl rules -Z), in the worker's thread (worker_call()). */
void		 worker_rule_counters_zero(struct worker *w);

/*
 * Life cycle, from the main thread.  worker_new() binds queue
 * cfg->queue + id (fills err and returns NULL on failure);
 * worker_start() runs the thread; if the worker stops on its own (queue
 * lost) dead(w, arg) is called in mainbase's thread.  worker_stop()
 * stops reading, answers every packet already queued and joins the
 * thread; worker_free() unbinds the queue.
 */
struct worker	*worker_new(unsigned id, const struct config *cfg, char *err,
		    size_t errlen);
int		 worker_start(struct worker *w, struct event_base *mainbase,
		    void (*dead)(struct worker *, void *), void *arg);
void		 worker_stop(struct worker *w);
/* After worker_stop(): its loop had ended on its own (worker_error()
   says why) and dead() never ran: the main loop had stopped. */
int		 worker_ended_unseen(const struct worker *w);
/* Once all[0 .. n - 1] stopped: what their inboxes still hold (a
   connection one handed another) goes into the tables, before they are
   saved (worker_ask.c). */
void		 worker_ask_drain(struct worker **all, unsigned n);
/*
 * Once every worker runs: all[0 .. n - 1] may ask each other about ICMP
 * errors quoting a connection of another worker (all must outlive them).
 */
void		 worker_set_peers(struct worker **all, unsigned n);
/* Before worker_start(): the fast path's thread (NULL: off). */
void		 worker_set_fastpath(struct worker *w, struct fpd *d);
/* Before worker_start(): where the table's events go (NULL: nowhere). */
void		 worker_set_events(struct worker *w, struct events *ev);
void		 worker_free(struct worker *w);
/* Switch to cfg (the caller frees the old one after every worker did). */
int		 worker_reload(struct worker *w, const struct config *cfg);
/* The errno that stopped the worker, 0 while it runs. */
int		 worker_error(const struct worker *w);
/* Goes up every WORKER_TICK_MS while the worker's loop runs. */
uint64_t	 worker_heartbeat(const struct worker *w);
/* Packets the worker has decided: read without a worker_call(), so a
   stopped worker never holds up the thread that asks. */
uint64_t	 worker_received(const struct worker *w);
/*
 * From the watchdog's thread, for a worker that stopped running: its
 * queue stops failing open (the kernel drops what does not fit) until
 * the worker runs again and puts fail_open back itself.  1 done, 0
 * nothing to do (fail_open = no, or done already), -1 and errno.
 */
int		 worker_close_queue(struct worker *w);
/* Running a worker_call() (a reload, a flush, the sync link's records). */
int		 worker_in_call(const struct worker *w);

/*
 * sync.c: connection-state sync with the HA peer ([sync]), a thread of
 * its own with its UDP socket.  sync_new() binds the socket (NULL and a
 * message in err); sync_start() once the workers run; sync_stop() after
 * they stopped (it puts into a stopped home what a worker gave up for
 * it meanwhile), sync_free() after they are freed.  The rest is for the
 * main thread, but sync_ct() (the workers').
 */
struct sync;
struct evbuffer;
struct sync_status {
	int		 role;		/* enum sync_role */
	int		 ready;		/* the peer's whole table came, or
					   no peer for [sync] alone s */
	int		 alone;		/* ready without the peer's table */
	int		 reachable;	/* heard within SYNC_DEAD_MS */
	uint64_t	 heard_ms;	/* ago; UINT64_MAX: never */
	char		 listen[64], peer[64];
	struct sync_seq_status seq;
	int		 tx_active;	/* sending our whole table */
	uint64_t	 tx_records, tx_total;
	int		 rx_active;	/* receiving the peer's */
	uint64_t	 rx_records;
	uint64_t	 rx_ms;		/* the last one took (ms) */
	uint64_t	 queued;	/* changes waiting in the rings */
	struct sync_stats st;
};
struct sync	*sync_new(const struct sync_config *sc, struct worker **w,
		    unsigned n, char *err, size_t errlen);
int		 sync_start(struct sync *s);
void		 sync_stop(struct sync *s);
void		 sync_free(struct sync *s);
/* nfqspictl sync role, resync: 0, or -1 EINVAL */
int		 sync_set_role(struct sync *s, int role);
/* The role the workers see now (enum sync_role): one atomic load */
int		 sync_role(const struct sync *s);
void		 sync_resync(struct sync *s);
void		 sync_status(struct sync *s, struct sync_status *st);
/* In worker wid's thread: a change of its table (enum ct_event). */
void		 sync_ct(struct sync *s, unsigned wid, int event,
		    const struct ct_table *t, const struct ct_entry *e,
		    const struct config *cfg);
/* In worker wid's thread: a DELETE of tuple k, which wid holds no entry
   of (worker_adopt_staled()) */
void		 sync_forget(struct sync *s, unsigned wid,
		    const struct ct_tuple *k);
/* 1 while changes are wanted (master); room left in wid's ring */
int		 sync_sending(const struct sync *s);
uint64_t	 sync_room(struct sync *s, unsigned wid);
/* Before a worker hands one of its connections to another: see
   synclink_moved() */
void		 sync_moved(struct sync *s);
/* 1 while the whole table goes out: see synclink_bulking() */
int		 sync_bulking(const struct sync *s);
/* After a change that may end another worker's connection at the peer:
   see synclink_rebulk() */
void		 sync_rebulk(struct sync *s);
/* 1 while a packet passes the window grace without a timer: see
   synclink_unsettled() */
int		 sync_unsettled(const struct sync *s);
/* The connections the peer synced that no packet reached yet, over all
   the workers (atomic; worker_sync.c): 0 most of the time */
uint64_t	*sync_unseen(struct sync *s);
/* Before worker_start(): w hands its changes to s. */
void		 worker_set_sync(struct worker *w, struct sync *s);

/*
 * worker_sync.c, for [daemon] state_file (state.c), on a worker that
 * is not running.  worker_state_import(): the record into the table as
 * the peer's would go (its rule by name, conn_limit counted, no word
 * to the peer); unseen: marked as the peer's copies are, for another
 * worker to adopt (several workers and [sync]).  1 if it went in, 0 if
 * the table refused it.  worker_state_save(): every connection out to
 * sw as worker id's, or as many as fit (sw->full); how many, or -1
 * (errno as state_write_conn()).
 */
struct sync_rec;
struct state_writer;
int		 worker_state_import(struct worker *w, struct sync_rec *r,
		    int unseen);
ssize_t		 worker_state_save(struct worker *w, struct state_writer *sw,
		    uint32_t id);
/* The n workers (not running) judge what they restored by their rules,
   as a reload does. */
void		 worker_state_judge(struct worker **all, unsigned n);

/* state.c: [daemon] state_file, the table kept across a restart */
struct state_load;
/* At start, as root: the file opened (made if missing), or -1 after a
   log line.  state_read() then reads and checks it whole (NULL: nothing
   to restore, said in one line), state_restore() puts what did not
   time out since into the workers (not started yet) and frees sl;
   state_used(), once the workers run, empties the file: a start that
   fails before leaves it to the next.  state_save() writes the tables
   there at a clean stop (the workers stopped) and closes fd. */
int		 state_open(const char *path);
/* nfqspid -n: 0 if state_open() would take path (a missing file is
   made at start, and a unit's state directory under /var/lib by
   systemd), or -1 and why in err (a missing directory elsewhere:
   nobody makes it). */
int		 state_path_check(const char *path, char *err, size_t errlen);
struct state_load *state_read(int fd, const char *path,
		    const struct config *cfg);
void		 state_restore(struct state_load *sl, struct worker **w,
		    unsigned n, int sync);
void		 state_used(int fd, const char *path);
/* sl unused (the start failed): the file stays as it is. */
void		 state_forget(struct state_load *sl);
void		 state_save(int fd, const char *path, struct worker **w,
		    unsigned n);
/* sync_print.c: nfqspictl sync status */
void		 sync_print(struct evbuffer *b, const struct sync_status *st,
		    int json);
const char	*sync_role_name(int role);

/*
 * fpd.c: [daemon] fastpath, the thread that owns the kernel table
 * (fastpath.h) and takes the workers' offloads and removals through
 * rings (fpq.h).  fpd_open() empties the kernel table (a message in err
 * and NULL on failure); fpd_start() runs the thread.  fpd_port() is
 * worker w's pair of rings, fpd_shared() the epoch it watches;
 * fpd_wake() hurries the thread (a removal), fpd_kick() wakes it after
 * an offload only if it sleeps idle (no syscall while it is busy: it
 * comes round within FPD_ROUND_MS), fpd_lost_removal() says
 * one did not fit in the ring (the thread then empties the kernel
 * table).  From the main thread: fpd_sync() returns once every item sent
 * before it is applied, fpd_reload() once the kernel table was emptied
 * (a reload), made anew with maps for cfg's max if that is more than
 * they have room for; both 0, or -1 and ETIMEDOUT.  fpd_stats() adds
 * the thread's counters to s.  fpd_stop() ends the thread and deletes the
 * kernel table; fpd_free(), once no worker runs, the rest.
 */
struct fpd;
struct fpd	*fpd_open(const struct config *cfg, unsigned nworkers,
		    char *err, size_t errlen);
int		 fpd_start(struct fpd *d);
struct fpq_port	*fpd_port(struct fpd *d, unsigned w);
const struct fpq_shared *fpd_shared(struct fpd *d);
void		 fpd_wake(struct fpd *d);
void		 fpd_kick(struct fpd *d);
void		 fpd_lost_removal(struct fpd *d);
int		 fpd_sync(struct fpd *d);
int		 fpd_reload(struct fpd *d, const struct config *cfg);
void		 fpd_stats(struct fpd *d, struct fp_stats *s);
void		 fpd_stop(struct fpd *d);
void		 fpd_free(struct fpd *d);

/* nfqspid.c: the daemon as a whole, for control.c's `status` */
struct daemon_info {
	const char	*version;	/* PACKAGE_VERSION */
	pid_t		 pid;
	time_t		 started;	/* wall clock */
	uint64_t	 started_ms;	/* spi_now_ms() at start */
	uint16_t	 queue;		/* first queue, as bound at start */
	uint16_t	 threads;	/* workers, as started */
	const struct config *cfg;	/* the running configuration; replaced
					   by a reload, read it in the main
					   thread only */
	/* main thread only: */
	uint8_t		 divert;	/* enum divert_mode nfqspid installed */
	const uint64_t	*divert_st;	/* whole at the last check and
					   times put back: divert_st(),
					   loaded atomically; NULL: none */
	const uint64_t	*divert_ahead;	/* rules ahead of our jumps:
					   divert_ahead(), loaded
					   atomically; NULL: none */
	const struct qwatch *qwatch;	/* packets per queue vs interfaces */
	struct sync	*sync;		/* [sync], or NULL */
	struct fpd	*fpd;		/* [daemon] fastpath; NULL: off */
};

/* control.c: the control socket, in the main thread */
struct control;

/*
 * Listen on path (a unix socket) on base.  reload(reload_arg, err,
 * errlen) reloads the configuration like SIGHUP: 0, or -1 with the
 * reason in err.  Returns NULL and errno on failure.
 */
struct control	*control_open(struct event_base *base, const char *path,
		    const struct daemon_info *info, struct worker **workers,
		    unsigned nworkers, struct events *events,
		    int (*reload)(void *arg, char *err, size_t errlen),
		    void *reload_arg);
void		 control_close(struct control *c);
/* A worker ended and the daemon exits (why, as "nfqspid is exiting: ..."):
   what would change state is refused with why from now on. */
void		 control_exiting(struct control *c, const char *why);

/*
 * events.c: the tables' NEW, UPDATE and DESTROY for `nfqspictl events`,
 * a handle made in the main thread.  events_ct() is for the workers (it
 * costs one load while nobody listens); the rest is for the main thread.
 * The sink gets each connection's view with its enum ct_event, or event
 * 0, NULL and the number of events lost because a worker's ring was full.
 */
struct events;
typedef void	(*events_sink_fn)(void *arg, int event,
		    const struct ct_view *v, uint64_t lost);
struct events	*events_new(struct event_base *base, unsigned nworkers);
void		 events_free(struct events *ev);
void		 events_set_sink(struct events *ev, events_sink_fn fn,
		    void *arg);
/* +1 a listener, -1 gone */
void		 events_subscribe(struct events *ev, int delta);
/* t: e's table (its bytes); cfg: the worker's, which names e's rule */
void		 events_ct(struct events *ev, unsigned wid, int event,
		    const struct ct_table *t, const struct ct_entry *e,
		    const struct config *cfg);
const char	*events_name(int event);	/* "NEW", ... */

/*
 * accept.c: what a listener does when accept() fails, so that running
 * out of descriptors sheds connections instead of spinning the main
 * thread.  accept_guard_fail() returns how many ms to pause the listener
 * (0: none); accept_guard_ok() after a connection was accepted.
 */
struct accept_guard {
	int		 spare;		/* /dev/null, given up to shed one */
	unsigned	 pause_ms;	/* the next pause */
	uint64_t	 shed;
	struct log_rl	 rl;
	const char	*who;		/* "http", "control" */
};
int		 accept_guard_init(struct accept_guard *g, const char *who);
void		 accept_guard_free(struct accept_guard *g);
void		 accept_guard_ok(struct accept_guard *g);
unsigned	 accept_guard_fail(struct accept_guard *g, int lfd, int err);

/*
 * http_door.c: the status page's connections, bounded (see there): at
 * most HTTP_MAXCONNS, the allow-list checked at accept, HTTP_DEADLINE
 * seconds for each whole request.  allowed(arg, peer) says whether a
 * peer may connect.  http_door_request() for each request evhttp hands
 * over.
 */
#define HTTP_MAXCONNS	64
#define HTTP_DEADLINE	10	/* seconds for a whole request */
struct http_door;
struct evhttp;
struct evhttp_bound_socket;
struct evhttp_request;
struct sockaddr;
struct http_door_stats {
	uint64_t	 accepted;
	uint64_t	 refused;	/* outside http_allow */
	uint64_t	 deadline;	/* closed: no whole request in time */
	uint64_t	 full;		/* times the cap was reached */
	unsigned	 open;		/* connections now */
	unsigned	 max;		/* the cap */
};
struct http_door *http_door_new(struct event_base *base, struct evhttp *eh,
		    struct evhttp_bound_socket *bound,
		    int (*allowed)(void *arg, const struct sockaddr *peer),
		    void *arg);
void		 http_door_request(struct http_door *d,
		    struct evhttp_request *req);
void		 http_door_stats(const struct http_door *d,
		    struct http_door_stats *st);
void		 http_door_closing(struct http_door *d);
void		 http_door_free(struct http_door *d);

/* http.c: the status page, its JSON and /metrics ([daemon] http) */
struct http;

/* NULL with a message in err on failure. */
struct http	*http_open(struct event_base *base, const struct config *cfg,
		    const struct daemon_info *info, struct worker **workers,
		    unsigned nworkers, char *err, size_t errlen);
void		 http_close(struct http *h);

/*
 * status.c: the counters, declared once, and their printed forms.  A
 * status is a snapshot of every worker's counters, taken in the main
 * thread (status_collect(): -1 and errno ESRCH, with dead set, when a
 * worker is not running; ENOMEM).  A worker that does not answer
 * within WORKER_QUERY_MS (stopped, stuck) is marked late, and left out
 * of the totals and max; every form says which.
 */
struct status_answer {
	int			 late;		/* no answer in time */
	uint64_t		 idle_s;	/* ... and its loop had not run
						   for so long */
};
struct status {
	unsigned		 n;
	struct worker_stats	*per;		/* per worker */
	struct worker_stats	 tot;
	uint64_t		 max;		/* the tables' room */
	struct nq_proc		*q;		/* per worker's queue */
	struct status_answer	*ans;		/* per worker */
	unsigned		 nlate;		/* workers late */
	uint64_t		 depth;		/* packets waiting, all queues */
	uint64_t		 uptime;	/* seconds */
	unsigned		 dead;		/* the worker not running */
};
/* Connections by protocol and state, for /metrics */
struct status_conns {
	uint64_t		 tcp[CT_VIEW_TCP_NSTATES];
	uint64_t		 other[3][3];	/* udp, icmp, other x
						   UNREPLIED, REPLIED,
						   ASSURED */
};
struct evbuffer;
const char	*status_mode_name(int mode);	/* "enforce", "monitor" */
/* "0", "0-3": queue q and the threads - 1 after it */
void		 status_queues(char *buf, size_t len, unsigned q,
		    unsigned threads);
int		 status_collect(struct status *st,
		    const struct daemon_info *info, struct worker **workers,
		    unsigned n);
void		 status_free(struct status *st);
/* Worker i did not answer a later question (a slice for /metrics):
   marked late (its counters stay in tot: /metrics then prints none). */
void		 status_set_late(struct status *st, unsigned i,
		    struct worker *w);
void		 status_conns_add(struct status_conns *c,
		    const struct ct_view *v);
/*
 * Why worker i is left out, or its question failed: "worker I (queue Q)
 * did not answer within 1 s (has not run for S s)", from "did" on when
 * not named (under a heading that names it).  The one wording of
 * nfqspictl's lines and errors and of the page's 503.
 */
#define STATUS_LATE_LEN	128
void		 status_late_why(char *buf, size_t len,
		    const struct daemon_info *info, unsigned i,
		    uint64_t idle_s, int named);
/* Why worker i's question failed with ESRCH: "worker I (queue Q) is not
   running", nfqspictl's error and the page's 503 alike. */
void		 status_dead_why(char *buf, size_t len,
		    const struct daemon_info *info, unsigned i);
/* nfqspictl status, nfqspictl stats (text or JSON) */
void		 status_print(struct evbuffer *b,
		    const struct daemon_info *info, const struct status *st,
		    int json);
void		 status_print_stats(struct evbuffer *b,
		    const struct daemon_info *info, const struct status *st,
		    int json);
/* the page's /api/stats; /metrics */
void		 status_api(struct evbuffer *b, const struct daemon_info *info,
		    const struct status *st);
void		 status_metrics(struct evbuffer *b,
		    const struct daemon_info *info, const struct status *st,
		    const struct status_conns *c);

/*
 * divert_run.c: [daemon] divert.  diverter_open() installs the
 * diversion (NULL and a message in err on failure), in the main thread;
 * diverter_start() starts the thread that checks it every every_ms and
 * puts it back if it is gone or changed (logged); diverter_state() is
 * the word where that thread publishes what it found last (intact) and
 * how often it put it back (divert_st(), divert.h), to be loaded whole
 * with __atomic_load_n() while d is open; diverter_ahead() the word,
 * loaded the same way, of the rules the last whole check listed ahead
 * of our jumps (iptables modes: divert_ahead(), logged when it changes);
 * diverter_bypass() asks that thread for rules of another bypass (a
 * reload's fail_open), without waiting: 1 if they differ from the
 * installed ones, to be replaced (logged), 0 if not;
 * diverter_close() stops the thread (RUN_TIMEOUT_MS at most, the command
 * in flight), applies a bypass it had no time for, and removes the
 * diversion when its rules have the bypass, and otherwise leaves it so
 * nothing passes unchecked.
 */
struct diverter;
struct diverter	*diverter_open(const struct divert_spec *spec,
		    const char *version, char *err, size_t errlen);
int		 diverter_start(struct diverter *d, unsigned every_ms);
const uint64_t	*diverter_state(const struct diverter *d);
const uint64_t	*diverter_ahead(const struct diverter *d);
int		 diverter_bypass(struct diverter *d, int bypass);
void		 diverter_close(struct diverter *d);

/* replay.c */
/* Returns the exit status: 0, 1 (capture unreadable), 2 (bad usage). */
int	 replay_run(const struct config *cfg, const char *pcap, FILE *out);

#endif /* NFQSPID_H */
