/*
 * auth.c - HTTP basic authentication for the status page
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * See auth.h.  The hashing is libxcrypt's (crypt_rn, crypt_checksalt):
 * nothing here is cryptography but the constant-time comparison.
 */
#include <sys/types.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "auth.h"
#include "siphash.h"

struct auth_user {
	char		*name;
	char		*hash;		/* crypt(3)'s "$y$...", the setting */
};

struct auth_seen {
	uint64_t	 h[2];		/* keyed hashes of user:password */
	uint64_t	 until_ms;	/* 0: empty */
	size_t		 user;
};

struct auth {
	struct auth_user *u;
	size_t		 n;
	uint64_t	 key[2][2];
	struct auth_seen seen[AUTH_CACHE];
	uint64_t	 last_ms;	/* the bucket's last refill */
	uint64_t	 tokens;	/* thousandths of a hash */
	struct crypt_data *cd;		/* 32 KiB: one, reused */
};

static struct auth *
auth_fail(struct auth *a, char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	auth_free(a);
	return (NULL);
}

void
auth_free(struct auth *a)
{
	size_t	 i;

	if (a == NULL)
		return;
	for (i = 0; i < a->n; i++) {
		free(a->u[i].name);
		free(a->u[i].hash);
	}
	free(a->u);
	if (a->cd != NULL)
		explicit_bzero(a->cd, sizeof(*a->cd));
	free(a->cd);
	explicit_bzero(a, sizeof(*a));
	free(a);
}

size_t
auth_users(const struct auth *a)
{
	return (a->n);
}

/* One "user:hash" line (no newline), checked. */
static const char *
auth_line(struct auth *a, const char *p, size_t len)
{
	const char	*colon, *out;
	size_t		 i;

	if ((colon = memchr(p, ':', len)) == NULL || colon == p)
		return ("not user:hash");
	if (memchr(p, '\0', len) != NULL)
		return ("a NUL byte");
	if (len - (size_t)(colon - p) - 1 >= CRYPT_OUTPUT_SIZE)
		return ("a hash too long for crypt(3)");
	if (a->n == AUTH_MAXUSERS)
		return ("too many users");
	if ((a->u[a->n].name = strndup(p, (size_t)(colon - p))) == NULL ||
	    (a->u[a->n].hash = strndup(colon + 1,
	    len - (size_t)(colon - p) - 1)) == NULL) {
		free(a->u[a->n].name);
		a->u[a->n].name = NULL;
		return ("out of memory");
	}
	a->n++;
	for (i = 0; i + 1 < a->n; i++)
		if (strcmp(a->u[i].name, a->u[a->n - 1].name) == 0)
			return ("a user named twice");
	switch (crypt_checksalt(a->u[a->n - 1].hash)) {
	case CRYPT_SALT_OK:
		break;
	case CRYPT_SALT_METHOD_LEGACY:
		return ("a weak, legacy hash (DES, MD5, SHA-256) or a "
		    "password in clear: use yescrypt, bcrypt or SHA-512 "
		    "crypt");
	default:
		return ("not a hash crypt(3) knows (htpasswd's default "
		    "$apr1$ is not: use htpasswd -B)");
	}
	/* A known method, but is the hash whole?  Hash once and see. */
	memset(a->cd, 0, sizeof(*a->cd));
	out = crypt_rn("", a->u[a->n - 1].hash, a->cd, sizeof(*a->cd));
	if (out == NULL || out[0] == '*' ||
	    strlen(out) != strlen(a->u[a->n - 1].hash))
		return ("a hash cut short or malformed");
	return (NULL);
}

struct auth *
auth_parse(const char *text, size_t len, const char *name,
    const uint64_t key[2], char *err, size_t errlen)
{
	struct auth	*a;
	const char	*p = text, *end = text + len, *nl, *why;
	size_t		 l, lineno = 0;

	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->u = calloc(AUTH_MAXUSERS, sizeof(*a->u))) == NULL ||
	    (a->cd = calloc(1, sizeof(*a->cd))) == NULL)
		return (auth_fail(a, err, errlen, "%s: out of memory", name));
	a->key[0][0] = key[0];
	a->key[0][1] = key[1];
	a->key[1][0] = key[0] ^ 0x9e3779b97f4a7c15ULL;
	a->key[1][1] = key[1] ^ 0xc2b2ae3d27d4eb4fULL;
	a->tokens = AUTH_BURST * 1000;
	while (p < end) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		l = (size_t)((nl != NULL ? nl : end) - p);
		if (l > 0 && p[l - 1] == '\r')
			l--;
		if (l > 0 && p[0] != '#' && (why = auth_line(a, p, l)) != NULL)
			return (auth_fail(a, err, errlen, "%s line %zu: %s",
			    name, lineno, why));
		p = nl != NULL ? nl + 1 : end;
	}
	if (a->n == 0)
		return (auth_fail(a, err, errlen, "%s: no user:hash line",
		    name));
	return (a);
}

struct auth *
auth_load(const char *path, char *err, size_t errlen)
{
	struct auth	*a;
	struct stat	 st;
	uint64_t	 key[2];
	char		*buf;
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return (NULL);
	}
	if (!S_ISREG(st.st_mode) || st.st_size > AUTH_MAXFILE) {
		snprintf(err, errlen, "%s: not a file of at most %d bytes",
		    path, AUTH_MAXFILE);
		close(fd);
		return (NULL);
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		close(fd);
		return (NULL);
	}
	while (off < (size_t)st.st_size && (n = read(fd, buf + off,
	    (size_t)st.st_size - off)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			free(buf);
			return (NULL);
		}
		off += (size_t)n;
	}
	close(fd);
	if (getrandom(key, sizeof(key), 0) != sizeof(key)) {
		snprintf(err, errlen, "%s: no random bytes: %s", path,
		    strerror(errno));
		free(buf);
		return (NULL);
	}
	a = auth_parse(buf, off, path, key, err, errlen);
	explicit_bzero(buf, off);
	free(buf);
	explicit_bzero(key, sizeof(key));
	return (a);
}

