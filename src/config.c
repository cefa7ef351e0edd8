/*
 * config.c - read, validate and freeze /etc/nfqspi.ini
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The file is read once, line by line, into sections and keys: each
 * section header and each key is hashed as it is read, so that a section
 * or key given twice is an error and loading stays linear in the size of
 * the file (a policy may hold tens of thousands of rules).  Values follow
 * the INI rules of iniparser, which earlier versions used (a value runs to
 * a ';' or '#', or is quoted), but strictly: a section is never merged, a
 * key never repeated, nothing may follow a closing quote, and every error
 * names the file, the section, the key and the line.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* open_memstream, reallocarray */
#endif

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "namehash.h"
#include "strl.h"
#include "services.h"

#define CONFIG_MAXSIZE	(32 * 1024 * 1024)	/* 131,071 rules fit */
#define CONFIG_MAXLINE	1000
#define CONFIG_MAXRULES	131071	/* rule index is 17 bits (ct_int.h); the
					   next value says [policy] */
#define SECLEN		128
#define KEYLEN		64

/* Names and values point into the file's buffer, cut in place. */
struct scan_key {
	const char	*name;		/* lowercased */
	const char	*val;
	int		 line;
};

struct scan_sec {
	const char	*orig;		/* as written, blanks stripped */
	int		 line;
	int		 is_rule;
	const struct scan_key *keys;	/* set once the file is read */
	size_t		 key0, nkeys;	/* in cfgctx.keys */
};

/*
 * Every section and key read so far, hashed: open addressing with linear
 * probing over a power-of-two table at most half full.  A slot names a
 * section (key == SEEN_SEC) or one key of one section by their indices,
 * which stay valid while the arrays holding them grow.
 */
#define SEEN_SEC	UINT32_MAX

struct seen_slot {
	uint32_t	 hash;
	uint32_t	 sec;		/* index + 1; 0: empty */
	uint32_t	 key;		/* index in cfgctx.keys, or SEEN_SEC */
};

struct cfgctx {
	const char	*path;
	char		*err;
	size_t		 errlen;
	int		 line;		/* of the key being read: errors end
					   with it */
	struct scan_sec	*secs;
	size_t		 nsecs, cap;
	struct scan_key	*keys;		/* of every section, in file order */
	size_t		 nkeys, keycap;
	struct seen_slot *seen;
	size_t		 nseen, seencap;
	struct services	*svc;		/* read at the first port name */
	int		 reload;	/* config_reload(): what a reload
					   applies only */
	struct config	*c;		/* being built: its warnings */
	const struct scan_sec **rsec;	/* each rule's section */
	uint8_t		*never;		/* each rule: warned, matches none */
	int		 held_line;	/* of frag_max_held, queue_maxlen: */
	int		 maxlen_line;	/* where a warning of both points */
};

