#!/bin/sh
# lab_docs.sh MAILHOLE BUILD_DIR -- docs/rules.md is what the rule table says
# (regenerate with: mailhole rules > docs/rules.md).
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
"$1" rules >"$out" || { echo "FAIL: mailhole rules exited $?"; exit 1; }
if ! diff -u "$here/../../docs/rules.md" "$out"; then
	echo "FAIL: docs/rules.md differs from the rule table; run: mailhole rules > docs/rules.md"
	exit 1
fi
echo "PASS: docs/rules.md matches the rule table"
