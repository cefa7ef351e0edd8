/*
 * config.c - read, validate and freeze /etc/nfqspi.ini
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The only file that knows about iniparser.  iniparser 4.1 is lenient in
 * ways a firewall cannot afford: it merges a section given twice, lets a
 * repeated key silently win, lowercases names, and rejects a comment after
 * a section header.  So the file is first read and checked line by line
 * here (which also gives line numbers for the errors), and iniparser is
 * handed a copy in which every section header stands alone.  Every value
 * is then copied out, validated and the dictionary freed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* memfd_create, open_memstream, reallocarray */
#endif

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include <iniparser.h>

#include "config.h"
#include "strl.h"

#define CONFIG_MAXSIZE	(4 * 1024 * 1024)
#define CONFIG_MAXLINE	1000	/* iniparser's lines are 1024 with \n */
#define CONFIG_MAXRULES	65535	/* rule index is 16 bits */
#define SECLEN		128
#define KEYLEN		64

struct scan_key {
	char		 name[KEYLEN];	/* lowercased */
	int		 line;
};

struct scan_sec {
	char		 orig[SECLEN];	/* as written, blanks stripped */
	char		 lc[SECLEN];	/* as iniparser names it */
	int		 line;
	int		 is_rule;
	struct scan_key	*keys;
	size_t		 nkeys, cap;
};

struct cfgctx {
	const char	*path;
	char		*err;
	size_t		 errlen;
	dictionary	*d;
	struct scan_sec	*secs;
	size_t		 nsecs, cap;
};