static void	 cfg_err(struct cfgctx *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 cfg_warn(struct cfgctx *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* "path: what (line N)": what ends in "..." when it is cut, so that
   nothing is cut unseen, and the line is kept */
static void
cfg_vfmt(const struct cfgctx *x, char *buf, size_t len, const char *fmt,
    va_list ap)
{
	char		 line[32] = "";
	size_t		 tail = 0, room;
	int		 n, m;

	n = snprintf(buf, len, "%s: ", x->path);
	if (n < 0 || (size_t)n >= len)
		return;
	if (x->line > 0)
		tail = (size_t)snprintf(line, sizeof(line), " (line %d)",
		    x->line);
	room = len - (size_t)n;
	if (room > tail + 4)
		room -= tail;	/* else the line goes, not what */
	m = vsnprintf(buf + n, room, fmt, ap);
	if (m >= 0 && (size_t)m >= room && room > 3)
		memcpy(buf + n + room - 4, "...", 4);
	n = (int)strlen(buf);
	if (tail > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, "%s", line);
}

static void
cfg_err(struct cfgctx *x, const char *fmt, ...)
{
	va_list		 ap;

	if (x->err == NULL || x->errlen == 0)
		return;
	va_start(ap, fmt);
	cfg_vfmt(x, x->err, x->errlen, fmt, ap);
	va_end(ap);
}

/* Kept in the config for its loader to show; past CONFIG_MAXWARN only
   counted. */
static void
cfg_warn(struct cfgctx *x, const char *fmt, ...)
{
	struct config	*c = x->c;
	va_list		 ap;

	if (c->nwarn == CONFIG_MAXWARN) {
		c->warn_more++;
		return;
	}
	va_start(ap, fmt);
	cfg_vfmt(x, c->warn[c->nwarn++], CONFIG_WARNLEN, fmt, ap);
	va_end(ap);
}

/* ---- the line scanner -------------------------------------------------- */

static char *
trim(char *s)
{
	char		*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return (s);
}

static int
valid_rule_name(const char *s)
{
	size_t		 len = strlen(s);

	if (len == 0 || len >= RULE_NAMELEN)
		return (0);
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
		    *s != '.')
			return (0);
	return (1);
}

/*
 * The NAME of a "rule NAME" section header, past every blank trim() and
 * valid_rule_name() skipped: \r, \v and \f too, or a name checked for
 * length would not be the one copied.
 */
static const char *
rule_name_of(const char *sec)
{
	sec += 4;
	while (isspace((unsigned char)*sec))
		sec++;
	return (sec);
}

/* What a section is known by: a rule by its name, any other by its own. */
static const char *
sec_ident(const struct scan_sec *s)
{
	return (s->is_rule ? rule_name_of(s->orig) : s->orig);
}

static int
seen_same(const struct cfgctx *x, const struct seen_slot *sl, uint32_t h,
    const struct scan_sec *s, uint32_t key, const char *name)
{
	const struct scan_sec *o = &x->secs[sl->sec - 1];

	if (sl->hash != h || (sl->key == SEEN_SEC) != (key == SEEN_SEC))
		return (0);
	if (key == SEEN_SEC)
		return (o->is_rule == s->is_rule &&
		    strcasecmp(sec_ident(o), sec_ident(s)) == 0);
	return (o == s && strcmp(x->keys[sl->key].name, name) == 0);
}

static int
seen_grow(struct cfgctx *x)
{
	struct seen_slot *n;
	size_t		 cap, i, j;

	cap = x->seencap ? x->seencap * 2 : 1024;
	if ((n = calloc(cap, sizeof(*n))) == NULL) {
		cfg_err(x, "%s", strerror(errno));
		return (-1);
	}
	for (i = 0; i < x->seencap; i++) {
		if (x->seen[i].sec == 0)
			continue;
		for (j = x->seen[i].hash & (cap - 1); n[j].sec != 0;
		    j = (j + 1) & (cap - 1))
			;
		n[j] = x->seen[i];
	}
	free(x->seen);
	x->seen = n;
	x->seencap = cap;
	return (0);
}

/*
 * Remembers section s (key SEEN_SEC) or its key x->keys[key] (named name).
 * Returns 0, 1 if the same was seen before (*prev: its line), -1 on error.
 */
static int
seen_add(struct cfgctx *x, const struct scan_sec *s, uint32_t key,
    const char *name, int *prev)
{
	struct seen_slot *sl;
	uint32_t	 h;
	size_t		 i;

	if ((x->nseen + 1) * 2 > x->seencap && seen_grow(x) == -1)
		return (-1);
	h = key == SEEN_SEC ? spi_name_hash(s->is_rule, sec_ident(s), 1) :
	    spi_name_hash((uint32_t)(s - x->secs) + 2, name, 0);
	for (i = h & (x->seencap - 1); x->seen[i].sec != 0;
	    i = (i + 1) & (x->seencap - 1)) {
		sl = &x->seen[i];
		if (seen_same(x, sl, h, s, key, name)) {
			*prev = key == SEEN_SEC ? x->secs[sl->sec - 1].line :
			    x->keys[sl->key].line;
			return (1);
		}
	}
	x->seen[i].hash = h;
	x->seen[i].sec = (uint32_t)(s - x->secs) + 1;
	x->seen[i].key = key;
	x->nseen++;
	return (0);
}

static int	 sec_daemon(struct cfgctx *, const struct scan_sec *,
		    struct config *);
static int	 sec_conntrack(struct cfgctx *, const struct scan_sec *,
		    struct config *);
static int	 sec_policy(struct cfgctx *, const struct scan_sec *,
		    struct config *);
static int	 sec_log(struct cfgctx *, const struct scan_sec *,
		    struct config *);
static int	 sec_sync(struct cfgctx *, const struct scan_sec *,
		    struct config *);

/* the sections besides [rule NAME], and what reads each */
static const struct {
	const char	*name;
	int		(*read)(struct cfgctx *, const struct scan_sec *,
			    struct config *);
} plain_sections[] = {
	{ "daemon",	sec_daemon },
	{ "conntrack",	sec_conntrack },
	{ "policy",	sec_policy },
	{ "log",	sec_log },
	{ "sync",	sec_sync },
};

#define NPLAIN	(sizeof(plain_sections) / sizeof(plain_sections[0]))

/* The name inside the brackets of line, checked; NULL on error. */
static char *
section_name(struct cfgctx *x, char *line, int lineno, int *is_rule)
{
	char		*end, *inner, *rest;
	size_t		 i;
	int		 known = 0;

	*is_rule = 0;
	if ((end = strchr(line, ']')) == NULL) {
		cfg_err(x, "line %d: \"%s\": a section header ends with ']'",
		    lineno, line);
		return (NULL);
	}
	*end = '\0';
	rest = trim(end + 1);
	if (*rest != '\0' && *rest != ';' && *rest != '#') {
		cfg_err(x, "line %d: text after the section header [%s]",
		    lineno, trim(line + 1));
		return (NULL);
	}
	inner = trim(line + 1);
	if (*inner == '\0') {
		cfg_err(x, "line %d: empty section name", lineno);
		return (NULL);
	}
	if (strlen(inner) >= SECLEN) {
		cfg_err(x, "line %d: section name too long", lineno);
		return (NULL);
	}
	for (i = 0; i < NPLAIN; i++)
		if (strcasecmp(inner, plain_sections[i].name) == 0)
			known = 1;
	if (strncasecmp(inner, "rule", 4) == 0 &&
	    (inner[4] == '\0' || isspace((unsigned char)inner[4]))) {
		if (!valid_rule_name(trim(inner + 4))) {
			cfg_err(x, "[%s]: a rule needs a name of 1-%d letters, "
			    "digits, '-', '_' or '.' (line %d)", inner,
			    RULE_NAMELEN - 1, lineno);
			return (NULL);
		}
		known = *is_rule = 1;
	}
	if (!known) {
		cfg_err(x, "[%s]: unknown section (line %d; expected daemon, "
		    "conntrack, policy, log, sync or rule NAME)", inner, lineno);
		return (NULL);
	}
	return (inner);
}

static struct scan_sec *
scan_section(struct cfgctx *x, char *line, int lineno)
{
	struct scan_sec	*s, *ns;
	char		*inner;
	size_t		 cap;
	int		 is_rule, prev, dup;

	if ((inner = section_name(x, line, lineno, &is_rule)) == NULL)
		return (NULL);
	if (x->nsecs == x->cap) {
		cap = x->cap ? x->cap * 2 : 16;
		if ((ns = reallocarray(x->secs, cap, sizeof(*ns))) == NULL) {
			cfg_err(x, "%s", strerror(errno));
			return (NULL);
		}
		x->secs = ns;
		x->cap = cap;
	}
	s = &x->secs[x->nsecs];
	memset(s, 0, sizeof(*s));
	s->orig = inner;
	s->key0 = x->nkeys;
	s->line = lineno;
	s->is_rule = is_rule;
	if ((dup = seen_add(x, s, SEEN_SEC, NULL, &prev)) == -1)
		return (NULL);
	if (dup) {
		if (is_rule)
			cfg_err(x, "[%s]: duplicate rule name (lines %d and "
			    "%d)", inner, prev, lineno);
		else
			cfg_err(x, "[%s]: section given twice (lines %d and "
			    "%d)", inner, prev, lineno);
		return (NULL);
	}
	x->nsecs++;
	return (s);
}

/*
 * The value of a key = value line, in place: between its quotes (which
 * keep blanks, ';' and '#'), or up to a ';' or '#' comment, blanks
 * trimmed.  NULL, with the error, for a quote that does not close or
 * text after it (iniparser ignored such text: we do not).
 */
static char *
key_value(struct cfgctx *x, const struct scan_sec *s, const char *key,
    char *val, int lineno)
{
	char		*close, *rest;

	if (*val != '"' && *val != '\'') {
		val[strcspn(val, ";#")] = '\0';
		return (trim(val));
	}
	if ((close = strchr(val + 1, *val)) == NULL) {
		cfg_err(x, "[%s] %s: unterminated quote (line %d)", s->orig,
		    key, lineno);
		return (NULL);
	}
	rest = trim(close + 1);
	if (*rest != '\0' && *rest != ';' && *rest != '#') {
		cfg_err(x, "[%s] %s: text after the closing quote (line %d)",
		    s->orig, key, lineno);
		return (NULL);
	}
	*close = '\0';
	return (val + 1);
}

static int
scan_key(struct cfgctx *x, struct scan_sec *s, char *line, int lineno)
{
	struct scan_key	*nk, *k;
	char		*eq, *key, *val;
	size_t		 i, cap;
	int		 dup, prev;

	eq = strchr(line, '=');
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	if (*key == '\0') {
		cfg_err(x, "line %d: a key is missing before '='", lineno);
		return (-1);
	}
	if (s == NULL) {
		cfg_err(x, "line %d: %s: key outside of any section", lineno,
		    key);
		return (-1);
	}
	if ((val = key_value(x, s, key, val, lineno)) == NULL)
		return (-1);
	if (strlen(key) >= KEYLEN) {
		cfg_err(x, "[%s] %.20s...: unknown key (line %d)", s->orig,
		    key, lineno);
		return (-1);
	}
	if (x->nkeys == x->keycap) {
		cap = x->keycap ? x->keycap * 2 : 64;
		if ((nk = reallocarray(x->keys, cap, sizeof(*nk))) == NULL) {
			cfg_err(x, "%s", strerror(errno));
			return (-1);
		}
		x->keys = nk;
		x->keycap = cap;
	}
	for (i = 0; key[i] != '\0'; i++)
		key[i] = (char)tolower((unsigned char)key[i]);
	k = &x->keys[x->nkeys];
	k->name = key;
	k->val = val;
	k->line = lineno;
	if ((dup = seen_add(x, s, (uint32_t)x->nkeys, key, &prev)) == -1)
		return (-1);
	if (dup) {
		cfg_err(x, "[%s] %s: given twice (lines %d and %d)", s->orig,
		    k->name, prev, lineno);
		return (-1);
	}
	x->nkeys++;
	s->nkeys++;
	return (0);
}

/*
 * Read buf (len bytes, NUL-terminated) into sections and keys, in place:
 * the keys' values point into buf.
 */
static int
scan(struct cfgctx *x, char *buf, size_t len)
{
	struct scan_sec	*cur = NULL;
	char		*line, *next, *s;
	size_t		 llen, i;
	int		 lineno = 0;

	if (memchr(buf, '\0', len) != NULL) {
		cfg_err(x, "not a text file (it contains a NUL byte)");
		return (-1);
	}
	for (line = buf; line < buf + len; line = next) {
		lineno++;
		if ((next = memchr(line, '\n', (size_t)(buf + len - line))) ==
		    NULL)
			next = buf + len;
		*next++ = '\0';
		llen = strlen(line);
		if (llen > CONFIG_MAXLINE) {
			cfg_err(x, "line %d: longer than %d characters",
			    lineno, CONFIG_MAXLINE);
			return (-1);
		}
		s = trim(line);
		llen = strlen(s);
		/* INI readers join such a line with the next: we do not
		   guess */
		if (llen > 0 && s[llen - 1] == '\\') {
			cfg_err(x, "line %d: a line may not end with '\\' "
			    "(continuation lines are not supported)", lineno);
			return (-1);
		}
		if (*s == '\0' || *s == ';' || *s == '#')
			continue;
		if (*s == '[') {
			if ((cur = scan_section(x, s, lineno)) == NULL)
				return (-1);
			continue;
		}
		if (strchr(s, '=') == NULL) {
			cfg_err(x, "line %d: \"%s\" is neither [section], key = "
			    "value nor a comment", lineno, s);
			return (-1);
		}
		if (scan_key(x, cur, s, lineno) == -1)
			return (-1);
	}
	/* no key at all: x->keys is NULL, and so are theirs */
	for (i = 0; i < x->nsecs && x->keys != NULL; i++)
		x->secs[i].keys = x->keys + x->secs[i].key0;
	return (0);
}

/* ---- reading the file ------------------------------------------------- */

/*
 * The whole of a regular file, NUL-terminated.  On error returns NULL
 * with *why set to a static message.
 */
static char *
slurp(const char *path, size_t max, size_t *lenp, const char **why)
{
	struct stat	 st;
	char		*buf = NULL, *nb;
	size_t		 len = 0, cap = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		*why = strerror(errno);
		return (NULL);
	}
	if (fstat(fd, &st) == -1) {
		*why = strerror(errno);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		goto fail;
	}
	for (;;) {
		if (len + 1 >= cap) {
			cap = cap ? cap * 2 : 8192;
			if ((nb = realloc(buf, cap)) == NULL) {
				*why = strerror(errno);
				goto fail;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			*why = strerror(errno);
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			*why = "too large";
			goto fail;
		}
	}
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return (buf);
 fail:
	free(buf);
	close(fd);
	return (NULL);
}

static char *
read_file(struct cfgctx *x, size_t *lenp)
{
	const char	*why;
	char		*buf;

	if ((buf = slurp(x->path, CONFIG_MAXSIZE, lenp, &why)) == NULL) {
		if (strcmp(why, "too large") == 0)
			cfg_err(x, "larger than %d bytes", CONFIG_MAXSIZE);
		else
			cfg_err(x, "%s", why);
	}
	return (buf);
}

/* ---- values ------------------------------------------------------------ */

/* rule_parse_dec(), from min */
static int
parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	uint64_t	 n;

	if (rule_parse_dec(s, max, &n) == -1 || n < min)
		return (-1);
	*v = n;
	return (0);
}

