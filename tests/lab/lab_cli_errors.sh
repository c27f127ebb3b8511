#!/bin/bash
# lab_cli_errors.sh MAILHOLE [BUILD_DIR] -- bad usage and bad input: exit 2
# and exactly one line on stderr that names the input (CONTRACT.md).
#
# Needs no namespace of its own, never skips. Every run of mailhole is shut
# in an empty network namespace (unshare --net, or unshare -rn without root)
# so that even a mailhole that wrongly went ahead could not send a packet.
# Without either, the cases whose arguments hold a routable address are not
# run (and said so).
set -u

MAILHOLE=${1:?usage: lab_cli_errors.sh MAILHOLE [BUILD_DIR]}
case $MAILHOLE in /*) ;; *) MAILHOLE=$PWD/$MAILHOLE ;; esac
if [ ! -x "$MAILHOLE" ]; then
	echo "FAIL: no mailhole binary at $MAILHOLE"
	exit 1
fi

WORK=$(mktemp -d /tmp/mhl-cli.XXXXXX) || exit 1
trap 'rm -rf -- "$WORK"' EXIT

ISO=()
if [ "$(id -u)" = 0 ] && unshare --net true 2>/dev/null; then
	ISO=(unshare --net)
elif unshare -rn true 2>/dev/null; then
	ISO=(unshare -rn)
else
	echo "NOTE: cannot make an empty network namespace; cases with routable addresses are not run"
fi

FAILS=0
RUN=0

# expect2 NAME NEEDS_ISOLATION PATTERN... -- ARGS...
#   mailhole ARGS must exit 2 with exactly one line on stderr that contains
#   every PATTERN (fixed strings; a pattern "~RE" is an extended regex,
#   case-insensitive).
expect2() {
	local name=$1 iso=$2
	shift 2
	local pats=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		pats+=("$1")
		shift
	done
	shift
	if [ "$iso" = 1 ] && [ ${#ISO[@]} -eq 0 ]; then
		echo "NOT RUN: $name (mailhole $*): no network isolation"
		return
	fi
	RUN=$((RUN + 1))
	local rc err nlines p ok=1
	timeout 20 "${ISO[@]}" "$MAILHOLE" "$@" </dev/null >"$WORK/out" 2>"$WORK/err"
	rc=$?
	err=$(cat "$WORK/err")
	nlines=$(wc -l <"$WORK/err")
	if [ "$rc" != 2 ]; then
		echo "FAIL: $name: mailhole $* exited $rc, want 2"
		ok=0
	fi
	# exactly one line: one newline, at the end, and something before it
	if [ "$nlines" != 1 ] || [ "$(tail -c 1 "$WORK/err" | od -An -c | tr -d ' ')" != '\n' ] ||
		[ -z "$err" ]; then
		echo "FAIL: $name: mailhole $*: stderr should be exactly one line, is $nlines line(s)"
		ok=0
	fi
	for p in "${pats[@]}"; do
		case $p in
		~*)
			grep -qiE -- "${p#\~}" "$WORK/err" || {
				echo "FAIL: $name: mailhole $*: stderr does not match /${p#\~}/"
				ok=0
			}
			;;
		*)
			grep -qF -- "$p" "$WORK/err" || {
				echo "FAIL: $name: mailhole $*: stderr does not contain \"$p\""
				ok=0
			}
			;;
		esac
	done
	if [ "$ok" = 1 ]; then
		echo "ok: $name: $(head -n 1 "$WORK/err")"
	else
		FAILS=$((FAILS + 1))
		sed 's/^/      stderr: /' "$WORK/err" | head -n 10
	fi
}

# A targets file whose line 3 is bad.
TF=$WORK/targets.txt
printf '198.18.0.1\n198.18.0.2\n198.18.0.0/33\n198.18.0.4\n' >"$TF"

expect2 bad-target 0 "target '999.1.2.3' (argument 1)" -- scan 999.1.2.3
expect2 public-needs-allow 1 "8.8.8.8" "--allow-public" -- scan 8.8.8.8
expect2 missing-list-file 0 "/nonexistent" -- scan -iL /nonexistent
expect2 bad-list-line 1 "$TF:3" -- scan -iL "$TF"
expect2 bad-threads 1 "--threads" -- scan 198.18.0.1 --threads abc
expect2 bad-shard 1 "~--shard|3/2" -- scan --shard 3/2 198.18.0.1
expect2 unknown-command 0 "frobnicate" -- frobnicate
expect2 ipv6-too-large 1 "2001:db8::/64" "~limit|too (large|big|many)|at most|exceed|maximum|max" \
	-- scan 2001:db8::/64

if [ "$FAILS" != 0 ]; then
	echo "lab_cli_errors: $FAILS of $RUN case(s) FAILED"
	exit 1
fi
echo "PASS: lab_cli_errors ($RUN cases)"
exit 0
