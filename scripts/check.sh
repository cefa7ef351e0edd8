#!/bin/bash
# check.sh - the test command of the README and of CI: install what is
# needed, build with warnings as errors, then
#   make check            unit tests, --replay goldens, man lint, and (as
#                         root) the network-namespace integration tests
#   make check-valgrind   the unit tests under valgrind
#   make fuzz-replay, make fuzz   the fuzzers over their corpora and past
#                         crashes, then 60 s each (FUZZ_SECONDS)
#   sanitizers            make check again, built with ASan and UBSan
#   make distcheck        the release tarball builds and passes from scratch
# Prints the test logs of whatever fails.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
top=$(pwd)

step()
{
	echo
	echo "==== $* ===="
}

# show_logs DIR...: the harness's summary log, which carries every failed
# test's own log.
show_logs()
{
	find "$@" -name test-suite.log -exec sh -c \
	    'for f; do echo "---- $f ----"; cat "$f"; done' sh {} + 2>/dev/null
}

# check_in DIR TARGET: make TARGET in DIR; on failure print the logs, exit 1.
check_in()
{
	if ! make -C "$1" -j"$JOBS" "$2"; then
		show_logs "$1"
		echo "check.sh: make $2 failed in $1" >&2
		exit 1
	fi
}

step "dependencies"
scripts/deps.sh

step "build (warnings are errors)"
autoreconf -fi
./configure --enable-werror
make -j"$JOBS"

step "make check"
check_in "$top" check

step "make check-valgrind"
check_in "$top" check-valgrind

# The fuzzers are built with clang apart from the build above: the
# corpora and past crashes first, then FUZZ_SECONDS (60) a target.
step "fuzzing: make fuzz-replay, make fuzz FUZZ_SECONDS=${FUZZ_SECONDS:-60}"
make -j"$JOBS" fuzz-replay
make fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-60}"

# The sanitizer build is made from the release tarball in its own tree:
# the source tree is configured already, and automake refuses a second,
# out-of-tree build of a configured tree.
step "sanitizer build: make check with -fsanitize=address,undefined"
rm -f nfqspid-*.tar.gz
make dist
rm -rf build-asan
mkdir build-asan
tar -xzf nfqspid-*.tar.gz -C build-asan --strip-components=1
(
	cd build-asan
	./configure --enable-sanitizers --enable-werror
	make -j"$JOBS"
) || { echo "check.sh: sanitizer build failed" >&2; exit 1; }
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    check_in build-asan check

step "make distcheck"
if ! make distcheck; then
	show_logs nfqspid-*/
	echo "check.sh: make distcheck failed" >&2
	exit 1
fi

step "all checks passed"