static int
val_uint(struct cfgctx *x, const struct scan_sec *s, const char *key,
    const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	if (parse_uint(v, min, max, out) == -1) {
		cfg_err(x, "[%s] %s: \"%s\" is not a number from %llu to %llu",
		    s->orig, key, v, (unsigned long long)min,
		    (unsigned long long)max);
		return (-1);
	}
	return (0);
}

static int
val_bool(struct cfgctx *x, const struct scan_sec *s, const char *key,
    const char *v, uint8_t *out)
{
	char		 e[256];

	if (rule_parse_bool(v, out, e, sizeof(e)) == -1) {
		cfg_err(x, "[%s] %s: %s", s->orig, key, e);
		return (-1);
	}
	return (0);
}

static int
val_path(struct cfgctx *x, const struct scan_sec *s, const char *key,
    const char *v, char *out, size_t len)
{
	const char	*p;

	/* empty: no pidfile, no control socket */
	if (v[0] == '\0') {
		out[0] = '\0';
		return (0);
	}
	if (v[0] != '/') {
		cfg_err(x, "[%s] %s: \"%s\" is not an absolute path", s->orig,
		    key, v);
		return (-1);
	}
	for (p = v; *p != '\0'; p++) {
		if (!isprint((unsigned char)*p) || isspace((unsigned char)*p)) {
			cfg_err(x, "[%s] %s: \"%s\" contains a blank or a "
			    "control character", s->orig, key, v);
			return (-1);
		}
	}
	if (spi_strlcpy(out, v, len) >= len) {
		cfg_err(x, "[%s] %s: \"%s\" is longer than %zu characters",
		    s->orig, key, v, len - 1);
		return (-1);
	}
	return (0);
}

static int
val_user(struct cfgctx *x, const struct scan_sec *s, const char *v,
    char *out, size_t len)
{
	const char	*p;

	for (p = v; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' &&
		    *p != '.')
			break;
	if (*p != '\0' || v[0] == '-' || strlen(v) > 32 ||
	    spi_strlcpy(out, v, len) >= len) {
		cfg_err(x, "[%s] user: \"%s\" is not a user name", s->orig, v);
		return (-1);
	}
	return (0);
}

/* empty, or ADDR:PORT with ADDR an IPv4 address or [IPv6] */
static int
val_http(struct cfgctx *x, const struct scan_sec *s, const char *v,
    char *out, size_t len)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;

	if (*v == '\0') {
		out[0] = '\0';
		return (0);
	}
	if (config_addrport(v, &ss, &sslen) == 0 &&
	    spi_strlcpy(out, v, len) < len)
		return (0);
	cfg_err(x, "[%s] http: \"%s\" is not ADDRESS:PORT (an IPv4 address "
	    "or [IPv6 address], port 1-65535), nor empty", s->orig, v);
	return (-1);
}

/* ---- sections ---------------------------------------------------------- */


enum dkey {
	DK_QUEUE, DK_THREADS, DK_FAIL_OPEN, DK_QUEUE_MAXLEN, DK_MODE, DK_USER,
	DK_PIDFILE, DK_CONTROL, DK_HTTP, DK_HTTP_ALLOW, DK_DIVERT, DK_IDLE_WARN,
	DK_FAIL_OPEN_GRACE, DK_HTTP_AUTH, DK_FASTPATH, DK_STATE_FILE
};
static const char *const daemon_keys[] = {
	"queue", "threads", "fail_open", "queue_maxlen", "mode", "user",
	"pidfile", "control", "http", "http_allow", "divert", "idle_warn",
	"fail_open_grace", "http_auth", "fastpath", "state_file", NULL
};

#define HTTP_ALLOW_DEFAULT	"127.0.0.0/8, ::1"

/* who may use the status page: a CIDR list, never empty */
static int
val_http_allow(struct cfgctx *x, const struct scan_sec *s, const char *v,
    struct config *c)
{
	char	 e[256];

	rule_addrset_free(c->http_allow);
	c->http_allow = NULL;
	if (rule_parse_addrs(v, &c->http_allow, e, sizeof(e)) == -1) {
		cfg_err(x, "[%s] http_allow: %s", s->orig, e);
		return (-1);
	}
	if (c->http_allow == NULL) {
		cfg_err(x, "[%s] http_allow: empty; name who may connect "
		    "(0.0.0.0/0, ::/0 for everybody)", s->orig);
		return (-1);
	}
	return (0);
}

/* the status page's users: a file of user:hash lines (auth.h) */
static int
val_http_auth(struct cfgctx *x, const struct scan_sec *s, const char *v,
    struct config *c)
{
	char	 e[512];

	if (val_path(x, s, "http_auth", v, c->http_auth,
	    sizeof(c->http_auth)) == -1)
		return (-1);
	auth_free(c->http_users);
	if ((c->http_users = auth_load(c->http_auth, e, sizeof(e))) == NULL) {
		cfg_err(x, "[%s] http_auth: %s", s->orig, e);
		return (-1);
	}
	return (0);
}

static int
find_key(const char *const *keys, const char *k)
{
	int		 i;

	for (i = 0; keys[i] != NULL; i++)
		if (strcmp(keys[i], k) == 0)
			return (i);
	return (-1);
}

static int
unknown_key(struct cfgctx *x, const struct scan_sec *s,
    const struct scan_key *k)
{
	x->line = k->line;
	cfg_err(x, "[%s] %s: unknown key", s->orig, k->name);
	return (-1);
}

