#!/bin/sh
# run-fuzzer.sh FUZZER CORPUS WORKDIR SECONDS
# Runs a libFuzzer target from the committed seed corpus (read-only) plus a
# work corpus in the build tree, for SECONDS; any crash fails the test and
# leaves the reproducer in WORKDIR.
set -eu
fuzzer=$1 corpus=$2 work=$3 secs=$4
mkdir -p "$work/corpus"
[ -d "$corpus" ] || mkdir -p "$corpus"
exec "$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
	-print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" "$corpus"
