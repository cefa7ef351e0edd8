/*
 * test_auth.c - the status page's basic authentication
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <crypt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"

static const uint64_t	 key[2] = { 1, 2 };
static char		 err[256];

/* crypt(3)'s hash of pass with a fresh setting of this method. */
static char *
hash(const char *prefix, unsigned long cost, const char *pass)
{
	static char		 out[CRYPT_OUTPUT_SIZE];
	char			 setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data	 cd;

	assert_non_null(crypt_gensalt_rn(prefix, cost, NULL, 0, setting,
	    sizeof(setting)));
	memset(&cd, 0, sizeof(cd));
	assert_non_null(crypt_rn(pass, setting, &cd, sizeof(cd)));
	snprintf(out, sizeof(out), "%s", cd.output);
	return (out);
}

/* "Basic " and the base64 of s */
static const char *
basic(const char *s)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	    "qrstuvwxyz0123456789+/";
	static char	 out[1024];
	size_t		 n = strlen(s), i, o = 6;
	uint32_t	 v;

	memcpy(out, "Basic ", 6);
	for (i = 0; i < n; i += 3) {
		v = (uint32_t)(unsigned char)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)(unsigned char)s[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)s[i + 2];
		out[o++] = b64[v >> 18];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	out[o] = '\0';
	return (out);
}

static struct auth *
parse(const char *text)
{
	err[0] = '\0';
	return (auth_parse(text, strlen(text), "htpasswd", key, err,
	    sizeof(err)));
}

static void
test_check(void **state)
{
	char		 text[1024];
	struct auth	*a;
	const char	*user = NULL;
	uint64_t	 now = 1000;

	snprintf(text, sizeof(text), "# the page's users\r\n\nadmin:%s\r\n",
	    hash("$y$", 0, "s3cret"));
	snprintf(text + strlen(text), sizeof(text) - strlen(text),
	    "ops:%s\n", hash("$2b$", 4, "pa:ss word"));
	snprintf(text + strlen(text), sizeof(text) - strlen(text),
	    "old:%s", hash("$6$", 0, "x"));
	assert_non_null(a = parse(text));
	assert_int_equal(auth_users(a), 3);

	assert_int_equal(auth_check(a, basic("admin:s3cret"), now, &user),
	    AUTH_OK);
	assert_string_equal(user, "admin");
	assert_int_equal(auth_check(a, basic("ops:pa:ss word"), now, &user),
	    AUTH_OK);
	assert_string_equal(user, "ops");
	assert_int_equal(auth_check(a, basic("old:x"), now, NULL), AUTH_OK);

	assert_int_equal(auth_check(a, basic("admin:s3cre"), now, NULL),
	    AUTH_DENIED);
	assert_int_equal(auth_check(a, basic("admin:s3cret "), now, NULL),
	    AUTH_DENIED);
	assert_int_equal(auth_check(a, basic("admin:"), now, NULL),
	    AUTH_DENIED);
	assert_int_equal(auth_check(a, basic("ops:s3cret"), now, NULL),
	    AUTH_DENIED);
	assert_int_equal(auth_check(a, basic("nobody:s3cret"), now, NULL),
	    AUTH_DENIED);
	assert_int_equal(auth_check(a, basic("admins3cret"), now, NULL),
	    AUTH_DENIED);
	assert_int_equal(auth_check(a, NULL, now, NULL), AUTH_DENIED);
	assert_int_equal(auth_check(a, "Bearer abc", now, NULL), AUTH_DENIED);
	assert_int_equal(auth_check(a, "Basic", now, NULL), AUTH_DENIED);
	assert_int_equal(auth_check(a, "Basic !!!!", now, NULL), AUTH_DENIED);
	/* the scheme is case-insensitive (RFC 7617) */
	assert_int_equal(auth_check(a, "basic YWRtaW46czNjcmV0", now, NULL),
	    AUTH_OK);
	auth_free(a);
}