static int
sec_daemon(struct cfgctx *x, const struct scan_sec *s, struct config *c)
{
	const char	*v;
	uint64_t	 n;
	size_t		 i;
	int		 threads_line = 0, queue_line = 0;

	for (i = 0; i < s->nkeys; i++) {
		const struct scan_key *k = &s->keys[i];
		int	 id = find_key(daemon_keys, k->name);

		if (id == -1)
			return (unknown_key(x, s, k));
		x->line = k->line;
		v = k->val;
		switch (id) {
		case DK_QUEUE:
			if (val_uint(x, s, k->name, v, 0, 65535, &n) == -1)
				return (-1);
			c->queue = (uint16_t)n;
			queue_line = k->line;
			break;
		case DK_THREADS:
			if (val_uint(x, s, k->name, v, 1, WORKERS_MAX,
			    &n) == -1)
				return (-1);
			c->threads = (uint16_t)n;
			threads_line = k->line;
			break;
		case DK_FAIL_OPEN:
			if (val_bool(x, s, k->name, v, &c->fail_open) == -1)
				return (-1);
			break;
		case DK_FAIL_OPEN_GRACE:
			if (val_uint(x, s, k->name, v, 0, 3600, &n) == -1)
				return (-1);
			c->fail_open_grace = (uint16_t)n;
			break;
		case DK_QUEUE_MAXLEN:
			if (val_uint(x, s, k->name, v, 1, 2147483647, &n) ==
			    -1)
				return (-1);
			c->queue_maxlen = (uint32_t)n;
			x->maxlen_line = x->line;
			break;
		case DK_MODE:
			if (strcasecmp(v, "enforce") == 0)
				c->mode = MODE_ENFORCE;
			else if (strcasecmp(v, "monitor") == 0)
				c->mode = MODE_MONITOR;
			else {
				cfg_err(x, "[%s] mode: \"%s\" is not enforce or "
				    "monitor", s->orig, v);
				return (-1);
			}
			break;
		case DK_USER:
			if (val_user(x, s, v, c->user, sizeof(c->user)) == -1)
				return (-1);
			c->user_line = x->line;
			break;
		case DK_PIDFILE:
			if (val_path(x, s, k->name, v, c->pidfile,
			    sizeof(c->pidfile)) == -1)
				return (-1);
			break;
		case DK_CONTROL:
			/* a UNIX socket's path is shorter than a file's */
			if (val_path(x, s, k->name, v, c->control,
			    sizeof(((struct sockaddr_un *)0)->sun_path)) == -1)
				return (-1);
			break;
		case DK_HTTP:
			if (val_http(x, s, v, c->http, sizeof(c->http)) == -1)
				return (-1);
			break;
		case DK_HTTP_ALLOW:
			if (val_http_allow(x, s, v, c) == -1)
				return (-1);
			break;
		case DK_DIVERT:
			if (divert_mode_parse(v, &c->divert) == -1) {
				cfg_err(x, "[%s] divert: \"%s\" is not none, "
				    "iptables, iptables-nft or nft", s->orig, v);
				return (-1);
			}
			break;
		case DK_IDLE_WARN:
			if (val_uint(x, s, k->name, v, 0, 86400, &n) == -1)
				return (-1);
			c->idle_warn = (uint32_t)n;
			break;
		case DK_HTTP_AUTH:
			if (val_http_auth(x, s, v, c) == -1)
				return (-1);
			break;
		case DK_FASTPATH:
			if (val_bool(x, s, k->name, v, &c->fastpath) == -1)
				return (-1);
			break;
		case DK_STATE_FILE:
			if (val_path(x, s, k->name, v, c->state_file,
			    sizeof(c->state_file)) == -1)
				return (-1);
			if (v[0] != '\0' && v[strlen(v) - 1] == '/') {
				cfg_err(x, "[%s] state_file: \"%s\" names a "
				    "directory, not a file", s->orig, v);
				return (-1);
			}
			break;
		default:
			return (-1);
		}
	}
	x->line = 0;
	if (c->state_file[0] != '\0' &&
	    (strcmp(c->state_file, c->pidfile) == 0 ||
	    strcmp(c->state_file, c->control) == 0)) {
		cfg_err(x, "[%s] state_file: \"%s\" is the %s too", s->orig,
		    c->state_file, strcmp(c->state_file, c->pidfile) == 0 ?
		    "pidfile" : "control socket");
		return (-1);
	}
	if (c->http_users != NULL && c->http[0] == '\0') {
		cfg_err(x, "[%s] http_auth: there is no status page to "
		    "protect (no http)", s->orig);
		return (-1);
	}
	x->line = threads_line ? threads_line : queue_line;
	if ((uint32_t)c->queue + c->threads - 1 > 65535) {
		cfg_err(x, "[%s] %s: queues %u to %u: the last is past 65535",
		    s->orig, threads_line ? "threads" : "queue", c->queue,
		    (uint32_t)c->queue + c->threads - 1);
		return (-1);
	}
	x->line = 0;
	return (0);
}

#define CT_MAX_MAX	67108864u	/* 64 Mi connections */

/* The frag_* keys of [conntrack]: 1 if name is one, 0 if not, -1 on a
   bad value. */
static int
frag_key(struct cfgctx *x, const struct scan_sec *s, const char *name,
    const char *v, struct frag_config *f)
{
	uint64_t	 n;

	if (strcmp(name, "frag_timeout") == 0) {
		if (val_uint(x, s, name, v, 1, 3600, &n) == -1)
			return (-1);
		f->timeout_ms = (uint32_t)n * 1000;
	} else if (strcmp(name, "frag_max_bytes") == 0) {
		if (val_uint(x, s, name, v, 65536, 1u << 30, &n) == -1)
			return (-1);
		f->max_bytes = (uint32_t)n;
	} else if (strcmp(name, "frag_max_datagrams") == 0) {
		if (val_uint(x, s, name, v, 1, 1u << 20, &n) == -1)
			return (-1);
		f->max_datagrams = (uint32_t)n;
	} else if (strcmp(name, "frag_max_held") == 0) {
		if (val_uint(x, s, name, v, 1, 1u << 20, &n) == -1)
			return (-1);
		f->max_held = (uint32_t)n;
		x->held_line = x->line;
	} else
		return (0);
	return (1);
}

static int
sec_conntrack(struct cfgctx *x, const struct scan_sec *s, struct config *c)
{
	const char	*v;
	uint64_t	 n;
	size_t		 i;
	int		 t, aline = 0;

	for (i = 0; i < s->nkeys; i++) {
		const struct scan_key *k = &s->keys[i];

		x->line = k->line;
		v = k->val;
		if (strcmp(k->name, "max") == 0) {
			if (val_uint(x, s, k->name, v, 1, CT_MAX_MAX, &n) == -1)
				return (-1);
			c->ct.max = (uint32_t)n;
			continue;
		}
		if (strcmp(k->name, "tcp_loose") == 0) {
			if (val_bool(x, s, k->name, v, &c->ct.tcp_loose) == -1)
				return (-1);
			continue;
		}
		if (strcmp(k->name, "tcp_liberal") == 0) {
			if (val_bool(x, s, k->name, v, &c->ct.tcp_liberal) ==
			    -1)
				return (-1);
			continue;
		}
		if (strcmp(k->name, "source_share") == 0) {
			if (val_uint(x, s, k->name, v, 0, 100, &n) == -1)
				return (-1);
			c->ct.source_share = (uint8_t)n;
			continue;
		}
		if (strcmp(k->name, "adaptive_start") == 0) {
			if (val_uint(x, s, k->name, v, 0, 1000, &n) == -1)
				return (-1);
			c->ct.adaptive_start = (uint16_t)n;
			aline = k->line;
			continue;
		}
		if (strcmp(k->name, "adaptive_end") == 0) {
			if (val_uint(x, s, k->name, v, 0, 1000, &n) == -1)
				return (-1);
			c->ct.adaptive_end = (uint16_t)n;
			aline = k->line;
			continue;
		}
		if (strcmp(k->name, "checksum") == 0) {
			if (val_bool(x, s, k->name, v, &c->checksum) == -1)
				return (-1);
			continue;
		}
		if ((t = frag_key(x, s, k->name, v, &c->frag)) != 0) {
			if (t == -1)
				return (-1);
			continue;
		}
		for (t = 0; t < CT_TO_MAX; t++)
			if (strcmp(k->name, ct_timeout_defs[t].key) == 0)
				break;
		if (t == CT_TO_MAX)
			return (unknown_key(x, s, k));
		if (val_uint(x, s, k->name, v, 1, CT_TIMEOUT_MAX, &n) == -1)
			return (-1);
		c->ct.timeout[t] = (uint32_t)n;
	}
	/* pf's adaptive.start/end: both, end past start, or neither */
	if ((c->ct.adaptive_start != 0 || c->ct.adaptive_end != 0) &&
	    c->ct.adaptive_end <= c->ct.adaptive_start) {
		x->line = aline;
		cfg_err(x, "[%s] adaptive_end: %u is not above adaptive_start "
		    "(%u); 0 and 0 turn adaptive timeouts off", s->orig,
		    c->ct.adaptive_end, c->ct.adaptive_start);
		return (-1);
	}
	return (0);
}

static int
sec_policy(struct cfgctx *x, const struct scan_sec *s, struct config *c)
{
	const char	*v;
	char		 e[256];
	size_t		 i;
	int		 st;

	for (i = 0; i < s->nkeys; i++) {
		const struct scan_key *k = &s->keys[i];

		for (st = 0; st < CT_STATE_MAX; st++)
			if (strcasecmp(k->name, rule_state_name(st)) == 0)
				break;
		if (st == CT_STATE_MAX)
			return (unknown_key(x, s, k));
		x->line = k->line;
		v = k->val;
		if (rule_parse_action(v, &c->policy[st], e, sizeof(e)) == -1) {
			cfg_err(x, "[%s] %s: %s", s->orig, k->name, e);
			return (-1);
		}
	}
	return (0);
}

static const struct {
	const char	*name;
	int		 facility;
} facilities[] = {
	{ "auth",	LOG_AUTH },
	{ "authpriv",	LOG_AUTHPRIV },
	{ "cron",	LOG_CRON },
	{ "daemon",	LOG_DAEMON },
	{ "ftp",	LOG_FTP },
	{ "local0",	LOG_LOCAL0 },
	{ "local1",	LOG_LOCAL1 },
	{ "local2",	LOG_LOCAL2 },
	{ "local3",	LOG_LOCAL3 },
	{ "local4",	LOG_LOCAL4 },
	{ "local5",	LOG_LOCAL5 },
	{ "local6",	LOG_LOCAL6 },
	{ "local7",	LOG_LOCAL7 },
	{ "lpr",	LOG_LPR },
	{ "mail",	LOG_MAIL },
	{ "news",	LOG_NEWS },
	{ "syslog",	LOG_SYSLOG },
	{ "user",	LOG_USER },
	{ "uucp",	LOG_UUCP },
};

