/*
 * auth.h - HTTP basic authentication for the status page
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * [daemon] http_auth names a file of "user:hash" lines, the hash made
 * by crypt(3) (libxcrypt: yescrypt, bcrypt, SHA-512 crypt; `mkpasswd`,
 * `htpasswd -B` or `openssl passwd -6` write one).  A hash libxcrypt
 * calls legacy or invalid (DES, MD5, htpasswd's default $apr1$) is an
 * error, not a weak door.  A password is checked by hashing it with the
 * stored setting and comparing the result in constant time; an unknown
 * user costs the same hash, so timing tells nothing about who exists.
 *
 * Hashing is slow on purpose and runs in the main thread, so a flood of
 * guesses must not take it over: at most AUTH_RATE hashes a second
 * (AUTH_BURST at once), over that AUTH_BUSY; and credentials that passed
 * are remembered (a keyed hash of them, never the password) for
 * AUTH_CACHE_MS, so a browser polling the page costs no hash at all.
 *
 * No I/O but reading the file (auth_load()); not thread-safe (one
 * handle, one thread).
 */
#ifndef NFQSPI_AUTH_H
#define NFQSPI_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_MAXFILE	(256 * 1024)	/* bytes of the file, at most */
#define AUTH_MAXUSERS	64		/* each costs a hash at load */
#define AUTH_MAXCRED	512		/* bytes of user:password */
#define AUTH_RATE	8		/* hashes a second */
#define AUTH_BURST	16
#define AUTH_CACHE	16		/* credentials remembered */
#define AUTH_CACHE_MS	(5 * 60 * 1000)

enum auth_result {
	AUTH_OK = 0,
	AUTH_DENIED,		/* no, wrong or malformed credentials */
	AUTH_BUSY		/* too many hashes this second: try later */
};

struct auth;

/*
 * The users of a file's text (len bytes; name for messages).  Lines are
 * "user:hash", "#" comments and blank lines.  Returns NULL with a message
 * naming the line in err.  The remembered credentials are keyed by key.
 */
struct auth	*auth_parse(const char *text, size_t len, const char *name,
		    const uint64_t key[2], char *err, size_t errlen);
/* Read and parse path, with a random key.  NULL with a message in err. */
struct auth	*auth_load(const char *path, char *err, size_t errlen);
void		 auth_free(struct auth *a);
size_t		 auth_users(const struct auth *a);

/*
 * Check an Authorization header's value ("Basic dXNlcjpwYXNz"; NULL
 * when there is none) at now_ms (a monotonic clock).  On AUTH_OK, *user
 * (if not NULL) names the user until the next call.
 */
enum auth_result auth_check(struct auth *a, const char *value,
		    uint64_t now_ms, const char **user);

/* base64 (RFC 4648, padded) of src: bytes written, or -1 if it is not
   base64 or does not fit in dst (dstlen) with a NUL after it. */
int		 auth_base64_decode(const char *src, char *dst, size_t dstlen);

#endif /* NFQSPI_AUTH_H */
