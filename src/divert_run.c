/*
 * divert_run.c - [daemon] divert: install our diversion at start, put it
 * back when someone removes it, take it away at stop
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The commands come from divert.c; here they are run with a deadline
 * each.  The child gets a fixed PATH and no descriptor of ours.  As
 * [daemon] user the commands run with the ambient CAP_NET_ADMIN and
 * CAP_NET_RAW nfqspid.c keeps for them.
 *
 * The install at start and the removal at stop run in the main thread;
 * between them the periodic check and restore run in a thread of their
 * own (diverter_start()): a slow or hung iptables or nft takes seconds
 * (RUN_TIMEOUT_MS each, and a restore is many commands), which the main
 * loop (the control socket, the status page, systemd's WATCHDOG=1)
 * must not wait for.  A thread, not children driven by the main loop:
 * a restore is a sequence of commands, each depending on the last, and
 * the same code runs synchronously at start and stop.  The thread owns
 * the diverter until diverter_close() has joined it; the main thread
 * reads only the word diverter_state() points to.  The stop wakes it, and
 * it gives up its check or restore after the command in flight.
 *
 * iptables-legacy rewrites a whole table at each command: two writers
 * at once, and one's change is lost.  The xtables lock keeps them
 * apart, but [daemon] user cannot open /run/xtables.lock (root's,
 * 0600).  So the daemon opens it while still root, and holds it itself
 * around each batch of commands, waiting LOCK_WAIT_MS at most at start
 * and stop; a periodic check only tries it, since a stop waits for the
 * check thread.  The commands then lock /dev/null (XTABLES_LOCKFILE),
 * not the lock their daemon holds.
 */
#include "autoconf.h"		/* first: _GNU_SOURCE */

#include <sys/file.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nfqspid.h"
#include "divert.h"
#include "clock.h"
#include "strl.h"
#include "thread.h"

#define RUN_TIMEOUT_MS	10000	/* one command */
#define RUN_OUTLEN	2048	/* what we keep of its output */
#define NFT_TEXTLEN	4096
#define ERRLEN_DIVERT	512
#define LOCK_WAIT_MS	5000	/* the xtables lock, as iptables -w 5 */
#define LOCK_HELD_SAY_MS	10000	/* a check skipped this long is logged */
#define LOCK_POLL_MS	50
#define LOCK_SAY_MS	1000	/* a wait this long is logged */
#define XT_LOCK_PATH	"/run/xtables.lock"	/* iptables-legacy's */

struct diverter {
	struct divert_spec	 spec;			/* as installed: its
							   bypass is the check
							   thread's */
	const char		*version;		/* for the ruleset */
	char			 nft[NFT_TEXTLEN];	/* DIVERT_NFT's ruleset */
	char			 lockpath[256];		/* the xtables lock */
	uint64_t		 restored;		/* times put back */
	int			 intact;		/* at the last check */
	uint64_t		 st;			/* the two and the
							   bypass as one word
							   (divert_st()),
							   atomic: the main
							   thread reads it */
	unsigned		 seen[2 * DIVERT_NHOOKS];	/* rules
							   ahead of our jumps,
							   in the last check's
							   listings */
	uint64_t		 ahead;			/* ... as said and
							   published
							   (divert_ahead_set()),
							   atomic */
	uint64_t		 asked;			/* a reload's
							   fail_open: (count <<
							   1) | bypass, atomic
							   (diverter_bypass()) */
	uint64_t		 applied;		/* the last asked
							   answered */
	uint64_t		 woke;			/* ... that woke the
							   thread */
	int			 cut;			/* a restore was cut
							   short by the stop */
	int			 hungsaid;		/* a check got no
							   answer: said */
	int			 lockfd;		/* -1: not ours to hold */
	uint64_t		 lockheld;		/* spi_now_ms() when a
							   check first found it
							   held; 0: free */
	int			 locksaid;		/* ... and said so */
	struct log_rl		 lockrl;		/* that line */
	/* the check thread */
	pthread_t		 thread;
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;			/* stop, under mtx */
	int			 stop;			/* atomic: div_run()
							   reads it too */
	int			 started;
	unsigned		 every_ms;		/* between checks */
};

static const char *const run_env_lock[] = {
	"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL
};
static const char *const run_env_nolock[] = {
	"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C",
	"XTABLES_LOCKFILE=/dev/null", NULL
};

/*
 * Start env(1) with argv, stdin from in (-1: /dev/null), stdout and
 * stderr to out, no other descriptor of ours, SIGPIPE back to its
 * default and blocked only what stops or reloads us: SIGTERM, SIGINT
 * and SIGHUP are for the daemon, and also reach its commands when they
 * go to the whole group (systemd's stop signals the unit's every
 * process; ^C the terminal's process group).  A command killed so left
 * half a diversion at the stop, a chain still jumped to.  RUN_TIMEOUT_MS
 * still ends one that hangs.  posix_spawn: no copy of a large table's
 * page tables, nothing run in a forked copy of a threaded process.
 * With nolock the command leaves the xtables lock alone (we hold it, or
 * cannot open it).  Returns 0, or an errno value.
 */