static int
b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (c - '0' + 52);
	if (c == '+')
		return (62);
	if (c == '/')
		return (63);
	return (-1);
}

int
auth_base64_decode(const char *src, char *dst, size_t dstlen)
{
	size_t		 len = strlen(src), i, o = 0;
	uint32_t	 acc;
	int		 j, v, pad;

	if (len == 0 || len % 4 != 0)
		return (-1);
	for (i = 0; i < len; i += 4) {
		acc = 0;
		pad = 0;
		for (j = 0; j < 4; j++) {
			/* "=" only at the end: "xx==" or "xxx=" */
			if (src[i + j] == '=' && i + 4 == len && j >= 2 &&
			    (j == 3 || src[i + 3] == '=')) {
				pad++;
				v = 0;
			} else if (pad > 0 || (v = b64_value(src[i + j])) < 0)
				return (-1);
			acc = acc << 6 | (uint32_t)v;
		}
		if (o + 3 - (size_t)pad >= dstlen)
			return (-1);
		dst[o++] = (char)(acc >> 16);
		if (pad < 2)
			dst[o++] = (char)(acc >> 8 & 0xff);
		if (pad < 1)
			dst[o++] = (char)(acc & 0xff);
	}
	dst[o] = '\0';
	return ((int)o);
}

/* The two keyed hashes of the credentials (n bytes at cred). */
static void
auth_mac(const struct auth *a, const char *cred, size_t n, uint64_t h[2])
{
	uint64_t	 w[AUTH_MAXCRED / 8 + 2];
	size_t		 nw = n / 8 + 2;

	memset(w, 0, sizeof(w));
	memcpy(w, cred, n);
	w[nw - 1] = n;		/* "ab" and "ab\0" differ */
	h[0] = siphash13(a->key[0], w, (int)nw);
	h[1] = siphash13(a->key[1], w, (int)nw);
	explicit_bzero(w, sizeof(w));
}

/* Equal strings, in a time that depends on b's length only. */
static int
auth_equal(const char *a, const char *b)
{
	size_t		 la = strlen(a), lb = strlen(b), i;
	unsigned char	 d = la != lb;

	for (i = 0; i < lb; i++)
		d |= (unsigned char)(a[i < la ? i : 0] ^ b[i]);
	return (d == 0);
}

/* May we hash now?  A token bucket of AUTH_RATE a second. */
static int
auth_take(struct auth *a, uint64_t now_ms)
{
	uint64_t	 add = (now_ms - a->last_ms) * AUTH_RATE;

	if (now_ms < a->last_ms)
		add = 0;
	a->last_ms = now_ms;
	a->tokens = a->tokens + add > AUTH_BURST * 1000 ?
	    AUTH_BURST * 1000 : a->tokens + add;
	if (a->tokens < 1000)
		return (0);
	a->tokens -= 1000;
	return (1);
}

/* Hash pass with user i's setting (or the first user's, for a user we
   do not have) and compare. */
static int
auth_verify(struct auth *a, size_t i, const char *pass)
{
	const char	*setting = a->u[i < a->n ? i : 0].hash;
	const char	*out;

	memset(a->cd, 0, sizeof(*a->cd));
	out = crypt_rn(pass, setting, a->cd, sizeof(*a->cd));
	return (out != NULL && out[0] != '*' && i < a->n &&
	    auth_equal(out, setting));
}

enum auth_result
auth_check(struct auth *a, const char *value, uint64_t now_ms,
    const char **user)
{
	char		 cred[AUTH_MAXCRED + 1], *colon;
	uint64_t	 h[2];
	size_t		 i, old = 0;
	int		 n, ok;

	if (value == NULL || strncasecmp(value, "Basic ", 6) != 0)
		return (AUTH_DENIED);
	value += 6;
	value += strspn(value, " ");
	if ((n = auth_base64_decode(value, cred, sizeof(cred))) < 0 ||
	    memchr(cred, '\0', (size_t)n) != NULL ||
	    (colon = strchr(cred, ':')) == NULL)
		return (AUTH_DENIED);
	auth_mac(a, cred, (size_t)n, h);
	for (i = 0; i < AUTH_CACHE; i++) {
		struct auth_seen *s = &a->seen[i];

		if (s->until_ms > now_ms && s->h[0] == h[0] &&
		    s->h[1] == h[1]) {
			explicit_bzero(cred, sizeof(cred));
			if (user != NULL)
				*user = a->u[s->user].name;
			return (AUTH_OK);
		}
		if (s->until_ms < a->seen[old].until_ms)
			old = i;
	}
	if (!auth_take(a, now_ms)) {
		explicit_bzero(cred, sizeof(cred));
		return (AUTH_BUSY);
	}
	*colon = '\0';
	for (i = 0; i < a->n; i++)
		if (strcmp(a->u[i].name, cred) == 0)
			break;
	ok = auth_verify(a, i, colon + 1);
	explicit_bzero(cred, sizeof(cred));
	if (!ok)
		return (AUTH_DENIED);
	a->seen[old].h[0] = h[0];
	a->seen[old].h[1] = h[1];
	a->seen[old].until_ms = now_ms + AUTH_CACHE_MS;
	a->seen[old].user = i;
	if (user != NULL)
		*user = a->u[i].name;
	return (AUTH_OK);
}
