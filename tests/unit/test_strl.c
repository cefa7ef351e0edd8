/*
 * test_strl.c - cmocka tests for strl.c (the bounded string copy)
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "strl.h"

/* A string that fits is copied whole and the result is its length. */
static void
test_fits(void **state)
{
	char	 buf[8];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(spi_strlcpy(buf, "abc", sizeof(buf)), 3);
	assert_string_equal(buf, "abc");
	/* Exactly size - 1 characters still fit. */
	assert_int_equal(spi_strlcpy(buf, "1234567", sizeof(buf)), 7);
	assert_string_equal(buf, "1234567");
	assert_int_equal(spi_strlcpy(buf, "", sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

/* A longer one is cut at size - 1, terminated, and reported as long. */
static void
test_truncates(void **state)
{
	char	 buf[9];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	/* Only the first 5 bytes are the destination; the rest must stay. */
	assert_int_equal(spi_strlcpy(buf, "12345678", 5), 8);
	assert_string_equal(buf, "1234");
	assert_int_equal(buf[5], 'x');
	assert_int_equal(buf[8], 'x');
	assert_true(spi_strlcpy(buf, "12345678", 8) >= 8);
	assert_string_equal(buf, "1234567");
}

/* Size 1 leaves an empty string; size 0 writes nothing. */
static void
test_tiny(void **state)
{
	char	 buf[2] = { 'x', 'y' };

	(void)state;
	assert_int_equal(spi_strlcpy(buf, "abc", 0), 3);
	assert_int_equal(buf[0], 'x');
	assert_int_equal(spi_strlcpy(buf, "abc", 1), 3);
	assert_int_equal(buf[0], '\0');
	assert_int_equal(buf[1], 'y');
}

/* Pieces written into a bounded buffer: the whole length counted, what
   fits kept and terminated, nothing written past len. */
static void
test_buf(void **state)
{
	struct spi_buf	 b;
	char		 buf[8];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	spi_buf_init(&b, buf, 6);
	assert_string_equal(buf, "");
	spi_bprintf(&b, "%s=%u", "ab", 12u);
	assert_int_equal(b.off, 5);
	assert_string_equal(buf, "ab=12");
	spi_bprintf(&b, " %s", "more");
	assert_int_equal(b.off, 10);
	assert_string_equal(buf, "ab=12");
	assert_int_equal(buf[6], 'x');
	spi_bprintf(&b, "!");
	assert_int_equal(b.off, 11);
	assert_string_equal(buf, "ab=12");
	/* no buffer at all: only the length */
	spi_buf_init(&b, NULL, 0);
	spi_bprintf(&b, "%d", 12345);
	assert_int_equal(b.off, 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fits),
		cmocka_unit_test(test_truncates),
		cmocka_unit_test(test_tiny),
		cmocka_unit_test(test_buf),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