static int
run_spawn(char *const argv[], int in, int out, int nolock, pid_t *pid)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 attr;
	sigset_t			 ours, def;
	int				 rc;

	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		return (rc);
	if ((rc = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return (rc);
	}
	sigemptyset(&ours);
	sigaddset(&ours, SIGTERM);
	sigaddset(&ours, SIGINT);
	sigaddset(&ours, SIGHUP);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	if ((rc = in == -1 ? posix_spawn_file_actions_addopen(&fa,
	    STDIN_FILENO, "/dev/null", O_RDONLY, 0) :
	    posix_spawn_file_actions_adddup2(&fa, in, STDIN_FILENO)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, out,
	    STDOUT_FILENO)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, out,
	    STDERR_FILENO)) == 0 &&
	    (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) == 0 &&
	    (rc = posix_spawnattr_setsigmask(&attr, &ours)) == 0 &&
	    (rc = posix_spawnattr_setsigdefault(&attr, &def)) == 0 &&
	    (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF)) == 0)
		rc = posix_spawn(pid, "/usr/bin/env", &fa, &attr, argv,
		    (char *const *)(nolock ? run_env_nolock : run_env_lock));
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return (rc);
}

/*
 * Run c with input on its stdin (NULL: /dev/null), nolock as
 * run_spawn's.  Returns its exit status (0 success), or -1 if it could
 * not run or took too long (errno ETIMEDOUT: killed); what it printed
 * is in out, its lines as they came, either way, and all of it, past
 * outlen too, fed to j (NULL: none).  *cut (if not NULL) says whether
 * out lost some of it.
 */
