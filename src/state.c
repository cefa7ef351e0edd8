/*
 * state.c - [daemon] state_file: the connection table across a restart
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The daemon gives up root after start-up and could not create a file
 * in a root-owned directory at its stop: the file is opened (made if
 * missing, 0600) at start and its descriptor kept.  At start it is
 * read, checked whole (statefile.c) and emptied once the workers that
 * hold its connections run, so that it is never read twice and a start
 * that fails before leaves it to the next; at a clean stop the
 * tables are written through the same descriptor, then synced.  A file
 * that fails a check gives one line and an empty table.
 */
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nfqspid.h"
#include "clock.h"
#include "strl.h"
#include "statefile.h"
#include "synclink.h"

struct state_load {
	const char		*path;
	void			*map;
	size_t			 len;
	struct sync_mac		*mac;	/* checks, then reads it */
	struct state_info	 si;
	uint64_t		 elapsed_ms;
};

/*
 * Whoever can write the file, or put another in its place, picks
 * connections that the next start lets through unjudged: its MACs are
 * checksums, not a signature.  So every directory on its path must be
 * root's (or ours) and writable by no one else; one above the file's
 * own may be sticky (/tmp): others can neither rename nor remove what
 * is root's there.  0, or -1 and why in err (errno ENOENT: a directory
 * is missing).
 */
static int
state_dirs_safe(const char *path, char *err, size_t errlen)
{
	char		 d[CONFIG_PATHLEN], *s;
	struct stat	 st;
	int		 last, root;

	if (spi_strlcpy(d, path, sizeof(d)) >= sizeof(d) ||
	    strchr(d, '/') == NULL) {
		snprintf(err, errlen, "not an absolute path");
		return (-1);
	}
	for (last = 1;; last = 0) {
		s = strrchr(d, '/');
		if ((root = s == d))
			d[1] = '\0';
		else
			*s = '\0';
		if (stat(d, &st) == -1) {
			if (errno == ENOENT)
				snprintf(err, errlen, "directory %s does not "
				    "exist (nfqspid makes none)", d);
			else
				snprintf(err, errlen, "%s: %s", d,
				    strerror(errno));
			return (-1);	/* errno: stat's */
		}
		if (!S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "%s is not a directory", d);
			return (-1);
		}
		if (st.st_uid != 0 && st.st_uid != geteuid()) {
			snprintf(err, errlen, "directory %s belongs to uid %u, "
			    "not root", d, (unsigned)st.st_uid);
			return (-1);
		}
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
		    (last || (st.st_mode & S_ISVTX) == 0)) {
			snprintf(err, errlen, "directory %s is writable by "
			    "others than root", d);
			return (-1);
		}
		if (root)
			return (0);
	}
}

/* The file opened: ours, alone, and a state file or empty; fix: made
   0600 if others may read it. */
static int
state_file_safe(int fd, int fix, char *err, size_t errlen)
{
	struct stat	 st;
	uint8_t		 head[4];
	ssize_t		 n;

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		return (-1);
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "belongs to uid %u, not root",
		    (unsigned)st.st_uid);
		return (-1);
	}
	/* a hard link: ftruncate() and the stop's write would be
	   another file's */
	if (st.st_nlink != 1) {
		snprintf(err, errlen, "has %lu links, not 1",
		    (unsigned long)st.st_nlink);
		return (-1);
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(err, errlen, "writable by others than root");
		return (-1);
	}
	/* the table is nobody else's to read */
	if (fix && (st.st_mode & 077) != 0 && fchmod(fd, 0600) == -1) {
		snprintf(err, errlen, "chmod 0600: %s", strerror(errno));
		return (-1);
	}
	/* a file that is not one (state_file = a wrong path) is neither
	   emptied nor written over */
	if (st.st_size > 0 && ((n = pread(fd, head, sizeof(head), 0)) == -1 ||
	    !state_is_ours(head, (size_t)n))) {
		snprintf(err, errlen, "not a state file, left as it is");
		return (-1);
	}
	return (0);
}