static void	 cfg_err(struct cfgctx *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
cfg_err(struct cfgctx *x, const char *fmt, ...)
{
	va_list		 ap;
	int		 n;

	if (x->err == NULL || x->errlen == 0)
		return;
	n = snprintf(x->err, x->errlen, "%s: ", x->path);
	if (n < 0 || (size_t)n >= x->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(x->err + n, x->errlen - (size_t)n, fmt, ap);
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

static const char *const plain_sections[] = {
	"daemon", "conntrack", "policy", "log", NULL
};

static struct scan_sec *
scan_section(struct cfgctx *x, char *line, int lineno)
{
	struct scan_sec	*s, *ns;
	char		*end, *inner, *rest, *name;
	size_t		 i, cap;
	int		 known = 0, is_rule = 0;

	end = strchr(line, ']');
	if (end == NULL) {
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
	for (i = 0; plain_sections[i] != NULL; i++)
		if (strcasecmp(inner, plain_sections[i]) == 0)
			known = 1;
	if (strncasecmp(inner, "rule", 4) == 0 &&
	    (inner[4] == '\0' || isspace((unsigned char)inner[4]))) {
		name = trim(inner + 4);
		if (!valid_rule_name(name)) {
			cfg_err(x, "[%s]: a rule needs a name of 1-%d letters, "
			    "digits, '-', '_' or '.' (line %d)", inner,
			    RULE_NAMELEN - 1, lineno);
			return (NULL);
		}
		known = is_rule = 1;
	}
	if (!known) {
		cfg_err(x, "[%s]: unknown section (line %d; expected daemon, "
		    "conntrack, policy, log or rule NAME)", inner, lineno);
		return (NULL);
	}

	for (i = 0; i < x->nsecs; i++) {
		s = &x->secs[i];
		if (is_rule && s->is_rule && strcasecmp(rule_name_of(s->orig),
		    rule_name_of(inner)) == 0) {
			cfg_err(x, "[%s]: duplicate rule name (lines %d and "
			    "%d)", inner, s->line, lineno);
			return (NULL);
		}
		if (!is_rule && strcasecmp(s->orig, inner) == 0) {
			cfg_err(x, "[%s]: section given twice (lines %d and "
			    "%d)", inner, s->line, lineno);
			return (NULL);
		}
	}
	if (x->nsecs == x->cap) {
		cap = x->cap ? x->cap * 2 : 16;
		if ((ns = reallocarray(x->secs, cap, sizeof(*ns))) == NULL) {
			cfg_err(x, "%s", strerror(errno));
			return (NULL);
		}
		x->secs = ns;
		x->cap = cap;
	}
	s = &x->secs[x->nsecs++];
	memset(s, 0, sizeof(*s));
	spi_strlcpy(s->orig, inner, sizeof(s->orig)); /* checked above */
	for (i = 0; inner[i] != '\0'; i++)
		s->lc[i] = (char)tolower((unsigned char)inner[i]);
	s->lc[i] = '\0';
	s->line = lineno;
	s->is_rule = is_rule;
	return (s);
}

static int
scan_key(struct cfgctx *x, struct scan_sec *s, char *line, int lineno)
{
	struct scan_key	*nk;
	char		*eq, *key, *val, *close;
	size_t		 i, cap;

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
	/* iniparser ignores what follows a closing quote: we do not */
	if (*val == '"' || *val == '\'') {
		close = strchr(val + 1, *val);
		if (close == NULL) {
			cfg_err(x, "[%s] %s: unterminated quote (line %d)",
			    s->orig, key, lineno);
			return (-1);
		}
		close = trim(close + 1);
		if (*close != '\0' && *close != ';' && *close != '#') {
			cfg_err(x, "[%s] %s: text after the closing quote "
			    "(line %d)", s->orig, key, lineno);
			return (-1);
		}
	}
	if (strlen(key) >= KEYLEN) {
		cfg_err(x, "[%s] %.20s...: unknown key (line %d)", s->orig,
		    key, lineno);
		return (-1);
	}
	for (i = 0; key[i] != '\0'; i++)
		key[i] = (char)tolower((unsigned char)key[i]);
	for (i = 0; i < s->nkeys; i++) {
		if (strcmp(s->keys[i].name, key) == 0) {
			cfg_err(x, "[%s] %s: given twice (lines %d and %d)",
			    s->orig, key, s->keys[i].line, lineno);
			return (-1);
		}
	}
	if (s->nkeys == s->cap) {
		cap = s->cap ? s->cap * 2 : 16;
		if ((nk = reallocarray(s->keys, cap, sizeof(*nk))) == NULL) {
			cfg_err(x, "%s", strerror(errno));
			return (-1);
		}
		s->keys = nk;
		s->cap = cap;
	}
	spi_strlcpy(s->keys[s->nkeys].name, key,
	    sizeof(s->keys[s->nkeys].name));	/* checked above */
	s->keys[s->nkeys].line = lineno;
	s->nkeys++;
	return (0);
}

/*
 * Check the structure of buf (len bytes) and write what iniparser is to
 * read to out: the same lines, comments blanked, section headers alone.
 */
static int
scan(struct cfgctx *x, char *buf, size_t len, FILE *out)
{
	struct scan_sec	*cur = NULL;
	char		*line, *next, *s;
	size_t		 llen;
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
		/* iniparser joins such a line with the next, even a comment */
		if (llen > 0 && s[llen - 1] == '\\') {
			cfg_err(x, "line %d: a line may not end with '\\' "
			    "(continuation lines are not supported)", lineno);
			return (-1);
		}
		if (*s == '\0' || *s == ';' || *s == '#') {
			fputc('\n', out);
			continue;
		}
		if (*s == '[') {
			if ((cur = scan_section(x, s, lineno)) == NULL)
				return (-1);
			fprintf(out, "[%s]\n", cur->orig);
			continue;
		}
		if (strchr(s, '=') == NULL) {
			cfg_err(x, "line %d: \"%s\" is neither [section], key = "
			    "value nor a comment", lineno, s);
			return (-1);
		}
		fprintf(out, "%s\n", s);
		if (scan_key(x, cur, s, lineno) == -1)
			return (-1);
	}
	return (0);
}

/* ---- reading the file and handing it to iniparser ---------------------- */

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

static int
ini_quiet(const char *fmt, ...)
{
	return (0);
}

/*
 * iniparser 4.1 reads only named files: give it a memory file holding the
 * normalised text.
 */
static int
ini_load(struct cfgctx *x, const char *text, size_t len)
{
	char		 fdpath[64];
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd;

	if ((fd = memfd_create("nfqspi.ini", MFD_CLOEXEC)) == -1) {
		cfg_err(x, "memfd_create: %s", strerror(errno));
		return (-1);
	}
	while (off < len) {
		n = write(fd, text + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			cfg_err(x, "memfd write: %s", strerror(errno));
			close(fd);
			return (-1);
		}
		off += (size_t)n;
	}
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
	iniparser_set_error_callback(ini_quiet);
	x->d = iniparser_load(fdpath);
	iniparser_set_error_callback(NULL);
	close(fd);
	if (x->d == NULL) {
		cfg_err(x, "iniparser could not read the file (through %s)",
		    fdpath);
		return (-1);
	}
	return (0);
}

/* Both readers must have seen the same sections and keys. */
static int
ini_agree(struct cfgctx *x)
{
	size_t		 i;

	if (iniparser_getnsec(x->d) != (int)x->nsecs) {
		cfg_err(x, "iniparser found %d sections, not %zu",
		    iniparser_getnsec(x->d), x->nsecs);
		return (-1);
	}
	for (i = 0; i < x->nsecs; i++) {
		if (iniparser_getsecnkeys(x->d, x->secs[i].lc) !=
		    (int)x->secs[i].nkeys) {
			cfg_err(x, "[%s]: iniparser found %d keys, not %zu",
			    x->secs[i].orig, iniparser_getsecnkeys(x->d,
			    x->secs[i].lc), x->secs[i].nkeys);
			return (-1);
		}
	}
	return (0);
}

/* The value of key in section s, copied; NULL only on internal trouble. */
static int
ini_value(struct cfgctx *x, const struct scan_sec *s, const char *key,
    char *buf, size_t len)
{
	char		 k[SECLEN + KEYLEN + 2];
	const char	*v;

	snprintf(k, sizeof(k), "%s:%s", s->lc, key);
	if ((v = iniparser_getstring(x->d, k, NULL)) == NULL) {
		cfg_err(x, "[%s] %s: iniparser lost the value", s->orig, key);
		return (-1);
	}
	if (spi_strlcpy(buf, v, len) >= len) {
		cfg_err(x, "[%s] %s: value too long", s->orig, key);
		return (-1);
	}
	return (0);
}

/* ---- values ------------------------------------------------------------ */

static int
parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	uint64_t	 n = 0;

	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] != '\0'))
		return (-1);
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return (-1);
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > max)
			return (-1);
	}
	if (n < min)
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
	char		 addr[INET6_ADDRSTRLEN + 1];
	unsigned char	 bin[16];
	const char	*colon, *a;
	uint64_t	 port;
	size_t		 alen;
	int		 af;

	if (*v == '\0') {
		out[0] = '\0';
		return (0);
	}
	if (v[0] == '[') {
		if ((colon = strstr(v, "]:")) == NULL)
			goto bad;
		a = v + 1;
		alen = (size_t)(colon - a);
		colon++;
		af = AF_INET6;
	} else {
		if ((colon = strrchr(v, ':')) == NULL)
			goto bad;
		a = v;
		alen = (size_t)(colon - a);
		af = AF_INET;
	}
	if (alen == 0 || alen >= sizeof(addr))
		goto bad;
	memcpy(addr, a, alen);
	addr[alen] = '\0';
	if (inet_pton(af, addr, bin) != 1)
		goto bad;
	if (parse_uint(colon + 1, 1, 65535, &port) == -1)
		goto bad;
	if (spi_strlcpy(out, v, len) >= len)
		goto bad;
	return (0);
 bad:
	cfg_err(x, "[%s] http: \"%s\" is not ADDRESS:PORT (an IPv4 address "
	    "or [IPv6 address], port 1-65535), nor empty", s->orig, v);
	return (-1);
}