static int
run_lines(const struct divert_cmd *c, const char *input, int nolock,
    char *out, size_t outlen, struct divert_jumps *j, int *cut)
{
	char		*argv[DIVERT_WORDS + 2];
	int		 inp[2] = { -1, -1 }, outp[2], status, i, n = 0;
	size_t		 got = 0;
	uint64_t	 deadline = spi_now_ms() + RUN_TIMEOUT_MS;
	pid_t		 pid;
	ssize_t		 r;
	int		 killed = 0;

	out[0] = '\0';
	if (cut != NULL)
		*cut = 0;
	/* env(1) finds the program in the child's PATH for us */
	argv[n++] = (char *)"env";
	for (i = 0; i < c->argc; i++)
		argv[n++] = (char *)c->argv[i];
	argv[n] = NULL;
	if (pipe2(outp, O_CLOEXEC) == -1)
		return (-1);
	if (input != NULL && pipe2(inp, O_CLOEXEC) == -1) {
		close(outp[0]);
		close(outp[1]);
		return (-1);
	}
	if ((i = run_spawn(argv, inp[0], outp[1], nolock, &pid)) != 0) {
		snprintf(out, outlen, "cannot start env: %s", strerror(i));
		close(outp[0]);
		close(outp[1]);
		if (input != NULL) {
			close(inp[0]);
			close(inp[1]);
		}
		return (-1);
	}
	close(outp[1]);
	if (input != NULL) {
		/* a ruleset is far below a pipe's buffer: no deadlock */
		close(inp[0]);
		(void)!write(inp[1], input, strlen(input));
		close(inp[1]);
	}
	for (;;) {
		struct pollfd	 pfd = { outp[0], POLLIN, 0 };
		uint64_t	 now = spi_now_ms();
		char		 buf[256];
		int		 pr = 0;

		if (now < deadline)
			pr = poll(&pfd, 1, (int)(deadline - now));
		if (pr == -1 && errno == EINTR)
			continue;
		if (pr <= 0) {
			kill(pid, SIGKILL);
			snprintf(out, outlen, "no answer in %d s",
			    RUN_TIMEOUT_MS / 1000);
			killed = 1;
			break;
		}
		if ((r = read(outp[0], buf, sizeof(buf))) == -1 &&
		    errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (j != NULL)
			divert_jumps_feed(j, buf, (size_t)r);
		if (got + 1 < outlen) {
			size_t k = (size_t)r < outlen - 1 - got ?
			    (size_t)r : outlen - 1 - got;

			memcpy(out + got, buf, k);
			got += k;
			out[got] = '\0';
			if (k < (size_t)r && cut != NULL)
				*cut = 1;
		} else if (cut != NULL)
			*cut = 1;
	}
	close(outp[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return (-1);
	if (killed) {
		errno = ETIMEDOUT;
		return (-1);
	}
	if (!WIFEXITED(status))
		return (-1);
	return (WEXITSTATUS(status));
}

/* out as one line for the log, trimmed */
static void
out_oneline(char *out)
{
	size_t	 i;

	for (i = 0; out[i] != '\0'; i++)
		if (out[i] == '\n' || out[i] == '\t')
			out[i] = ' ';
	while (i > 0 && out[i - 1] == ' ')
		out[--i] = '\0';
}

/* run_lines(), out as one line: for the log */
static int
run_cmd(const struct divert_cmd *c, const char *input, int nolock,
    char *out, size_t outlen)
{
	int	 rc = run_lines(c, input, nolock, out, outlen, NULL, NULL);

	out_oneline(out);
	return (rc);
}

/* "iptables-legacy -w 5 -t filter -A ..." for the log */
static void
cmd_line(const struct divert_cmd *c, char *buf, size_t len)
{
	size_t	 off = 0;
	int	 i, n;

	buf[0] = '\0';
	for (i = 0; i < c->argc && off < len; i++) {
		n = snprintf(buf + off, len - off, "%s%s", i ? " " : "",
		    c->argv[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

/* The commands of op, IPv4's then IPv6's (iptables modes) or nft's. */
static int
div_cmds(const struct diverter *d, int op, struct divert_cmd *c,
    size_t max)
{
	int	 n4, n6;

	if (d->spec.mode == DIVERT_NFT)
		return (divert_nft_cmds(op, c, max));
	if ((n4 = divert_iptables_cmds(&d->spec, op, 4, c, max)) == -1 ||
	    (n6 = divert_iptables_cmds(&d->spec, op, 6, c + n4,
	    max - (size_t)n4)) == -1)
		return (-1);
	return (n4 + n6);
}

/*
 * A removal's words when what it takes away is not there (iptables
 * 1.8.9, legacy and nft, and nft, under LC_ALL=C): the rule, the chain
 * it jumps to, the chain or the table gone already.  Taken for done: a
 * stop after a restore it cut short, or after someone took the
 * diversion away by hand, has nothing to warn about.
 */
static int
div_gone(const char *out)
{
	static const char *const gone[] = {
		"Bad rule (does a matching rule exist",
		"No chain/target/match by that name",
		"Couldn't load target `nfqspid-",
		"Chain 'nfqspid-",
		"Could not process rule: No such file or directory",
	};
	size_t	 i;

	for (i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		if (strstr(out, gone[i]) != NULL)
			return (1);
	return (0);
}

/*
 * An install's -N whose chain is there already (iptables 1.8.9, legacy
 * and nft, under LC_ALL=C): one that the removal before it
 * (div_install()) flushed but could not delete, since a rule not ours
 * still jumps to it (div_refs()).  Empty, it is ours to fill again.
 */
static int
div_kept(const struct divert_cmd *c, const char *out)
{
	return (c->argc >= 2 && strcmp(c->argv[c->argc - 2], "-N") == 0 &&
	    strstr(out, "Chain already exists") != NULL);
}

/* The commands leave the xtables lock alone: ours is held (div_lock()),
   or there is none to be had. */
static int
div_nolock(const struct diverter *d)
{
	return (d->lockfd != -1 || geteuid() != 0);
}

/*
 * A removal's -X (x) failed: why, where a rule not ours still jumps to
 * its chain (an operator's "-A FORWARD -i eth0 -j nfqspid-forward",
 * which the removal leaves), from a listing of the whole table: in buf,
 * "; CHAIN is still referenced by \"LINE\"" (the first such line, and
 * " and more" after it if there are others); else "".
 */
static void
div_refs(struct diverter *d, const struct divert_cmd *x, char *buf,
    size_t len)
{
	struct divert_cmd	 c;
	struct divert_jumps	 j;
	char			 out[RUN_OUTLEN], why[128];

	buf[0] = '\0';
	if (divert_iptables_refs(x, &c) == -1)
		return;
	memset(&j, 0, sizeof(j));
	j.jump = c.expect;
	if (run_lines(&c, NULL, div_nolock(d), out, sizeof(out), &j,
	    NULL) != 0)
		return;
	(void)divert_jumps_end(&j, why, sizeof(why));
	if (j.refs == 0)
		return;
	snprintf(buf, len, "; %s is still referenced by \"%.200s\"%s",
	    x->argv[x->argc - 1], j.ref, j.refs > 1 ? " and more" : "");
}

/*
 * Every command of op; stop at the first that fails unless all is set;
 * one with times again while it succeeds (the jumps' every copy).
 * all or not, stop after one that got no answer (the next would wait
 * as long: a hung iptables or nft), and, in the check thread, once the
 * daemon stops.  Returns 0, or -1 with the failed command and its words
 * in err.
 */
static int
div_run(struct diverter *d, int op, int all, char *err, size_t errlen)
{
	struct divert_cmd	 c[2 * DIVERT_MAXCMDS];
	struct divert_jumps	 j;
	char			 out[RUN_OUTLEN], line[256], why[256];
	char			 refs[300];
	int			 n, i, rc, failed = 0, hung = 0, runs = 0;
	int			 cut;

	if ((n = div_cmds(d, op, c, sizeof(c) / sizeof(c[0]))) == -1) {
		snprintf(err, errlen, "divert: no commands for %s",
		    divert_mode_name(d->spec.mode));
		return (-1);
	}
	for (i = 0; i < n; i++) {
		if (__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE)) {
			if (!failed)
				snprintf(err, errlen, "cut short by the stop");
			return (-1);
		}
		memset(&j, 0, sizeof(j));
		j.jump = c[i].expect;
		errno = 0;
		rc = run_lines(&c[i], op == DIVERT_OP_INSTALL &&
		    d->spec.mode == DIVERT_NFT ? d->nft : NULL, div_nolock(d),
		    out, sizeof(out), c[i].slot != 0 ? &j : NULL, &cut);
		if (rc == 0 && c[i].expect[0] != '\0' && (c[i].slot != 0 ?
		    divert_jumps_end(&j, why, sizeof(why)) :
		    divert_listing(out, c[i].expect, cut, why,
		    sizeof(why))) == -1) {
			cmd_line(&c[i], line, sizeof(line));
			snprintf(err, errlen, "%s: %.250s", line, why);
			errno = 0;
			return (-1);
		}
		if (rc == 0 && c[i].slot != 0)
			d->seen[c[i].slot - 1] = j.ahead;
		out_oneline(out);
		/* every copy of a jump: the same again while it succeeds */
		if (rc == 0 && ++runs < c[i].times) {
			i--;
			continue;
		}
		runs = 0;
		if (rc == 0 || (rc > 0 && op == DIVERT_OP_REMOVE &&
		    div_gone(out)) || (rc > 0 && op == DIVERT_OP_INSTALL &&
		    div_kept(&c[i], out)))
			continue;
		if (rc == -1 && errno == ETIMEDOUT) {
			hung = 1;
			all = 0;
		}
		if (!failed) {
			cmd_line(&c[i], line, sizeof(line));
			refs[0] = '\0';
			if (rc > 0 && op == DIVERT_OP_REMOVE)
				div_refs(d, &c[i], refs, sizeof(refs));
			/* the start of its message is what says why; the
			   refs' " and more" survives it */
			divert_failed(err, errlen, line, rc == -1 ?
			    "did not run" : "failed", out, refs);
		}
		failed = 1;
		if (!all)
			break;
	}
	if (hung)
		errno = ETIMEDOUT;
	return (failed ? -1 : 0);
}

/*
 * divert = iptables: open the lock iptables-legacy takes
 * ($XTABLES_LOCKFILE, or /run/xtables.lock) while we are root.  Not
 * fatal: the commands then take it themselves while we are root, and go
 * without it after.
 */
static void
div_lock_open(struct diverter *d)
{
	const char	*p = getenv("XTABLES_LOCKFILE");

	d->lockfd = -1;
	if (d->spec.mode != DIVERT_IPTABLES)
		return;
	spi_strlcpy(d->lockpath, p != NULL && p[0] != '\0' ? p :
	    XT_LOCK_PATH, sizeof(d->lockpath));
	if ((d->lockfd = open(d->lockpath, O_RDONLY | O_CREAT | O_CLOEXEC,
	    0600)) == -1)
		log_warn("divert: the xtables lock %s: iptables-legacy runs "
		    "without it when nfqspid is not root", d->lockpath);
}

/*
 * Hold the xtables lock for a batch of our commands, so that no other
 * iptables-legacy writes between or over them; wait wait_ms at most
 * (the main loop waits too; 0: only try).  0: held, or none to take;
 * -1: why is in err, errno EWOULDBLOCK where another holds it.
 */
static int
div_lock(struct diverter *d, unsigned wait_ms, char *err, size_t errlen)
{
	const struct timespec	 ts = { 0, LOCK_POLL_MS * 1000000L };
	uint64_t		 start, waited;

	if (d->lockfd == -1)
		return (0);
	start = spi_now_ms();
	while (flock(d->lockfd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			snprintf(err, errlen, "the xtables lock %s: %s",
			    d->lockpath, strerror(errno));
			return (-1);
		}
		if (spi_now_ms() - start >= wait_ms) {
			snprintf(err, errlen, "another program holds the "
			    "xtables lock (%s): gave up after %u s",
			    d->lockpath, wait_ms / 1000);
			errno = EWOULDBLOCK;
			return (-1);
		}
		(void)nanosleep(&ts, NULL);
	}
	if ((waited = spi_now_ms() - start) >= LOCK_SAY_MS)
		log_info("divert: waited %" PRIu64 ".%" PRIu64 " s for the "
		    "xtables lock (%s)", waited / 1000, waited % 1000 / 100,
		    d->lockpath);
	return (0);
}

static void
div_unlock(struct diverter *d)
{
	if (d->lockfd != -1)
		(void)flock(d->lockfd, LOCK_UN);
}

static void
div_free(struct diverter *d)
{
	if (d->lockfd != -1)
		close(d->lockfd);
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->mtx);
	free(d);
}

/* Ours only: what a flush left, or an earlier run (fail-closed). */
static void
div_remove_quiet(struct diverter *d)
{
	char	 err[ERRLEN_DIVERT];

	(void)div_run(d, DIVERT_OP_REMOVE, 1, err, sizeof(err));
}

static int
div_install(struct diverter *d, char *err, size_t errlen)
{
	div_remove_quiet(d);
	if (div_run(d, DIVERT_OP_INSTALL, 0, err, errlen) == 0)
		return (0);
	div_remove_quiet(d);
	return (-1);
}

/*
 * intact and restored are the check thread's (the main thread's before
 * it starts and after it ends); the main thread reads this copy of the
 * two, stored whole.
 */
static void
div_publish(struct diverter *d)
{
	__atomic_store_n(&d->st, divert_st(d->intact, d->spec.bypass,
	    d->restored), __ATOMIC_RELEASE);
}

/* Run c with input: 0, or -1 and err as div_run()'s, what after the
   command's line. */
static int
div_run_one(struct diverter *d, const struct divert_cmd *c,
    const char *input, const char *what, char *err, size_t errlen)
{
	char	 out[RUN_OUTLEN], line[256];
	int	 rc, saved;

	errno = 0;
	if ((rc = run_cmd(c, input, div_nolock(d), out, sizeof(out))) == 0)
		return (0);
	saved = rc == -1 ? errno : 0;
	cmd_line(c, line, sizeof(line));
	snprintf(err, errlen, "%s%s: %s%s%.200s", line, what,
	    rc == -1 ? "did not run" : "failed", out[0] ? ": " : "", out);
	/* ETIMEDOUT: it got no answer */
	errno = saved;
	return (-1);
}

/*
 * Our rules as they are but for their bypass (a reload's fail_open),
 * with no moment in which packets are not diverted.  nft: the ruleset
 * replaces our table in one transaction, as at start.  iptables: for
 * each family one iptables-restore --noflush, whose one transaction puts
 * each chain's new queue rule in front of the old and deletes the old
 * (divert_iptables_replace()).  Not -I and -D as commands of their own:
 * twelve of them, of which any may fail and leave some chains of one
 * bypass and some of the other; a transaction fails whole, so only the
 * IPv6 one failing after IPv4's needs an undo, and an undo that fails
 * too leaves IPv4's old rules gone, which the next check finds and puts
 * back as a whole.  Not a removal and an install: that is a moment
 * without the diversion.  0 and d->spec has bypass, or -1 with why in
 * err and the rules as they were.
 */
static int
div_replace(struct diverter *d, int bypass, char *err, size_t errlen)
{
	struct divert_spec	 to = d->spec;
	struct divert_cmd	 c;
	char			 text[NFT_TEXTLEN], e[ERRLEN_DIVERT];
	size_t			 off;
	int			 hung;

	to.bypass = (uint8_t)(bypass != 0);
	if (d->spec.mode == DIVERT_NFT) {
		if (divert_nft_text(&to, d->version, text, sizeof(text)) ==
		    -1 || divert_nft_cmds(DIVERT_OP_INSTALL, &c, 1) != 1) {
			snprintf(err, errlen, "the nft ruleset is too long");
			return (-1);
		}
		if (div_run_one(d, &c, text, "", err, errlen) == -1)
			return (-1);
		memcpy(d->nft, text, sizeof(d->nft));
		d->spec = to;
		return (0);
	}
	if (divert_iptables_replace(&d->spec, &to, 4, &c, text,
	    sizeof(text)) == -1) {
		snprintf(err, errlen, "no commands for %s",
		    divert_mode_name(d->spec.mode));
		return (-1);
	}
	if (div_run_one(d, &c, text, " (IPv4)", err, errlen) == -1)
		return (-1);
	/* IPv6's as IPv4's: the same words */
	(void)divert_iptables_replace(&d->spec, &to, 6, &c, text,
	    sizeof(text));
	if (div_run_one(d, &c, text, " (IPv6)", err, errlen) == 0) {
		d->spec = to;
		return (0);
	}
	/* IPv4's back as they were; not after a hang: the undo would wait
	   as long (the check restores them) */
	hung = errno == ETIMEDOUT;
	off = strlen(err);
	if (hung || divert_iptables_replace(&to, &d->spec, 4, &c, text,
	    sizeof(text)) == -1 || div_run_one(d, &c, text, " (IPv4 undo)",
	    e, sizeof(e)) == -1) {
		if (off < errlen)
			snprintf(err + off, errlen - off, "; the IPv4 rules "
			    "were replaced and %s: the next check puts them "
			    "back", hung ? "are left so" : "cannot be undone");
		d->intact = 0;
	}
	return (-1);
}

/*
 * A reload's fail_open for our rules (div_tick(), lock held, or the
 * stop): replaced, or said why not.  Either way the rules, what status
 * shows of them and what the stop does with them agree.  Once per
 * reload that asks.
 */
static void
div_bypass_apply(struct diverter *d)
{
	uint64_t	 asked = __atomic_load_n(&d->asked, __ATOMIC_ACQUIRE);
	int		 bypass = (int)(asked & 1);
	char		 e[ERRLEN_DIVERT];

	if (asked == d->applied)
		return;
	d->applied = asked;
	if (bypass == (d->spec.bypass != 0))
		return;
	if (div_replace(d, bypass, e, sizeof(e)) == 0)
		log_info("divert: fail_open = %s: the %s diversion's rules "
		    "are now %s", bypass ? "yes" : "no",
		    divert_mode_name(d->spec.mode),
		    divert_bypass_words(d->spec.mode, d->spec.bypass));
	else
		log_warnx("divert: cannot apply fail_open = %s to the %s "
		    "diversion: %s; its rules stay %s", bypass ? "yes" : "no",
		    divert_mode_name(d->spec.mode), e,
		    divert_bypass_words(d->spec.mode, d->spec.bypass));
	div_publish(d);
}

struct diverter *
diverter_open(const struct divert_spec *spec, const char *version,
    char *err, size_t errlen)
{
	struct diverter		*d;
	pthread_condattr_t	 ca;
	char			 e[ERRLEN_DIVERT];
	int			 rc;

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		snprintf(err, errlen, "divert: %s", strerror(errno));
		return (NULL);
	}
	d->spec = *spec;
	d->version = version;
	d->asked = d->applied = d->woke = spec->bypass != 0;
	d->lockfd = -1;
	pthread_mutex_init(&d->mtx, NULL);
	/* the checks' sleeps: a clock no one sets */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (spec->mode == DIVERT_NFT &&
	    divert_nft_text(spec, version, d->nft, sizeof(d->nft)) == -1) {
		snprintf(err, errlen, "divert: the nft ruleset is too long");
		div_free(d);
		return (NULL);
	}
	div_lock_open(d);
	if ((rc = div_lock(d, LOCK_WAIT_MS, e, sizeof(e))) == 0) {
		rc = div_install(d, e, sizeof(e));
		div_unlock(d);
	}
	if (rc == -1) {
		if (spec->mode == DIVERT_NFT)
			snprintf(err, errlen, "divert = nft: cannot load the "
			    "ruleset (%s); a kernel without the nftables "
			    "queue expression (nft_queue) cannot queue from "
			    "nft: use divert = iptables-nft", e);
		else
			snprintf(err, errlen, "divert = %s: %s",
			    divert_mode_name(spec->mode), e);
		div_free(d);
		return (NULL);
	}
	d->intact = 1;
	div_publish(d);
	log_info("divert: %s diversion to queue %u%s installed%s",
	    divert_mode_name(spec->mode), spec->queue,
	    spec->threads > 1 ? " and up" : "",
	    spec->bypass ? " (bypass while nfqspid is not running)" : "");
	return (d);
}

/* nft: our table is listed with our chains and rules alone. */
static int
div_check_nft(const struct diverter *d, char *err, size_t errlen)
{
	struct divert_cmd	 c[1];
	char			 out[RUN_OUTLEN];
	int			 cut;

	if (divert_nft_cmds(DIVERT_OP_CHECK, c, 1) != 1)
		return (-1);
	/* its lines as they came: counted, or judged in their order where
	   the listing was cut short */
	if (run_lines(c, NULL, geteuid() != 0, out, sizeof(out), NULL,
	    &cut) != 0) {
		out_oneline(out);
		if (errno == ETIMEDOUT)
			snprintf(err, errlen, "nft list table inet %s: %.200s",
			    DIVERT_NFT_TABLE, out);
		else
			snprintf(err, errlen, "table inet %s is gone",
			    DIVERT_NFT_TABLE);
		return (-1);
	}
	return (divert_nft_listing(&d->spec, out, cut, err, errlen));
}

/*
 * A check that got no answer tells nothing: not taken for a removal (a
 * restore would take the diversion away and then hang too), said once
 * while it lasts, and the last answer stands.
 */
static int
div_check_hung(struct diverter *d, const char *e)
{
	if (!d->hungsaid)
		log_warnx("divert: cannot check the %s diversion: %s; "
		    "trying again at each check",
		    divert_mode_name(d->spec.mode), e);
	d->hungsaid = 1;
	return (d->intact ? 0 : -1);
}

/*
 * The rules ahead of our jumps, as the check that found the diversion
 * whole listed them: published for status, and logged when a count
 * changes, not at each check.  Left where they are: no damage, no
 * restore (divert.h).
 */
static void
div_ahead(struct diverter *d)
{
	uint64_t	 was = __atomic_load_n(&d->ahead, __ATOMIC_RELAXED), w;
	unsigned	 slot, n;
	int		 hook, family;

	w = was;
	for (slot = 1; slot <= 2 * DIVERT_NHOOKS; slot++) {
		w = divert_ahead_set(w, slot, d->seen[slot - 1]);
		if ((n = divert_ahead(w, slot)) == divert_ahead(was, slot))
			continue;
		hook = (int)((slot - 1) % DIVERT_NHOOKS);
		family = slot > DIVERT_NHOOKS ? 6 : 4;
		if (n == 0)
			log_info("divert: %s (IPv%d): no rule ahead of our "
			    "jump any more", divert_builtin(hook), family);
		else
			log_warnx("divert: %s (IPv%d): %u%s rule%s ahead of "
			    "our jump: what %s decide%s skips nfqspid; left "
			    "so", divert_builtin(hook), family, n,
			    n == DIVERT_AHEAD_MAX ? " or more" : "",
			    n == 1 ? "" : "s", n == 1 ? "it" : "they",
			    n == 1 ? "s" : "");
	}
	__atomic_store_n(&d->ahead, w, __ATOMIC_RELEASE);
}

/* div_tick() with the lock held */
static int
div_check(struct diverter *d)
{
	char		 e[ERRLEN_DIVERT], e2[ERRLEN_DIVERT];
	int		 rc, intact = d->intact;

	errno = 0;
	if (d->spec.mode == DIVERT_NFT)
		rc = div_check_nft(d, e, sizeof(e));
	else
		rc = div_run(d, DIVERT_OP_CHECK, 0, e, sizeof(e));
	if (rc == -1 && __atomic_load_n(&d->stop, __ATOMIC_ACQUIRE))
		return (intact ? 0 : -1);
	if (rc == -1 && errno == ETIMEDOUT)
		return (div_check_hung(d, e));
	if (d->hungsaid)
		log_info("divert: the %s diversion can be checked again",
		    divert_mode_name(d->spec.mode));
	d->hungsaid = 0;
	if (rc == 0) {
		d->intact = 1;
		div_publish(d);
		if (d->spec.mode != DIVERT_NFT)
			div_ahead(d);
		return (0);
	}
	/* said once while it stays broken; tried at every check */
	if (intact)
		log_warnx("divert: the %s diversion was removed or changed "
		    "(%s): restoring it", divert_mode_name(d->spec.mode), e);
	if (div_install(d, e2, sizeof(e2)) == -1) {
		/* the stop's: diverter_close() sees to it */
		if (__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE))
			d->cut = 1;
		else if (intact)
			log_warnx("divert: cannot restore it: %s", e2);
		d->intact = 0;
		div_publish(d);
		return (-1);
	}
	d->restored++;
	d->intact = 1;
	div_publish(d);
	log_info("divert: restored (%" PRIu64 " time%s)", d->restored,
	    d->restored == 1 ? "" : "s");
	return (1);
}

/*
 * A check could not take the xtables lock: skipped, not waited for (a
 * stop would wait with it).  Held by another (busy): said once it has
 * been LOCK_HELD_SAY_MS; another failure: said at once.  At most one
 * line per LOG_RL_SECS however often it comes back.
 */
static void
div_lock_failed(struct diverter *d, int busy, const char *e)
{
	char		 more[LOG_RL_MORELEN];
	uint64_t	 now = spi_now_ms(), held;

	if (d->lockheld == 0)
		d->lockheld = now > 0 ? now : 1;
	if (d->locksaid || (busy && now - d->lockheld < LOCK_HELD_SAY_MS) ||
	    !log_rl(&d->lockrl, &held))
		return;
	if (busy)
		log_warnx("divert: another program has held the xtables lock "
		    "(%s) for at least %" PRIu64 " s: the %s diversion goes "
		    "unchecked until it is free%s", d->lockpath,
		    (now - d->lockheld) / 1000,
		    divert_mode_name(d->spec.mode),
		    log_rl_more(held, more, sizeof(more)));
	else
		log_warnx("divert: cannot check the %s diversion: %s; "
		    "trying again at each check%s",
		    divert_mode_name(d->spec.mode), e,
		    log_rl_more(held, more, sizeof(more)));
	d->locksaid = 1;
}

/* One periodic check, in the check thread: 0 intact, 1 restored, -1 not
   whole (logged). */
static int
div_tick(struct diverter *d)
{
	char	 e[ERRLEN_DIVERT];
	int	 rc;

	/* not checked this time: the last answer stands */
	if (div_lock(d, 0, e, sizeof(e)) == -1) {
		div_lock_failed(d, errno == EWOULDBLOCK, e);
		return (d->intact ? 0 : -1);
	}
	if (d->locksaid)
		log_info("divert: the xtables lock is free again after "
		    "at least %" PRIu64 " s: checking the %s diversion again",
		    (spi_now_ms() - d->lockheld) / 1000,
		    divert_mode_name(d->spec.mode));
	d->lockheld = 0;
	d->locksaid = 0;
	/* a reload's fail_open on rules the check found whole or put back;
	   one the stop comes before is the stop's (diverter_close()) */
	if ((rc = div_check(d)) != -1 &&
	    !__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE))
		div_bypass_apply(d);
	div_unlock(d);
	return (rc);
}

/* A reload asked for a bypass the thread has not tried yet. */
static int
div_asked(struct diverter *d)
{
	uint64_t	 asked = __atomic_load_n(&d->asked, __ATOMIC_ACQUIRE);

	return (asked != d->applied && asked != d->woke);
}

/*
 * The check thread: a check every every_ms until the stop wakes it, and
 * one at once when a reload asks for another bypass (once per reload: a
 * lock held by another keeps it for the next check).
 */
static void *
div_main(void *arg)
{
	struct diverter	*d = arg;
	struct timespec	 until;
	int		 rc;

	pthread_mutex_lock(&d->mtx);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		spi_ts_add_ms(&until, d->every_ms);
		rc = 0;
		while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE) &&
		    rc != ETIMEDOUT && !div_asked(d))
			rc = pthread_cond_timedwait(&d->cond, &d->mtx, &until);
		if (__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE))
			break;
		d->woke = __atomic_load_n(&d->asked, __ATOMIC_ACQUIRE);
		pthread_mutex_unlock(&d->mtx);
		(void)div_tick(d);
		pthread_mutex_lock(&d->mtx);
	}
	pthread_mutex_unlock(&d->mtx);
	return (NULL);
}