/* [sync]: config_sync.c reads the keys */
static int
sec_sync(struct cfgctx *x, const struct scan_sec *s, struct config *c)
{
	char		 e[512];
	size_t		 i;
	int		 rc, peerline = 0, keyline = 0;

	c->sync.on = 1;
	for (i = 0; i < s->nkeys; i++) {
		const struct scan_key *k = &s->keys[i];

		x->line = k->line;
		if ((rc = config_sync_key(&c->sync, k->name, k->val, e,
		    sizeof(e))) == 1)
			return (unknown_key(x, s, k));
		if (rc == -1) {
			cfg_err(x, "[%s] %s", s->orig, e);
			return (-1);
		}
		if (strcmp(k->name, "peer") == 0)
			peerline = k->line;
		else if (strcmp(k->name, "key") == 0)
			keyline = k->line;
	}
	x->line = s->line;
	if (config_sync_done(&c->sync, e, sizeof(e)) == -1) {
		cfg_err(x, "[%s] %s", s->orig, e);
		return (-1);
	}
	x->line = peerline;
	if (config_sync_peer(&c->sync, e, sizeof(e)) == -1) {
		cfg_err(x, "[%s] %s", s->orig, e);
		return (-1);
	}
	/* what is wrong with the file is said at the key naming it; a
	   reload, which leaves [sync] for the next start, does not read it */
	x->line = keyline;
	if (!x->reload && config_sync_keyfile(&c->sync, e, sizeof(e)) == -1) {
		cfg_err(x, "[%s] %s", s->orig, e);
		return (-1);
	}
	x->line = 0;
	return (0);
}

static int
sec_log(struct cfgctx *x, const struct scan_sec *s, struct config *c)
{
	const char	*v;
	char		 e[256];
	uint64_t	 n;
	uint32_t	 r;
	size_t		 i, f;

	for (i = 0; i < s->nkeys; i++) {
		const struct scan_key *k = &s->keys[i];

		x->line = k->line;
		v = k->val;
		if (strcmp(k->name, "facility") == 0) {
			for (f = 0; f < sizeof(facilities) /
			    sizeof(facilities[0]); f++)
				if (strcasecmp(v, facilities[f].name) == 0)
					break;
			if (f == sizeof(facilities) / sizeof(facilities[0])) {
				cfg_err(x, "[%s] facility: \"%s\" is not a "
				    "syslog facility (daemon, user, auth, "
				    "authpriv, local0 ... local7, ...)",
				    s->orig, v);
				return (-1);
			}
			c->facility = facilities[f].facility;
		} else if (strcmp(k->name, "rate") == 0) {
			/* "20" as in the contract, or "20/s" as in rules */
			if (strchr(v, '/') != NULL) {
				if (rule_parse_rate(v, &r, e, sizeof(e)) == -1) {
					cfg_err(x, "[%s] rate: %s", s->orig, e);
					return (-1);
				}
				c->log_rate = r;
			} else {
				if (val_uint(x, s, k->name, v, 0, 1000000,
				    &n) == -1)
					return (-1);
				c->log_rate = (uint32_t)n;
			}
		} else if (strcmp(k->name, "invalid") == 0) {
			if (val_bool(x, s, k->name, v, &c->log_invalid) == -1)
				return (-1);
		} else
			return (unknown_key(x, s, k));
	}
	return (0);
}

enum rkey {
	RK_STATE, RK_PROTO, RK_SRC, RK_DST, RK_SPORT, RK_DPORT, RK_IN, RK_OUT,
	RK_ICMP_TYPE, RK_TCP_FLAGS, RK_ACTION, RK_MARK, RK_LOG, RK_RATE,
	RK_CONN_LIMIT, RK_CHAIN, RK_MAX
};
static const char *const rule_keys[] = {
	"state", "proto", "src", "dst", "sport", "dport", "in", "out",
	"icmp_type", "tcp_flags", "action", "mark", "log", "rate",
	"conn_limit", "chain", NULL
};

/*
 * Address lists too long for an INI line live in files: an element
 * "@/path" of src or dst stands for the addresses in that file, separated
 * by blanks, commas or newlines, with '#' or ';' comments.  Each one is
 * checked here so that an error can name the file and the line.
 */
#define ADDRFILE_MAXSIZE	(64 * 1024 * 1024)

static int
addrs_append(FILE *out, int *first, const char *e, size_t len)
{
	if (!*first && fputs(", ", out) == EOF)
		return (-1);
	*first = 0;
	return (fwrite(e, 1, len, out) == len ? 0 : -1);
}

static int
addrs_file(struct cfgctx *x, const struct scan_sec *s, const char *key,
    const char *path, FILE *out, int *first)
{
	struct rule_addrset *set;
	const char	*why;
	char		*buf, *p, *tok, e[256], msg[256];
	size_t		 len, n;
	int		 line = 1, ret = -1;

	if (path[0] != '/') {
		cfg_err(x, "[%s] %s: \"@%s\": the file must be an absolute "
		    "path", s->orig, key, path);
		return (-1);
	}
	if ((buf = slurp(path, ADDRFILE_MAXSIZE, &len, &why)) == NULL) {
		cfg_err(x, "[%s] %s: %s: %s", s->orig, key, path, why);
		return (-1);
	}
	if (memchr(buf, '\0', len) != NULL) {
		cfg_err(x, "[%s] %s: %s: not a text file", s->orig, key, path);
		goto out;
	}
	for (p = buf; *p != '\0';) {
		if (*p == '\n')
			line++;
		if (isspace((unsigned char)*p) || *p == ',') {
			p++;
			continue;
		}
		if (*p == '#' || *p == ';') {
			p += strcspn(p, "\n");
			continue;
		}
		tok = p;
		n = strcspn(p, " \t\r\n,#;");
		p += n;
		if (n >= sizeof(e)) {
			cfg_err(x, "[%s] %s: %s line %d: \"%.20s...\" is too "
			    "long", s->orig, key, path, line, tok);
			goto out;
		}
		memcpy(e, tok, n);
		e[n] = '\0';
		if (e[0] == '@') {
			cfg_err(x, "[%s] %s: %s line %d: \"%s\": files do not "
			    "nest", s->orig, key, path, line, e);
			goto out;
		}
		if (rule_parse_addrs(e, &set, msg, sizeof(msg)) == -1) {
			cfg_err(x, "[%s] %s: %s line %d: %s", s->orig, key,
			    path, line, msg);
			goto out;
		}
		rule_addrset_free(set);
		if (addrs_append(out, first, tok, n) == -1) {
			cfg_err(x, "%s", strerror(errno));
			goto out;
		}
	}
	ret = 0;
 out:
	free(buf);
	return (ret);
}

/* v with every "@file" element replaced by the file's addresses */
static char *
addrs_expand(struct cfgctx *x, const struct scan_sec *s, const char *key,
    const char *v)
{
	FILE		*out;
	char		*res = NULL, *copy, *el, *next;
	size_t		 reslen;
	int		 first = 1, ok = 0;

	if (strchr(v, '@') == NULL)
		return (strdup(v));
	if ((copy = strdup(v)) == NULL)
		return (NULL);
	if ((out = open_memstream(&res, &reslen)) == NULL) {
		free(copy);
		return (NULL);
	}
	for (el = copy; el != NULL; el = next) {
		if ((next = strchr(el, ',')) != NULL)
			*next++ = '\0';
		el = trim(el);
		if (*el == '@') {
			if (addrs_file(x, s, key, el + 1, out, &first) == -1)
				goto out;
			continue;
		}
		/* anything else, even empty, is for rule_parse_addrs() */
		if (addrs_append(out, &first, el, strlen(el)) == -1) {
			cfg_err(x, "%s", strerror(errno));
			goto out;
		}
	}
	ok = 1;
 out:
	fclose(out);
	free(copy);
	if (!ok) {
		free(res);
		return (NULL);
	}
	/* a file with no address: no element at all, which is an error */
	if (first) {
		cfg_err(x, "[%s] %s: no address in \"%s\"", s->orig, key, v);
		free(res);
		return (NULL);
	}
	return (res);
}

static int
rule_addrs(struct cfgctx *x, const struct scan_sec *s, const char *key,
    const char *v, struct rule_addrset **set)
{
	char		 e[256], *full;
	int		 ret;

	if ((full = addrs_expand(x, s, key, v)) == NULL) {
		if (x->err != NULL && x->err[0] == '\0')
			cfg_err(x, "[%s] %s: %s", s->orig, key,
			    strerror(errno));
		return (-1);
	}
	ret = rule_parse_addrs(full, set, e, sizeof(e));
	free(full);
	if (ret == -1)
		cfg_err(x, "[%s] %s: %s", s->orig, key, e);
	/* nfqspictl rules shows "@file" as written, not what it holds */
	else if (*set != NULL && strchr(v, '@') != NULL &&
	    rule_addrset_set_text(*set, v) == -1) {
		cfg_err(x, "[%s] %s: %s", s->orig, key, strerror(errno));
		rule_addrset_free(*set);
		*set = NULL;
		ret = -1;
	}
	return (ret);
}