/* ---- sections ---------------------------------------------------------- */

#define VALLEN	(CONFIG_MAXLINE + 1)

enum dkey {
	DK_QUEUE, DK_THREADS, DK_FAIL_OPEN, DK_QUEUE_MAXLEN, DK_MODE, DK_USER,
	DK_PIDFILE, DK_CONTROL, DK_HTTP, DK_HTTP_ALLOW
};
static const char *const daemon_keys[] = {
	"queue", "threads", "fail_open", "queue_maxlen", "mode", "user",
	"pidfile", "control", "http", "http_allow", NULL
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
	cfg_err(x, "[%s] %s: unknown key (line %d)", s->orig, k->name,
	    k->line);
	return (-1);
}

static int
sec_daemon(struct cfgctx *x, const struct scan_sec *s, struct config *c)
{
	char		 v[VALLEN];
	uint64_t	 n;
	size_t		 i;
	int		 threads_line = 0;

	for (i = 0; i < s->nkeys; i++) {
		const struct scan_key *k = &s->keys[i];
		int	 id = find_key(daemon_keys, k->name);

		if (id == -1)
			return (unknown_key(x, s, k));
		if (ini_value(x, s, k->name, v, sizeof(v)) == -1)
			return (-1);
		switch (id) {
		case DK_QUEUE:
			if (val_uint(x, s, k->name, v, 0, 65535, &n) == -1)
				return (-1);
			c->queue = (uint16_t)n;
			break;
		case DK_THREADS:
			if (val_uint(x, s, k->name, v, 1, 64, &n) == -1)
				return (-1);
			c->threads = (uint16_t)n;
			threads_line = 1;
			break;
		case DK_FAIL_OPEN:
			if (val_bool(x, s, k->name, v, &c->fail_open) == -1)
				return (-1);
			break;
		case DK_QUEUE_MAXLEN:
			if (val_uint(x, s, k->name, v, 1, 2147483647, &n) ==
			    -1)
				return (-1);
			c->queue_maxlen = (uint32_t)n;
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
		default:
			return (-1);
		}
	}
	if ((uint32_t)c->queue + c->threads - 1 > 65535) {
		cfg_err(x, "[%s] %s: queues %u to %u: the last is past 65535",
		    s->orig, threads_line ? "threads" : "queue", c->queue,
		    (uint32_t)c->queue + c->threads - 1);
		return (-1);
	}
	return (0);
}