/* The directories, then what is at path: nothing, or a regular file.
   Anything else is not opened: opening a device may do something
   (/dev/watchdog is armed by it), a FIFO wakes whoever waits on it. */
static int
state_path_safe(const char *path, char *err, size_t errlen)
{
	struct stat	 st;

	if (state_dirs_safe(path, err, errlen) == -1)
		return (-1);
	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return (0);
		snprintf(err, errlen, "%s", strerror(errno));
		return (-1);
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		errno = EINVAL;
		return (-1);
	}
	return (0);
}

/*
 * systemd makes a unit's StateDirectory= under /var/lib, root's and
 * 0700, before each start: the shipped unit's nfqspid
 * (etc/nfqspid.service.in), a second instance's nfqspid-b or
 * nfqspid/b.  Is path's missing directory one of those: below
 * /var/lib, with what exists of the path safe?
 */
#define STATE_UNIT_ROOT	"/var/lib"

static int
state_unit_dir(const char *path)
{
	char		 d[CONFIG_PATHLEN], err[CONFIG_PATHLEN + 128];
	size_t		 n = strlen(STATE_UNIT_ROOT);
	struct stat	 st;

	if (strncmp(path, STATE_UNIT_ROOT "/", n + 1) != 0 ||
	    strstr(path, "/../") != NULL || strstr(path, "/./") != NULL ||
	    spi_strlcpy(d, path, sizeof(d)) >= sizeof(d))
		return (0);
	/* the deepest directory there is */
	do {
		*strrchr(d, '/') = '\0';
	} while (strlen(d) > n && stat(d, &st) == -1 && errno == ENOENT);
	/* state_dirs_safe() checks the directories above a file's name */
	n = strlen(d);
	if (n + 2 >= sizeof(d))
		return (0);
	memcpy(d + n, "/-", 3);
	return (state_dirs_safe(d, err, sizeof(err)) == 0);
}

int
state_path_check(const char *path, char *err, size_t errlen)
{
	int	 fd, rc;

	errno = 0;
	if (state_path_safe(path, err, errlen) == -1) {
		/* a unit's state directory, still to be made, holds
		   nothing another could have put there; any other that
		   is missing stays so, and the start cannot use it */
		if (errno == ENOENT && state_unit_dir(path))
			return (0);
		return (-1);
	}
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK)) == -1) {
		if (errno == ENOENT)
			return (0);	/* made at start */
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return (-1);
	}
	rc = state_file_safe(fd, 0, err, errlen);
	close(fd);
	return (rc);
}

int
state_open(const char *path)
{
	char	 err[CONFIG_PATHLEN + 128];
	int	 fd;

	if (state_path_safe(path, err, sizeof(err)) == -1) {
		log_warnx("state file %s: %s; connections will not be kept "
		    "across a restart", path, err);
		return (-1);
	}
	/* O_NONBLOCK: a FIFO put there since must not hang the start */
	if ((fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK, 0600)) == -1) {
		log_warn("state file %s: cannot open; connections will not "
		    "be kept across a restart", path);
		return (-1);
	}
	if (state_file_safe(fd, 1, err, sizeof(err)) == -1) {
		log_warnx("state file %s: %s; connections will not be kept "
		    "across a restart", path, err);
		close(fd);
		return (-1);
	}
	/* held until the stop has written it: a second nfqspid on the
	   same file (another queue, no pidfile) must neither read it
	   while this one writes nor write over what this one wrote */
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			log_warnx("state file %s: in use by another nfqspid; "
			    "connections will not be kept across a restart",
			    path);
		else
			log_warn("state file %s: lock", path);
		close(fd);
		return (-1);
	}
	return (fd);
}

/* The file is used no more: emptied, so that it is never read twice. */
static void
state_empty(int fd, const char *path)
{
	if (ftruncate(fd, 0) == -1 || fsync(fd) == -1)
		log_warn("state file %s: cannot empty it", path);
}

/* The longest timeout of the configuration, in ms: no connection of
   an older file can be alive. */