int
diverter_start(struct diverter *d, unsigned every_ms)
{
	d->every_ms = every_ms;
	if (spi_thread_start(&d->thread, div_main, d) == -1)
		return (-1);
	d->started = 1;
	return (0);
}

const uint64_t *
diverter_state(const struct diverter *d)
{
	return (&d->st);
}

const uint64_t *
diverter_ahead(const struct diverter *d)
{
	return (&d->ahead);
}

int
diverter_bypass(struct diverter *d, int bypass)
{
	/* the main thread alone writes asked */
	uint64_t	 asked = __atomic_load_n(&d->asked, __ATOMIC_RELAXED);
	int		 now = divert_st_bypass(__atomic_load_n(&d->st,
			    __ATOMIC_ACQUIRE));

	bypass = bypass != 0;
	if (bypass == now && (uint64_t)bypass == (asked & 1))
		return (0);
	pthread_mutex_lock(&d->mtx);
	__atomic_store_n(&d->asked, (((asked >> 1) + 1) << 1) |
	    (uint64_t)bypass, __ATOMIC_RELEASE);
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->mtx);
	return (bypass != now);
}

/*
 * A reload's fail_open the check thread had no time for (or no thread
 * to do it): applied now, so that the stop does what it says.
 */
static void
div_bypass_at_stop(struct diverter *d)
{
	char		 e[ERRLEN_DIVERT];
	uint64_t	 asked = __atomic_load_n(&d->asked, __ATOMIC_ACQUIRE);

	if (asked == d->applied || (int)(asked & 1) == (d->spec.bypass != 0))
		return;
	if (div_lock(d, LOCK_WAIT_MS, e, sizeof(e)) == -1) {
		d->applied = asked;
		log_warnx("divert: cannot apply fail_open = %s to the %s "
		    "diversion: %s; its rules stay %s", asked & 1 ? "yes" :
		    "no", divert_mode_name(d->spec.mode), e,
		    divert_bypass_words(d->spec.mode, d->spec.bypass));
		return;
	}
	div_bypass_apply(d);
	div_unlock(d);
}

