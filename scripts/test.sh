#!/bin/sh
# test.sh - install what is needed, build, and run every test: unit
# (cmocka), end to end (pytest), both again under ASan+UBSan, a short
# libFuzzer run of every harness, and mandoc -Tlint of the man pages.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh test
make -j"$(nproc)" all
exec make check