/* Guesses cost hashes up to the rate; known credentials cost none. */
static void
test_rate(void **state)
{
	char		 text[512];
	struct auth	*a;
	uint64_t	 now = 5000;
	int		 i;

	snprintf(text, sizeof(text), "admin:%s\n", hash("$2b$", 4, "pw"));
	assert_non_null(a = parse(text));
	/* one hash: remembered from now on */
	assert_int_equal(auth_check(a, basic("admin:pw"), now, NULL),
	    AUTH_OK);
	for (i = 1; i < AUTH_BURST; i++)
		assert_int_equal(auth_check(a, basic("admin:guess"), now,
		    NULL), AUTH_DENIED);
	assert_int_equal(auth_check(a, basic("admin:guess"), now, NULL),
	    AUTH_BUSY);
	assert_int_equal(auth_check(a, basic("admin:pw"), now, NULL),
	    AUTH_OK);
	/* the bucket refills at AUTH_RATE a second */
	now += 1000 / AUTH_RATE;
	assert_int_equal(auth_check(a, basic("admin:guess"), now, NULL),
	    AUTH_DENIED);
	assert_int_equal(auth_check(a, basic("admin:guess"), now, NULL),
	    AUTH_BUSY);
	/* remembered for AUTH_CACHE_MS, then hashed again */
	now += AUTH_CACHE_MS;
	assert_int_equal(auth_check(a, basic("admin:pw"), now, NULL),
	    AUTH_OK);
	auth_free(a);
}

static void
test_parse_errors(void **state)
{
	char		 text[512];
	static const char *const bad[][2] = {
		{ "", "no user:hash line" },
		{ "# nobody\n\n", "no user:hash line" },
		{ "admin\n", "line 1: not user:hash" },
		{ ":$6$abc$def\n", "line 1: not user:hash" },
		{ "a:$1$/shWCB8I$vq9EYXiSee6u0JZYOynfX.\n", "legacy" },
		{ "a:abJnggxhB/yWI\n", "legacy" },
		{ "a:$apr1$3RfUz.dQ$XwWxRjucV48u2ixPQk1Ot.\n", "htpasswd -B" },
		{ "a:plaintext\n", "in clear" },
		{ "a:$9$zzz\n", "not a hash" },
		{ "a:*\n", "not a hash" },
	};
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(parse(bad[i][0]));
		if (strstr(err, bad[i][1]) == NULL)
			fail_msg("\"%s\": %s", bad[i][0], err);
	}
	snprintf(text, sizeof(text), "a:%s\n# x\nb:$2b$04$x\n",
	    hash("$2b$", 4, "pw"));
	assert_null(parse(text));
	assert_non_null(strstr(err, "line 3: a hash cut short"));
	snprintf(text, sizeof(text), "a:%s\n", hash("$2b$", 4, "pw"));
	snprintf(text + strlen(text), sizeof(text) - strlen(text), "a:%s\n",
	    hash("$2b$", 4, "pw"));
	assert_null(parse(text));
	assert_non_null(strstr(err, "line 2: a user named twice"));
}

static void
test_load(void **state)
{
	char		 path[] = "/tmp/test_auth.XXXXXX", text[256];
	struct auth	*a;
	int		 fd;

	assert_null(auth_load("/nonexistent/htpasswd", err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));
	assert_null(auth_load("/tmp", err, sizeof(err)));
	assert_true((fd = mkstemp(path)) != -1);
	snprintf(text, sizeof(text), "admin:%s\n", hash("$2b$", 4, "pw"));
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_non_null(a = auth_load(path, err, sizeof(err)));
	assert_int_equal(auth_check(a, basic("admin:pw"), 1, NULL), AUTH_OK);
	assert_int_equal(auth_check(a, basic("admin:px"), 1, NULL),
	    AUTH_DENIED);
	auth_free(a);
	unlink(path);
}

static void
test_base64(void **state)
{
	char	 out[8];

	assert_int_equal(auth_base64_decode("YQ==", out, sizeof(out)), 1);
	assert_string_equal(out, "a");
	assert_int_equal(auth_base64_decode("YWI=", out, sizeof(out)), 2);
	assert_string_equal(out, "ab");
	assert_int_equal(auth_base64_decode("YWJj", out, sizeof(out)), 3);
	assert_int_equal(auth_base64_decode("YWJjZGVmZw==", out, sizeof(out)),
	    7);
	/* no room for the NUL */
	assert_int_equal(auth_base64_decode("YWJjZGVmZ2g=", out, sizeof(out)),
	    -1);
	assert_int_equal(auth_base64_decode("", out, sizeof(out)), -1);
	assert_int_equal(auth_base64_decode("YQ=", out, sizeof(out)), -1);
	assert_int_equal(auth_base64_decode("Y===", out, sizeof(out)), -1);
	assert_int_equal(auth_base64_decode("YQ==YQ==", out, sizeof(out)), -1);
	assert_int_equal(auth_base64_decode("Y=Q=", out, sizeof(out)), -1);
	assert_int_equal(auth_base64_decode("YW J", out, sizeof(out)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_base64),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