/*
 * Wake the check thread and wait for it: it ends after the command in
 * flight, RUN_TIMEOUT_MS at most.
 */
static void
div_stop_thread(struct diverter *d)
{
	if (!d->started)
		return;
	pthread_mutex_lock(&d->mtx);
	__atomic_store_n(&d->stop, 1, __ATOMIC_RELEASE);
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->mtx);
	pthread_join(d->thread, NULL);
	d->started = 0;
	/* ours again: the main thread's commands run to their end */
	__atomic_store_n(&d->stop, 0, __ATOMIC_RELEASE);
}

void
diverter_close(struct diverter *d)
{
	char	 e[ERRLEN_DIVERT];
	int	 rc = 0;

	if (d == NULL)
		return;
	div_stop_thread(d);
	div_bypass_at_stop(d);
	if (!d->spec.bypass) {
		/* fail-closed: a restore the stop cut short is finished */
		if (d->cut && (rc = div_lock(d, LOCK_WAIT_MS, e,
		    sizeof(e))) == 0) {
			rc = div_install(d, e, sizeof(e));
			div_unlock(d);
		}
		if (d->cut && rc == -1)
			log_warnx("divert: cannot restore the %s diversion "
			    "at the stop: %s", divert_mode_name(d->spec.mode),
			    e);
		/* fail-closed: nothing passes unchecked while we are gone */
		log_info("divert: the %s diversion stays (fail_open = no): "
		    "packets are dropped until nfqspid runs again",
		    divert_mode_name(d->spec.mode));
		div_free(d);
		return;
	}
	if ((rc = div_lock(d, LOCK_WAIT_MS, e, sizeof(e))) == 0) {
		rc = div_run(d, DIVERT_OP_REMOVE, 1, e, sizeof(e));
		div_unlock(d);
	}
	if (rc == -1)
		log_warnx("divert: removing the %s diversion: %s",
		    divert_mode_name(d->spec.mode), e);
	else
		log_info("divert: the %s diversion is removed",
		    divert_mode_name(d->spec.mode));
	div_free(d);
}