#define CONN_LIMIT_MAX	1000000000u
#define SERVICES_PATH	"/etc/services"
#define SERVICES_MAXSIZE (4 * 1024 * 1024)

/* A port list, with names from /etc/services, read once when needed. */
static int
rule_ports(struct cfgctx *x, const char *v, uint8_t proto,
    struct rule_portset **set, char *e, size_t elen)
{
	const char	*p, *why;
	char		*text;
	size_t		 len;

	for (p = v; *p != '\0' && !isalpha((unsigned char)*p); p++)
		;
	if (*p != '\0' && x->svc == NULL) {
		if ((text = slurp(SERVICES_PATH, SERVICES_MAXSIZE, &len,
		    &why)) == NULL) {
			snprintf(e, elen, "%s: %s (port names are looked up "
			    "there)", SERVICES_PATH, why);
			return (-1);
		}
		x->svc = services_parse(text, len);
		free(text);
		if (x->svc == NULL) {
			snprintf(e, elen, "%s: %s", SERVICES_PATH,
			    strerror(errno));
			return (-1);
		}
	}
	return (rule_parse_ports_named(v, x->svc, proto, set, e, elen));
}

/* AF_INET or AF_INET6 when every address of set is of that family,
   else 0 (any, both, or neither) */
static int
addrs_family(const struct rule_addrset *set)
{
	size_t		 n4, n6;

	if (set == NULL)
		return (0);
	n4 = rule_addrset_count(set, AF_INET);
	n6 = rule_addrset_count(set, AF_INET6);
	if (n4 > 0 && n6 == 0)
		return (AF_INET);
	if (n6 > 0 && n4 == 0)
		return (AF_INET6);
	return (0);
}

static const char *
family_name(int af)
{
	return (af == AF_INET ? "IPv4" : "IPv6");
}

/* a list whose negations took every address it named ("10.1.0.0/16,
   !10.0.0.0/8"): it matches no packet */
static int
addrs_empty(const struct rule_addrset *set)
{
	return (set != NULL && rule_addrset_count(set, AF_INET) == 0 &&
	    rule_addrset_count(set, AF_INET6) == 0);
}

/* the chains where the kernel knows a packet's input, output interface */
#define HOOKS_IN	(RULE_HOOK_BIT(PKT_HOOK_PREROUTING) |		\
			 RULE_HOOK_BIT(PKT_HOOK_INPUT) |		\
			 RULE_HOOK_BIT(PKT_HOOK_FORWARD))
#define HOOKS_OUT	(RULE_HOOK_BIT(PKT_HOOK_FORWARD) |		\
			 RULE_HOOK_BIT(PKT_HOOK_OUTPUT) |		\
			 RULE_HOOK_BIT(PKT_HOOK_POSTROUTING))

/*
 * Does an in or out list need a name its rule's chains never give?  A
 * plain name matches no packet without that interface (iptables refuses
 * -o in INPUT, -i in OUTPUT); a list of negations alone matches it.
 */
static int
ifaces_unknown(uint8_t n, uint8_t neg, uint8_t hooks, uint8_t known)
{
	return (n > 0 && neg != (uint8_t)((1u << n) - 1) && hooks != 0 &&
	    (hooks & known) == 0);
}

/*
 * A valid rule that no packet can match: a list whose negations cancel
 * every address or interface it names, an interface its chains never
 * have, addresses of one family with the other's ICMP, or src of one
 * family and dst of the other.  Not an error
 * (the file may be shared by hosts, or half-edited), but nfqspid -n and
 * the log say so.  One warning per rule: one reason is enough.  1:
 * warned.
 */
static int
rule_never_warn(struct cfgctx *x, const struct scan_sec *s,
    const struct rule *r, const int *lines)
{
	int		 sf, df, pf = 0, other, line = x->line;
	int		 src, in, warned = 1;
	int		 src_line = lines[RK_SRC], dst_line = lines[RK_DST];
	char		 hbuf[64];

	sf = addrs_family(r->src);
	df = addrs_family(r->dst);
	if (r->has_proto && r->proto == IPPROTO_ICMP)
		pf = AF_INET;
	else if (r->has_proto && r->proto == IPPROTO_ICMPV6)
		pf = AF_INET6;
	other = pf == AF_INET ? AF_INET6 : AF_INET;
	if ((src = addrs_empty(r->src)) || addrs_empty(r->dst)) {
		x->line = src ? src_line : dst_line;
		cfg_warn(x, "[%s] %s: its negations cancel every address it "
		    "names: the rule never matches", s->orig,
		    src ? "src" : "dst");
	} else if ((in = !rule_ifaces_can_match(r->in, r->nin,
	    r->in_neg)) || !rule_ifaces_can_match(r->out, r->nout,
	    r->out_neg)) {
		x->line = lines[in ? RK_IN : RK_OUT];
		cfg_warn(x, "[%s] %s: its negations cancel every interface it "
		    "names: the rule never matches", s->orig,
		    in ? "in" : "out");
	} else if ((in = ifaces_unknown(r->nin, r->in_neg, r->hooks,
	    HOOKS_IN)) || ifaces_unknown(r->nout, r->out_neg, r->hooks,
	    HOOKS_OUT)) {
		x->line = lines[in ? RK_IN : RK_OUT];
		cfg_warn(x, "[%s] %s: no packet of chain = %s has an %s "
		    "interface: the rule never matches", s->orig,
		    in ? "in" : "out", rule_hooks_format(r->hooks, hbuf,
		    sizeof(hbuf)), in ? "input" : "output");
	} else if (pf != 0 && (sf == other || df == other)) {
		src = sf == other;
		x->line = src ? src_line : dst_line;
		cfg_warn(x, "[%s] %s: only %s addresses, but proto = %s is "
		    "%s's: the rule never matches", s->orig,
		    src ? "src" : "dst", family_name(other),
		    pf == AF_INET ? "icmp" : "icmpv6", family_name(pf));
	} else if (sf != 0 && df != 0 && sf != df) {
		x->line = dst_line;
		cfg_warn(x, "[%s] dst: only %s addresses, but src has only "
		    "%s ones: the rule never matches", s->orig,
		    family_name(df), family_name(sf));
	} else
		warned = 0;
	x->line = line;
	return (warned);
}

