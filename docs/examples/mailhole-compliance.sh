#!/bin/sh
# mailhole-compliance.sh -- one periodic compliance run, archived, compared
# with the previous run, rendered for people (HTML) and for machines (JSON,
# JUnit, SARIF). Run it from cron or from the systemd timer beside it.
#
#   MAILHOLE_ARCHIVE  where runs are kept (default /var/lib/mailhole)
#   MAILHOLE_POLICY   the policy file (optional)
#   MAILHOLE_TARGETS  targets to sweep (optional: without them, this host's
#                     local audit only)
#   MAILHOLE_FAIL_ON  severity of a NEW finding that makes the run fail
#                     (default high)
#
# Archive naming: ARCHIVE/YYYY/MM/YYYY-MM-DDTHHMMSSZ-HOST.{json,html,xml,sarif}
# and ARCHIVE/latest.json -> the newest document. Exit status: that of
# `mailhole diff` (1 when something new at or above MAILHOLE_FAIL_ON
# appeared since the previous run), or 2/3 when a step failed.
set -eu
archive=${MAILHOLE_ARCHIVE:-/var/lib/mailhole}
fail_on=${MAILHOLE_FAIL_ON:-high}
mailhole=${MAILHOLE:-mailhole}
stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
host=$(hostname)
dir=$archive/$(date -u +%Y)/$(date -u +%m)
base=$dir/$stamp-$host
mkdir -p "$dir"

policy=""
[ -n "${MAILHOLE_POLICY:-}" ] && policy="--policy $MAILHOLE_POLICY"

# 1. gather: this host from inside, and the sweep when targets are given
# (exit 1 only means "findings"; the comparison below decides the run)
rc=0
"$mailhole" local -o "$base-local.json" --quiet || rc=$?
[ "$rc" -le 1 ] || exit "$rc"
inputs="$base-local.json"
if [ -n "${MAILHOLE_TARGETS:-}" ]; then
	rc=0
	# shellcheck disable=SC2086
	"$mailhole" scan $MAILHOLE_TARGETS $policy --quiet -o "$base-scan.json" || rc=$?
	[ "$rc" -le 1 ] || exit "$rc"
	inputs="$inputs $base-scan.json"
fi

# 2. one document for this run, rendered, compared with the previous one
previous=""
[ -e "$archive/latest.json" ] && previous=$(readlink -f "$archive/latest.json")
baseline=""
[ -n "$previous" ] && baseline="--baseline $previous"
rc=0
# shellcheck disable=SC2086
"$mailhole" report $inputs -o "$base.json" --html "$base.html" --junit "$base.xml" \
	--sarif "$base.sarif" $baseline --fail-on none || rc=$?
[ "$rc" -eq 0 ] || exit "$rc"
ln -sfn "$base.json" "$archive/latest.json"
if [ -n "$previous" ]; then
	exec "$mailhole" diff "$previous" "$base.json" --fail-on "$fail_on" -o "$base-diff.json"
fi
echo "mailhole: first run archived as $base.json"