#define CT_MAX_MAX	67108864u	/* 64 Mi connections */

static int
sec_conntrack(struct cfgctx *x, const struct scan_sec *s, struct config *c)
{
	char		 v[VALLEN];
	uint64_t	 n;
	size_t		 i;
	int		 t;

	for (i = 0; i < s->nkeys; i++) {
		const struct scan_key *k = &s->keys[i];

		if (ini_value(x, s, k->name, v, sizeof(v)) == -1)
			return (-1);
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
		for (t = 0; t < CT_TO_MAX; t++)
			if (strcmp(k->name, ct_timeout_defs[t].key) == 0)
				break;
		if (t == CT_TO_MAX)
			return (unknown_key(x, s, k));
		if (val_uint(x, s, k->name, v, 1, CT_TIMEOUT_MAX, &n) == -1)
			return (-1);
		c->ct.timeout[t] = (uint32_t)n;
	}
	return (0);
}

static int
sec_policy(struct cfgctx *x, const struct scan_sec *s, struct config *c)
{
	char		 v[VALLEN], e[256];
	size_t		 i;
	int		 st;

	for (i = 0; i < s->nkeys; i++) {
		const struct scan_key *k = &s->keys[i];

		for (st = 0; st < CT_STATE_MAX; st++)
			if (strcasecmp(k->name, rule_state_name(st)) == 0)
				break;
		if (st == CT_STATE_MAX)
			return (unknown_key(x, s, k));
		if (ini_value(x, s, k->name, v, sizeof(v)) == -1)
			return (-1);
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

static int
sec_log(struct cfgctx *x, const struct scan_sec *s, struct config *c)
{
	char		 v[VALLEN], e[256];
	uint64_t	 n;
	uint32_t	 r;
	size_t		 i, f;

	for (i = 0; i < s->nkeys; i++) {
		const struct scan_key *k = &s->keys[i];

		if (ini_value(x, s, k->name, v, sizeof(v)) == -1)
			return (-1);
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
	char		*res = NULL, *copy, *el, *next, *end;
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
		while (isspace((unsigned char)*el))
			el++;
		end = el + strlen(el);
		while (end > el && isspace((unsigned char)end[-1]))
			*--end = '\0';
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

static int
sec_rule(struct cfgctx *x, const struct scan_sec *s, struct rule *r)
{
	char		*vals[RK_MAX] = { NULL };
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
		if ((vals[id] = malloc(VALLEN)) == NULL) {
			cfg_err(x, "%s", strerror(errno));
			goto out;
		}
		if (ini_value(x, s, s->keys[i].name, vals[id], VALLEN) == -1)
			goto out;
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
		cfg_err(x, "[%s] %s: %s", s->orig, rule_keys[k], e);	\
		goto out;						\
	} while (0)

	/* proto first: icmp_type, tcp_flags and ports depend on it */
	if (vals[RK_PROTO] && rule_parse_proto(vals[RK_PROTO], &r->has_proto,
	    &r->proto, e, sizeof(e)) == -1)
		RULE_ERR(RK_PROTO);
	if (vals[RK_ACTION] == NULL) {
		cfg_err(x, "[%s] action: missing (accept, drop or reject)",
		    s->orig);
		goto out;
	}
	if (rule_parse_action(vals[RK_ACTION], &r->action, e, sizeof(e)) == -1)
		RULE_ERR(RK_ACTION);
	if (vals[RK_STATE] && rule_parse_states(vals[RK_STATE], &r->states, e,
	    sizeof(e)) == -1)
		RULE_ERR(RK_STATE);
	if (vals[RK_SRC] && rule_addrs(x, s, "src", vals[RK_SRC],
	    &r->src) == -1)
		goto out;
	if (vals[RK_DST] && rule_addrs(x, s, "dst", vals[RK_DST],
	    &r->dst) == -1)
		goto out;
	if (vals[RK_SPORT] && rule_parse_ports(vals[RK_SPORT], &r->sport, e,
	    sizeof(e)) == -1)
		RULE_ERR(RK_SPORT);
	if (vals[RK_DPORT] && rule_parse_ports(vals[RK_DPORT], &r->dport, e,
	    sizeof(e)) == -1)
		RULE_ERR(RK_DPORT);
	if ((r->sport || r->dport) && r->has_proto &&
	    r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP) {
		snprintf(e, sizeof(e), "ports need proto = tcp, udp or any");
		RULE_ERR(r->dport ? RK_DPORT : RK_SPORT);
	}
	if (vals[RK_IN] && rule_parse_ifaces(vals[RK_IN], r->in, &r->nin, e,
	    sizeof(e)) == -1)
		RULE_ERR(RK_IN);
	if (vals[RK_OUT] && rule_parse_ifaces(vals[RK_OUT], r->out, &r->nout,
	    e, sizeof(e)) == -1)
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
#undef RULE_ERR
	ret = 0;
 out:
	for (i = 0; i < RK_MAX; i++)
		free(vals[i]);
	return (ret);
}

/* ---- the whole file ---------------------------------------------------- */

static void
config_defaults(struct config *c)
{
	c->queue = 0;
	c->threads = 1;
	c->fail_open = 1;
	c->queue_maxlen = 4096;
	c->mode = MODE_ENFORCE;
	c->user[0] = '\0';
	spi_strlcpy(c->pidfile, "/run/nfqspid.pid", sizeof(c->pidfile));
	spi_strlcpy(c->control, "/run/nfqspid.sock", sizeof(c->control));
	c->http[0] = '\0';
	ct_config_defaults(&c->ct);
	c->policy[CT_NEW] = RULE_DROP;
	c->policy[CT_ESTABLISHED] = RULE_ACCEPT;
	c->policy[CT_RELATED] = RULE_ACCEPT;
	c->policy[CT_INVALID] = RULE_DROP;
	c->facility = LOG_DAEMON;
	c->log_rate = 20;
	c->log_invalid = 1;
}

static int
build(struct cfgctx *x, struct config *c)
{
	const struct scan_sec *s;
	size_t		 i, nrules = 0;

	for (i = 0; i < x->nsecs; i++)
		nrules += x->secs[i].is_rule;
	if (nrules > CONFIG_MAXRULES) {
		cfg_err(x, "more than %d rules", CONFIG_MAXRULES);
		return (-1);
	}
	if (nrules > 0 &&
	    (c->rules = calloc(nrules, sizeof(*c->rules))) == NULL) {
		cfg_err(x, "%s", strerror(errno));
		return (-1);
	}
	for (i = 0; i < x->nsecs; i++) {
		s = &x->secs[i];
		if (s->is_rule) {
			struct rule *r = &c->rules[c->nrules];

			r->index = (uint16_t)c->nrules;
			c->nrules++;	/* so that config_free() clears it */
			if (sec_rule(x, s, r) == -1)
				return (-1);
		} else if (strcmp(s->lc, "daemon") == 0) {
			if (sec_daemon(x, s, c) == -1)
				return (-1);
		} else if (strcmp(s->lc, "conntrack") == 0) {
			if (sec_conntrack(x, s, c) == -1)
				return (-1);
		} else if (strcmp(s->lc, "policy") == 0) {
			if (sec_policy(x, s, c) == -1)
				return (-1);
		} else if (strcmp(s->lc, "log") == 0) {
			if (sec_log(x, s, c) == -1)
				return (-1);
		} else {
			cfg_err(x, "[%s]: unknown section", s->orig);
			return (-1);
		}
	}
	return (0);
}

struct config *
config_load(const char *path, char *err, size_t errlen)
{
	struct cfgctx	 x;
	struct config	*c = NULL;
	char		*buf = NULL, *norm = NULL, e[256];
	size_t		 len = 0, normlen = 0, i;
	FILE		*out = NULL;
	int		 ok = 0;

	memset(&x, 0, sizeof(x));
	x.path = path;
	x.err = err;
	x.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';

	if (strlen(path) >= CONFIG_PATHLEN) {
		cfg_err(&x, "path longer than %d characters",
		    CONFIG_PATHLEN - 1);
		return (NULL);
	}
	if ((buf = read_file(&x, &len)) == NULL)
		goto out;
	if ((out = open_memstream(&norm, &normlen)) == NULL) {
		cfg_err(&x, "%s", strerror(errno));
		goto out;
	}
	if (scan(&x, buf, len, out) == -1)
		goto out;
	if (fclose(out) != 0) {
		out = NULL;
		cfg_err(&x, "%s", strerror(errno));
		goto out;
	}
	out = NULL;
	if (ini_load(&x, norm, normlen) == -1 || ini_agree(&x) == -1)
		goto out;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		cfg_err(&x, "%s", strerror(errno));
		goto out;
	}
	spi_strlcpy(c->path, path, sizeof(c->path));	/* checked on entry */
	config_defaults(c);
	if (build(&x, c) == -1)
		goto out;
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
	if (out != NULL)
		fclose(out);
	free(norm);
	free(buf);
	if (x.d != NULL)
		iniparser_freedict(x.d);
	for (i = 0; i < x.nsecs; i++)
		free(x.secs[i].keys);
	free(x.secs);
	if (!ok) {
		config_free(c);
		return (NULL);
	}
	return (c);
}

void
config_free(struct config *c)
{
	size_t		 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nrules; i++)
		rule_clear(&c->rules[i]);
	free(c->rules);
	rule_addrset_free(c->http_allow);
	free(c);
}