static int
sec_rule(struct cfgctx *x, const struct scan_sec *s, struct rule *r)
{
	const char	*vals[RK_MAX] = { NULL };
	int		 lines[RK_MAX] = { 0 };
	char		 e[256];
	uint64_t	 n;
	size_t		 i;
	int		 id, ret = -1;
	const char	*name;

	name = rule_name_of(s->orig);
	/* valid_rule_name() bounds it: the copy is whole */
	spi_strlcpy(r->name, name, sizeof(r->name));
	r->states = CT_STATE_BIT(CT_NEW);

	for (i = 0; i < s->nkeys; i++) {
		if ((id = find_key(rule_keys, s->keys[i].name)) == -1) {
			unknown_key(x, s, &s->keys[i]);
			goto out;
		}
		vals[id] = s->keys[i].val;
		lines[id] = x->line = s->keys[i].line;
		/* only lists may be empty: an empty list is "any" */
		if (vals[id][0] == '\0' && id != RK_SRC && id != RK_DST &&
		    id != RK_SPORT && id != RK_DPORT && id != RK_IN &&
		    id != RK_OUT && id != RK_CHAIN) {
			cfg_err(x, "[%s] %s: empty value (give one, or remove "
			    "the line)", s->orig, rule_keys[id]);
			goto out;
		}
	}

#define RULE_ERR(k)	do {						\
		x->line = lines[k];					\
		cfg_err(x, "[%s] %s: %s", s->orig, rule_keys[k], e);	\
		goto out;						\
	} while (0)

	/* proto first: icmp_type, tcp_flags and ports depend on it */
	if (vals[RK_PROTO] && rule_parse_proto(vals[RK_PROTO], &r->has_proto,
	    &r->proto, e, sizeof(e)) == -1)
		RULE_ERR(RK_PROTO);
	if (vals[RK_ACTION] == NULL) {
		x->line = s->line;
		cfg_err(x, "[%s] action: missing (accept, drop or reject)",
		    s->orig);
		goto out;
	}
	if (rule_parse_action(vals[RK_ACTION], &r->action, e, sizeof(e)) == -1)
		RULE_ERR(RK_ACTION);
	if (vals[RK_STATE] && rule_parse_states(vals[RK_STATE], &r->states, e,
	    sizeof(e)) == -1)
		RULE_ERR(RK_STATE);
	x->line = lines[RK_SRC];
	if (vals[RK_SRC] && rule_addrs(x, s, "src", vals[RK_SRC],
	    &r->src) == -1)
		goto out;
	x->line = lines[RK_DST];
	if (vals[RK_DST] && rule_addrs(x, s, "dst", vals[RK_DST],
	    &r->dst) == -1)
		goto out;
	if (vals[RK_SPORT] && rule_ports(x, vals[RK_SPORT], r->has_proto ?
	    r->proto : 0, &r->sport, e, sizeof(e)) == -1)
		RULE_ERR(RK_SPORT);
	if (vals[RK_DPORT] && rule_ports(x, vals[RK_DPORT], r->has_proto ?
	    r->proto : 0, &r->dport, e, sizeof(e)) == -1)
		RULE_ERR(RK_DPORT);
	if ((r->sport || r->dport) && r->has_proto &&
	    r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP) {
		snprintf(e, sizeof(e), "ports need proto = tcp, udp or any");
		RULE_ERR(r->dport ? RK_DPORT : RK_SPORT);
	}
	if (vals[RK_IN] && rule_parse_ifaces(vals[RK_IN], r->in, &r->nin,
	    &r->in_neg, e, sizeof(e)) == -1)
		RULE_ERR(RK_IN);
	if (vals[RK_OUT] && rule_parse_ifaces(vals[RK_OUT], r->out, &r->nout,
	    &r->out_neg, e, sizeof(e)) == -1)
		RULE_ERR(RK_OUT);
	if (vals[RK_CHAIN] && rule_parse_hooks(vals[RK_CHAIN], &r->hooks, e,
	    sizeof(e)) == -1)
		RULE_ERR(RK_CHAIN);
	if (vals[RK_ICMP_TYPE]) {
		if (rule_parse_icmp_types(vals[RK_ICMP_TYPE], r->has_proto ?
		    r->proto : 0, r->icmp_types, e, sizeof(e)) == -1)
			RULE_ERR(RK_ICMP_TYPE);
		r->has_icmp_type = 1;
	}
	if (vals[RK_TCP_FLAGS]) {
		if (!r->has_proto || r->proto != IPPROTO_TCP) {
			snprintf(e, sizeof(e), "needs proto = tcp");
			RULE_ERR(RK_TCP_FLAGS);
		}
		if (rule_parse_tcp_flags(vals[RK_TCP_FLAGS], &r->tcp_flags,
		    &r->tcp_mask, e, sizeof(e)) == -1)
			RULE_ERR(RK_TCP_FLAGS);
		r->has_tcp_flags = 1;
	}
	if (vals[RK_MARK]) {
		if (rule_parse_mark(vals[RK_MARK], &r->mark, e, sizeof(e)) == -1)
			RULE_ERR(RK_MARK);
		r->has_mark = 1;
	}
	if (vals[RK_LOG] && rule_parse_bool(vals[RK_LOG], &r->log, e,
	    sizeof(e)) == -1)
		RULE_ERR(RK_LOG);
	if (vals[RK_RATE] && rule_parse_rate(vals[RK_RATE], &r->rate, e,
	    sizeof(e)) == -1)
		RULE_ERR(RK_RATE);
	if (vals[RK_CONN_LIMIT]) {
		if (parse_uint(vals[RK_CONN_LIMIT], 1, CONN_LIMIT_MAX, &n) ==
		    -1) {
			snprintf(e, sizeof(e), "\"%s\" is not a number from 1 "
			    "to %u", vals[RK_CONN_LIMIT], CONN_LIMIT_MAX);
			RULE_ERR(RK_CONN_LIMIT);
		}
		r->conn_limit = (uint32_t)n;
	}
	/* limits say how many connections to accept */
	if ((r->rate || r->conn_limit) && r->action != RULE_ACCEPT) {
		snprintf(e, sizeof(e), "only for action = accept");
		RULE_ERR(r->rate ? RK_RATE : RK_CONN_LIMIT);
	}
	/*
	 * ...and are counted at a connection's first packet alone.  A
	 * warning, not an error: such files loaded before, and an upgrade
	 * must not stop a firewall over a limit that never acted.
	 */
	if ((r->rate || r->conn_limit) &&
	    !(r->states & CT_STATE_BIT(CT_NEW))) {
		x->line = lines[r->rate ? RK_RATE : RK_CONN_LIMIT];
		cfg_warn(x, "[%s] %s: state has no new, and a limit counts "
		    "new connections, not packets: it never acts", s->orig,
		    rule_keys[r->rate ? RK_RATE : RK_CONN_LIMIT]);
		x->line = s->line;
	}
#undef RULE_ERR
	x->never[r->index] = (uint8_t)rule_never_warn(x, s, r, lines);
	ret = 0;
 out:
	return (ret);
}

/* ---- the whole file ---------------------------------------------------- */

static void
config_defaults(struct config *c)
{
	c->queue = 0;
	c->threads = 1;
	c->fail_open = 0;
	c->fail_open_grace = 10;
	c->queue_maxlen = 4096;
	c->idle_warn = CONFIG_IDLE_WARN;
	c->mode = MODE_ENFORCE;
	c->user[0] = '\0';
	spi_strlcpy(c->pidfile, "/run/nfqspid.pid", sizeof(c->pidfile));
	spi_strlcpy(c->control, "/run/nfqspid.sock", sizeof(c->control));
	c->http[0] = '\0';
	ct_config_defaults(&c->ct);
	c->checksum = 1;
	frag_config_defaults(&c->frag);
	c->policy[CT_NEW] = RULE_DROP;
	c->policy[CT_ESTABLISHED] = RULE_ACCEPT;
	c->policy[CT_RELATED] = RULE_ACCEPT;
	c->policy[CT_INVALID] = RULE_DROP;
	c->facility = LOG_DAEMON;
	c->log_rate = 20;
	c->log_invalid = 1;
	config_sync_defaults(&c->sync);
}

static int
build(struct cfgctx *x, struct config *c)
{
	const struct scan_sec *s;
	size_t		 i, j, nrules = 0;

	for (i = 0; i < x->nsecs; i++)
		nrules += x->secs[i].is_rule;
	if (nrules > CONFIG_MAXRULES) {
		cfg_err(x, "more than %d rules", CONFIG_MAXRULES);
		return (-1);
	}
	if (nrules > 0 &&
	    ((c->rules = calloc(nrules, sizeof(*c->rules))) == NULL ||
	    (x->rsec = calloc(nrules, sizeof(*x->rsec))) == NULL ||
	    (x->never = calloc(nrules, sizeof(*x->never))) == NULL)) {
		cfg_err(x, "%s", strerror(errno));
		return (-1);
	}
	for (i = 0; i < x->nsecs; i++) {
		s = &x->secs[i];
		x->line = 0;
		if (s->is_rule) {
			struct rule *r = &c->rules[c->nrules];

			r->index = (uint32_t)c->nrules;
			x->rsec[r->index] = s;
			c->nrules++;	/* so that config_free() clears it */
			if (sec_rule(x, s, r) == -1)
				return (-1);
			continue;
		}
		for (j = 0; j < NPLAIN; j++)
			if (strcasecmp(s->orig, plain_sections[j].name) == 0)
				break;
		if (j == NPLAIN) {
			cfg_err(x, "[%s]: unknown section", s->orig);
			return (-1);
		}
		if (plain_sections[j].read(x, s, c) == -1)
			return (-1);
	}
	return (0);
}

/*
 * A mark goes on the packets a rule lets through and on their
 * connection: drop and reject let none through, but in mode = monitor,
 * which passes them marked, and there the mark acts.  Asked once the
 * whole file is read, as [daemon] may follow the rules.  A warning:
 * such files loaded before.
 */
static void
mark_warn(struct cfgctx *x, const struct config *c)
{
	const struct scan_sec	*s;
	const struct rule	*r;
	size_t			 i, k;

	if (c->mode == MODE_MONITOR)
		return;
	for (i = 0; i < c->nrules; i++) {
		r = &c->rules[i];
		if (!r->has_mark || r->action == RULE_ACCEPT)
			continue;
		s = x->rsec[i];
		x->line = s->line;
		for (k = 0; k < s->nkeys; k++)
			if (strcmp(s->keys[k].name, rule_keys[RK_MARK]) == 0)
				x->line = s->keys[k].line;
		cfg_warn(x, "[%s] mark: action = %s lets no packet through: "
		    "the mark never acts (it would in mode = monitor)",
		    s->orig, rule_action_name(r->action));
	}
	x->line = 0;
}

