#!/bin/bash
# lab_formats.sh MAILHOLE [BUILD_DIR] -- the report formats checked by
# outside validators, never by our own code:
#   - JUnit: xmllint (libxml2-utils, installed when missing) says the file is
#     well formed and valid against tests/fixtures/schemas/junit-jenkins.xsd;
#   - SARIF: the SARIF 2.1.0 JSON schema that Microsoft's SARIF SDK ships
#     (npm package @microsoft/jest-sarif, lib/schemas/sarif-2.1.0-rtm.5.json,
#     the final 2.1.0 schema) checked with ajv (ajv-draft-04, ajv-formats),
#     installed with npm into BUILD_DIR/formats-npm (not committed).
# Inputs: the fixtures of tests/fixtures/docs, hostile.json above all.
# Exit 0 when every check ran and passed, 1 on a failure, 77 (skip) when a
# validator could not be had (no npm registry, no apt): said on stdout,
# never a pass.
set -u

MAILHOLE=${1:?usage: lab_formats.sh MAILHOLE [BUILD_DIR]}
BUILD=${2:-$PWD}
case $MAILHOLE in /*) ;; *) MAILHOLE=$PWD/$MAILHOLE ;; esac
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
TOP=$(cd "$(dirname "$0")/../.." && pwd)
DOCS=$TOP/tests/fixtures/docs
XSD=$TOP/tests/fixtures/schemas/junit-jenkins.xsd
NPMDIR=$BUILD/formats-npm

[ -x "$MAILHOLE" ] || { echo "FAIL: no mailhole binary at $MAILHOLE"; exit 1; }
WORK=$(mktemp -d /tmp/mhl-formats.XXXXXX) || exit 1
trap 'rm -rf -- "$WORK"' EXIT

FAILS=0
SKIPS=()
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

# The outputs: each input set as JUnit and SARIF.
SETS=("shards:shard-1.json shard-2.json" "runs:run-old.json run-new.json" "hostile:hostile.json"
      "empty:empty-hosts.json")
for set in "${SETS[@]}"; do
	name=${set%%:*}
	inputs=()
	for f in ${set#*:}; do inputs+=("$DOCS/$f"); done
	"$MAILHOLE" report "${inputs[@]}" --junit "$WORK/$name.xml" --sarif "$WORK/$name.sarif" \
		--fail-on none >"$WORK/$name.out" 2>"$WORK/$name.err"
	rc=$?
	if [ $rc = 2 ] && grep -q "not available" "$WORK/$name.err"; then
		echo "SKIP: this mailhole has no 'report' command yet: $(cat "$WORK/$name.err")"
		exit 77
	fi
	[ $rc = 0 ] || fail "mailhole report ($name) exited $rc: $(head -c 300 "$WORK/$name.err")"
done

# JUnit: xmllint.
if ! command -v xmllint >/dev/null 2>&1; then
	echo "lab: installing libxml2-utils for xmllint" >&2
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libxml2-utils; } \
		>"$WORK/apt.log" 2>&1
fi
if command -v xmllint >/dev/null 2>&1; then
	for set in "${SETS[@]}"; do
		name=${set%%:*}
		[ -f "$WORK/$name.xml" ] || continue
		if xmllint --noout "$WORK/$name.xml" 2>"$WORK/xl.err"; then
			pass "junit $name: well formed (xmllint)"
		else
			fail "junit $name: not well formed: $(head -c 400 "$WORK/xl.err")"
		fi
		if xmllint --noout --schema "$XSD" "$WORK/$name.xml" 2>"$WORK/xl.err"; then
			pass "junit $name: valid against junit-jenkins.xsd"
		else
			fail "junit $name: invalid: $(head -c 400 "$WORK/xl.err")"
		fi
	done
else
	SKIPS+=("JUnit: xmllint not installed and libxml2-utils could not be installed")
fi

# SARIF: ajv against the SARIF 2.1.0 schema.
SCHEMA=$NPMDIR/node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	SKIPS+=("SARIF: node/npm not installed")
else
	if [ ! -f "$SCHEMA" ] || [ ! -d "$NPMDIR/node_modules/ajv-draft-04" ] ||
		[ ! -d "$NPMDIR/node_modules/ajv-formats" ]; then
		mkdir -p "$NPMDIR"
		[ -f "$NPMDIR/package.json" ] ||
			printf '{"name":"mailhole-formats-check","private":true}\n' >"$NPMDIR/package.json"
		echo "lab: npm install into $NPMDIR" >&2
		(cd "$NPMDIR" && timeout 300 npm install --no-audit --no-fund --ignore-scripts \
			--loglevel=error ajv@8 ajv-draft-04@1 ajv-formats@3 \
			@microsoft/jest-sarif@1.0.0-beta.0) >"$WORK/npm.log" 2>&1
	fi
	if [ ! -f "$SCHEMA" ] || [ ! -d "$NPMDIR/node_modules/ajv-draft-04" ]; then
		SKIPS+=("SARIF: npm install failed (registry unreachable?): $(tail -c 300 "$WORK/npm.log" 2>/dev/null | tr '\n' ' ')")
	else
		# node resolves modules from the script's folder: the script lives beside them
		cat >"$NPMDIR/validate.js" <<'JS'
// validate.js SCHEMA FILE... -- SARIF files against the 2.1.0 schema (draft-04).
const fs = require("fs");
const Ajv = require("ajv-draft-04");
const addFormats = require("ajv-formats");
// the schema has a pattern ("language") that is not valid in unicode mode
const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(fs.readFileSync(process.argv[2], "utf8")));
let bad = 0;
for (const f of process.argv.slice(3)) {
	const doc = JSON.parse(fs.readFileSync(f, "utf8"));
	if (validate(doc)) {
		console.log(`valid: ${f}`);
	} else {
		bad++;
		console.log(`INVALID: ${f}: ${ajv.errorsText(validate.errors)}`);
	}
}
process.exit(bad ? 1 : 0);
JS
		for set in "${SETS[@]}"; do
			name=${set%%:*}
			[ -f "$WORK/$name.sarif" ] || continue
			if (cd "$NPMDIR" && node "$NPMDIR/validate.js" "$SCHEMA" "$WORK/$name.sarif") \
				>"$WORK/v.out" 2>&1; then
				pass "sarif $name: valid against the SARIF 2.1.0 schema (ajv)"
			else
				fail "sarif $name: $(head -c 600 "$WORK/v.out")"
			fi
		done
		# The validator is live: a broken log must be refused.
		printf '{"version":"2.1.0","runs":[{"tool":{"driver":{}}}]}\n' >"$WORK/broken.sarif"
		(cd "$NPMDIR" && node "$NPMDIR/validate.js" "$SCHEMA" "$WORK/broken.sarif") \
			>"$WORK/v.out" 2>&1
		if grep -q '^INVALID: ' "$WORK/v.out"; then
			pass "sarif validator refuses a broken log"
		else
			fail "sarif validator did not refuse a log without driver.name: $(head -c 300 "$WORK/v.out")"
		fi
	fi
fi

echo "$FAILS failed, ${#SKIPS[@]} skipped"
[ "$FAILS" = 0 ] || exit 1
if [ ${#SKIPS[@]} -gt 0 ]; then
	for s in "${SKIPS[@]}"; do echo "SKIP: $s"; done
	exit 77
fi
exit 0