static uint64_t
state_max_age_ms(const struct config *cfg)
{
	uint32_t	 max = 0;
	int		 i;

	for (i = 0; i < CT_TO_MAX; i++)
		if (cfg->ct.timeout[i] > max)
			max = cfg->ct.timeout[i];
	return ((uint64_t)max * 1000);
}

/* The file's age, or -1 after a log line. */
static int
state_age(struct state_load *sl, const struct config *cfg)
{
	uint64_t	 now, max = state_max_age_ms(cfg);

	/* the wall clock: a file outlives the monotonic clock's boot */
	now = spi_wall_us() / 1000;
	if (sl->si.written_ms > now + STATE_SKEW_MS) {
		log_warnx("state file %s: written %" PRIu64 " s in the future "
		    "(the clock went back?): not restored", sl->path,
		    (sl->si.written_ms - now) / 1000);
		return (-1);
	}
	sl->elapsed_ms = now > sl->si.written_ms ? now - sl->si.written_ms :
	    0;
	if (sl->elapsed_ms > max) {
		log_warnx("state file %s: written %" PRIu64 " s ago, more than "
		    "the longest timeout (%" PRIu64 " s): not restored",
		    sl->path, sl->elapsed_ms / 1000, max / 1000);
		return (-1);
	}
	return (0);
}

struct state_load *
state_read(int fd, const char *path, const struct config *cfg)
{
	struct state_load	*sl;
	struct stat		 st;
	char			 err[256];

	if (fstat(fd, &st) == -1) {
		log_warn("state file %s", path);
		return (NULL);
	}
	if (st.st_size == 0) {
		log_info("state file %s: empty, no connection to restore",
		    path);
		return (NULL);
	}
	if ((uint64_t)st.st_size > STATE_FILE_MAX) {
		log_warnx("state file %s: larger than %u bytes: not restored",
		    path, STATE_FILE_MAX);
		state_empty(fd, path);
		return (NULL);
	}
	if ((sl = calloc(1, sizeof(*sl))) == NULL) {
		log_warn("state file %s", path);
		return (NULL);
	}
	sl->path = path;
	sl->len = (size_t)st.st_size;
	if ((sl->map = mmap(NULL, sl->len, PROT_READ, MAP_PRIVATE, fd,
	    0)) == MAP_FAILED) {
		log_warn("state file %s: cannot map it: not restored", path);
		free(sl);
		return (NULL);
	}
	sl->mac = state_mac_new();
	if (state_check(sl->map, sl->len, sl->mac, &sl->si, err,
	    sizeof(err)) == -1) {
		log_warnx("state file %s: %s: not restored", path, err);
		goto bad;
	}
	if (state_age(sl, cfg) == -1)
		goto bad;
	return (sl);
 bad:
	sync_mac_free(sl->mac);
	munmap(sl->map, sl->len);
	free(sl);
	state_empty(fd, path);
	return (NULL);
}

/*
 * Which worker takes a connection.  The kernel sends a connection to a
 * queue by a hash seeded once a boot: with as many workers as the file
 * was written by, its packets come to the worker that held it.  With
 * [sync] and several workers it goes home, as the peer's records go,
 * and is adopted where its packets come (and the peer's bulk, if one
 * comes, finds it where it puts its own copy).
 */
static uint32_t
state_worker(const struct state_load *sl, const struct sync_rec *r,
    uint32_t was, unsigned n, int sync)
{
	if (sync && n > 1)
		return (synclink_home(&r->s.k, n));
	if (sl->si.nworkers == n)
		return (was);
	return (synclink_home(&r->s.k, n));
}