/*
 * Each held fragment waits in its worker's queue for its verdict: at
 * queue_maxlen held, the queue takes no other packet (dropped, or
 * passed unseen with fail_open).  Valid, but never what one wants.
 */
static void
frag_room(struct cfgctx *x, const struct config *c)
{
	if (c->frag.max_held < c->queue_maxlen)
		return;
	x->line = x->held_line != 0 ? x->held_line : x->maxlen_line;
	cfg_warn(x, "[conntrack] frag_max_held = %u is not below [daemon] "
	    "queue_maxlen = %u: held fragments can fill a queue",
	    c->frag.max_held, c->queue_maxlen);
}

/*
 * A rule that earlier rules shadow: they match every packet it would,
 * first, and decide it, and each connection a reload judges again
 * (ruleset_shadowed_by()).  Valid, and maybe meant for later, but it
 * does nothing.  The warning names the rules that decide its packets,
 * each the first match of some of them; a rule shadowed itself decides
 * none, and is not named.  The rules already warned of match nothing,
 * and are not asked.
 */

/* vsnprintf() at buf + off, nothing past len: the offset of the end,
   past len when cut, as snprintf() counts */
static size_t
fmt_at(char *buf, size_t len, size_t off, const char *fmt, ...)
{
	va_list		 ap;
	int		 n;

	va_start(ap, fmt);
	n = vsnprintf(off < len ? buf + off : NULL, off < len ? len - off : 0,
	    fmt, ap);
	va_end(ap);
	return (n < 0 ? off : off + (size_t)n);
}

/* The warning of rule i, decided by n rules, of which the first show
   (of by's) are named: "[rule a] at line 1, [rule b] at line 4 or
   [rule c] at line 9", or "... or 2 more".  Its length. */
static size_t
shadow_text(const struct cfgctx *x, char *buf, size_t len, size_t i,
    const struct rule *const *by, size_t n, size_t show)
{
	const struct scan_sec *s;
	size_t		 off, j;

	off = fmt_at(buf, len, 0, "[%s]: every packet it matches is decided "
	    "first by ", x->rsec[i]->orig);
	for (j = 0; j < show; j++) {
		s = x->rsec[by[j]->index];
		off = fmt_at(buf, len, off, "%s[%s] at line %d", j == 0 ? "" :
		    j + 1 < n ? ", " : " or ", s->orig, s->line);
	}
	if (show < n)
		off = fmt_at(buf, len, off, "%s%zu more", show == 0 ? "" :
		    " or ", n - show);
	return (fmt_at(buf, len, off, ": the rule never decides one"));
}

/* one rule fits, of the longest path and section names */
_Static_assert(CONFIG_WARNLEN > CONFIG_PATHLEN + 2 * (SECLEN + 30) + 100,
    "CONFIG_WARNLEN: a shadow warning");

/* As many of the rules as fit in a warning (CONFIG_WARNLEN, with the
   path and the line), the rest counted ("or 3 more"). */
static void
shadow_warn_one(struct cfgctx *x, size_t i, const struct rule *const *by,
    size_t n)
{
	char		 text[CONFIG_WARNLEN], l[32];
	size_t		 show = n < RULESET_UNION_MAX ? n : RULESET_UNION_MAX;
	size_t		 room;

	if (x->c->nwarn == CONFIG_MAXWARN) {
		x->c->warn_more++;	/* as cfg_warn() would: not kept */
		return;
	}
	x->line = x->rsec[i]->line;
	room = sizeof(text) - strlen(x->path) - 3 - (size_t)snprintf(l,
	    sizeof(l), " (line %d)", x->line);
	while (shadow_text(x, text, sizeof(text), i, by, n, show) > room &&
	    show > 1)
		show--;
	cfg_warn(x, "%s", text);
}

static void
shadow_warn(struct cfgctx *x, const struct config *c)
{
	const struct rule *by[RULESET_UNION_MAX];
	size_t		 i, n, work = 0;

	for (i = 0; i < c->nrules; i++) {
		if (x->never[i])
			continue;
		if ((n = ruleset_shadowed_by(c->ruleset, &c->rules[i], by,
		    RULESET_UNION_MAX, &work)) > 0)
			shadow_warn_one(x, i, by, n);
	}
	x->line = 0;
}

static struct config *
config_read(const char *path, int reload, char *err, size_t errlen)
{
	struct cfgctx	 x;
	struct config	*c = NULL;
	char		*buf = NULL, e[256];
	size_t		 len = 0, i;
	int		 ok = 0;

	memset(&x, 0, sizeof(x));
	x.path = path;
	x.reload = reload;
	x.err = err;
	x.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';

	if (strlen(path) >= CONFIG_PATHLEN) {
		cfg_err(&x, "path longer than %d characters",
		    CONFIG_PATHLEN - 1);
		return (NULL);
	}
	if ((buf = read_file(&x, &len)) == NULL || scan(&x, buf, len) == -1)
		goto out;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		cfg_err(&x, "%s", strerror(errno));
		goto out;
	}
	spi_strlcpy(c->path, path, sizeof(c->path));	/* checked on entry */
	config_defaults(c);
	x.c = c;
	if (build(&x, c) == -1)
		goto out;
	frag_room(&x, c);
	mark_warn(&x, c);
	x.line = 0;
	if ((c->ruleset = ruleset_compile(c->rules, c->nrules)) == NULL) {
		cfg_err(&x, "compiling the rules: %s", strerror(errno));
		goto out;
	}
	shadow_warn(&x, c);
	c->norule_states = (1u << CT_STATE_MAX) - 1;
	for (i = 0; i < c->nrules; i++)
		c->norule_states &= ~c->rules[i].states;
	if (c->http_allow == NULL && rule_parse_addrs(HTTP_ALLOW_DEFAULT,
	    &c->http_allow, e, sizeof(e)) == -1) {
		cfg_err(&x, "http_allow default: %s", e);
		goto out;
	}
	ok = 1;
 out:
	free(buf);
	free(x.keys);
	free(x.secs);
	free(x.seen);
	free(x.rsec);
	free(x.never);
	services_free(x.svc);
	if (!ok) {
		config_free(c);
		return (NULL);
	}
	return (c);
}

struct config *
config_load(const char *path, char *err, size_t errlen)
{
	return (config_read(path, 0, err, errlen));
}

struct config *
config_reload(const char *path, char *err, size_t errlen)
{
	return (config_read(path, 1, err, errlen));
}

/*
 * A user that does not exist passed nfqspid -n, and the start then
 * failed after binding its queues, at the switch: say so first.
 */
int
config_user_check(const struct config *c, char *err, size_t errlen)
{
	struct passwd	*pw;

	if (c->user[0] == '\0')
		return (0);
	errno = 0;
	if ((pw = getpwnam(c->user)) != NULL)
		return (0);
	snprintf(err, errlen, "%s: [daemon] user: \"%s\" is not a user of "
	    "this system%s%s (line %u)", c->path, c->user,
	    errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "",
	    c->user_line);
	return (-1);
}

void
config_free(struct config *c)
{
	size_t		 i;

	if (c == NULL)
		return;
	ruleset_free(c->ruleset);
	free(c->rule_from);
	for (i = 0; i < c->nrules; i++)
		rule_clear(&c->rules[i]);
	free(c->rules);
	rule_addrset_free(c->http_allow);
	auth_free(c->http_users);
	explicit_bzero(&c->sync.key, sizeof(c->sync.key));
	free(c);
}

int
config_map_rules(struct config *c, const struct config *old)
{
	uint32_t	*slot, h;
	size_t		 cap = 16, i, k;

	while (cap < 2 * old->nrules)
		cap *= 2;
	if ((c->rule_from = calloc(c->nrules ? c->nrules : 1,
	    sizeof(*c->rule_from))) == NULL)
		return (-1);
	if ((slot = calloc(cap, sizeof(*slot))) == NULL) {
		free(c->rule_from);
		c->rule_from = NULL;
		return (-1);
	}
	/* slot: old index + 1; names are unique within a file */
	for (i = 0; i < old->nrules; i++) {
		h = spi_name_hash(0, old->rules[i].name, 0);
		for (k = h & (cap - 1); slot[k] != 0; k = (k + 1) & (cap - 1))
			;
		slot[k] = (uint32_t)i + 1;
	}
	for (i = 0; i < c->nrules; i++) {
		c->rule_from[i] = SIZE_MAX;
		h = spi_name_hash(0, c->rules[i].name, 0);
		for (k = h & (cap - 1); slot[k] != 0; k = (k + 1) & (cap - 1))
			if (strcmp(old->rules[slot[k] - 1].name,
			    c->rules[i].name) == 0) {
				c->rule_from[i] = slot[k] - 1;
				break;
			}
	}
	free(slot);
	c->rule_from_cfg = old;
	return (0);
}
