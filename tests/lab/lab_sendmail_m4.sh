#!/bin/bash
# lab_sendmail_m4.sh MAILHOLE BUILD_DIR -- the committed Sendmail .cf fixtures
# (tests/fixtures/mta/sendmail) are what m4 builds today from their .mc files
# with Debian's sendmail-cf. Every non-comment line must agree (those are all
# the reader looks at, the feature markers included); comment lines may differ
# with the package's version. Exit 77 when m4 or the package download is
# unavailable. The unit tests use the committed files and need neither.
here=$(cd "$(dirname "$0")" && pwd)
fix="$here/../fixtures/mta/sendmail"
out=$(mktemp -d) || exit 1
trap 'rm -rf "$out"' EXIT
"$fix/make-fixtures.sh" "$out" >/dev/null
rc=$?
[ $rc -eq 77 ] && { echo "SKIP: no m4 or no sendmail-cf download"; exit 77; }
[ $rc -ne 0 ] && { echo "FAIL: make-fixtures.sh exited $rc"; exit 1; }
fail=0
for cf in "$fix"/*.cf; do
	name=$(basename "$cf")
	if ! diff -u --label "committed $name" --label "rebuilt $name" \
		"$cf" "$out/$name" >"$out/diff" 2>&1 &&
	   ! diff -u <(grep -v '^#' "$cf") <(grep -v '^#' "$out/$name") >/dev/null 2>&1; then
		cat "$out/diff"
		echo "FAIL: $name differs from what m4 builds; run make-fixtures.sh"
		fail=1
	fi
done
[ $fail -eq 0 ] && echo "PASS: the Sendmail .cf fixtures are what m4 builds"
exit $fail