void
state_restore(struct state_load *sl, struct worker **w, unsigned n, int sync)
{
	struct state_iter	 it;
	struct sync_rec		 r;
	uint64_t		 ok = 0, gone = 0, full = 0;
	uint32_t		 was;
	char			 more[80] = "";

	if (sl == NULL)
		return;
	state_iter_init(&it, sl->map, sl->len, sl->mac);
	if (sl->si.nworkers != n && n > 1 && !sync)
		log_warnx("state file %s: written by %u workers, now %u: "
		    "a connection whose packets the kernel now sends to "
		    "another worker is not found", sl->path, sl->si.nworkers,
		    n);
	while (state_iter_next(&it, &r, &was)) {
		if (!state_rec_age(&r, sl->elapsed_ms))
			gone++;
		else if (worker_state_import(w[state_worker(sl, &r, was, n,
		    sync)], &r, sync && n > 1))
			ok++;
		else
			full++;
	}
	if (gone > 0 || full > 0)
		snprintf(more, sizeof(more), "; %" PRIu64 " timed out since, "
		    "%" PRIu64 " refused (table full)", gone, full);
	log_info("restored %" PRIu64 " of %u connections from %s (written "
	    "%" PRIu64 " s ago)%s", ok, sl->si.records, sl->path,
	    sl->elapsed_ms / 1000, more);
	/* the rules may have changed with the restart: what they no
	   longer accept must not pass on the last run's word */
	if (ok > 0)
		worker_state_judge(w, n);
	state_forget(sl);
}

void
state_used(int fd, const char *path)
{
	if (fd != -1)
		state_empty(fd, path);
}

void
state_forget(struct state_load *sl)
{
	if (sl == NULL)
		return;
	sync_mac_free(sl->mac);
	munmap(sl->map, sl->len);
	free(sl);
}

/* What state_save() writes goes through a buffer of its own. */
struct state_out {
	int		 fd;
	off_t		 off;
	size_t		 len;
	uint8_t		 buf[1 << 16];
};

static int
state_flush_out(struct state_out *o)
{
	size_t	 done = 0;
	ssize_t	 n;

	while (done < o->len) {
		n = pwrite(o->fd, o->buf + done, o->len - done,
		    o->off + (off_t)done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return (-1);
		if (n == 0) {
			errno = EIO;
			return (-1);
		}
		done += (size_t)n;
	}
	o->off += (off_t)o->len;
	o->len = 0;
	return (0);
}

static int
state_out_cb(void *arg, const void *buf, size_t len)
{
	struct state_out	*o = arg;

	if (len > sizeof(o->buf) - o->len && state_flush_out(o) == -1)
		return (-1);
	memcpy(o->buf + o->len, buf, len);
	o->len += len;
	return (0);
}

void
state_save(int fd, const char *path, struct worker **w, unsigned n)
{
	struct state_writer	*sw;
	struct state_out	*o;
	struct sync_mac		*mac = NULL;
	ssize_t			 c;
	uint64_t		 total = 0;
	unsigned		 i;

	if (fd == -1)
		return;
	sw = malloc(sizeof(*sw));
	o = malloc(sizeof(*o));
	if (sw == NULL || o == NULL) {
		log_warn("state file %s: not written", path);
		goto out;
	}
	o->fd = fd;
	o->off = 0;
	o->len = 0;
	mac = state_mac_new();
	if (ftruncate(fd, 0) == -1 ||
	    state_write_begin(sw, mac, spi_wall_us() / 1000, n, state_out_cb,
	    o) == -1)
		goto fail;
	for (i = 0; i < n && !sw->full; i++) {
		if ((c = worker_state_save(w[i], sw, i)) == -1)
			goto fail;
		total += (uint64_t)c;
	}
	if (state_write_end(sw) == -1 || state_flush_out(o) == -1 ||
	    fsync(fd) == -1)
		goto fail;
	if (sw->full)
		log_warnx("saved %" PRIu64 " connections to %s, the rest did "
		    "not fit in %u bytes", total, path, STATE_FILE_MAX);
	else
		log_info("saved %" PRIu64 " connections to %s", total, path);
	goto out;
 fail:
	log_warn("state file %s: not written", path);
	/* a torn file would be refused; an empty one says why less */
	state_empty(fd, path);
 out:
	sync_mac_free(mac);
	free(sw);
	free(o);
	close(fd);
}
