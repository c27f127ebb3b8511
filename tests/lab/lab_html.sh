#!/bin/bash
# lab_html.sh MAILHOLE BUILD_DIR -- the HTML report in a real browser.
#
# Renders tests/fixtures/reports/fleet.json (real lab_sweep.sh output plus a
# hostile host whose banner, EHLO name, error_detail and findings carry
# markup, quotes, control characters and U+FFFD) with
#   mailhole report fleet.json --html OUT [--baseline fleet-baseline.json]
# and checks it in headless Chromium:
#   file    one <script> (ours), the CSP meta (default-src 'none', the hashes
#           of the inline style and script, no unsafe-*), no URL outside
#           text, no raw control byte;
#   DOM     (--dump-dom) our script ran (so the CSP hashes are right), the
#           summary cards say what the JSON's .summary says, the hostile
#           strings are text, no element came from them, <title> is ours;
#   noscript (the script refused by the CSP: headless --dump-dom needs
#           JavaScript itself) the host table and the findings are all there;
#   picture (--screenshot) a non-trivial 1280x2000 PNG; (--print-to-pdf) a PDF;
#   network Chromium runs in an empty network namespace (when it can be made)
#           with every host name mapped to NOTFOUND; its net log must show no
#           request made by the page. A control page with an <img> and a
#           fetch() proves the net-log check sees page requests.
#
# Exit 0 pass, 1 fail, 77 skip (report --html not wired yet; no Chromium and
# no way to install it). Chromium is installed with apt-get only when missing.
# Processes: only the Chromium runs started here, each under timeout(1).
set -u

MAILHOLE=${1:?usage: lab_html.sh MAILHOLE BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
FIXDIR=$HERE/../fixtures/reports
FLEET=$FIXDIR/fleet.json
BASE=$FIXDIR/fleet-baseline.json
case $MAILHOLE in /*) ;; *) MAILHOLE=$PWD/$MAILHOLE ;; esac

skip() {
	printf 'SKIP: %s\n' "$*"
	exit 77
}
die() {
	printf 'FAIL: %s\n' "$*"
	exit 1
}
FAILS=0
fail() {
	printf 'FAIL: %s\n' "$*"
	FAILS=$((FAILS + 1))
}

[ -x "$MAILHOLE" ] || die "no mailhole binary at $MAILHOLE"
[ -f "$FLEET" ] || die "no fixture $FLEET"
if ! command -v jq >/dev/null 2>&1; then
	[ "$(id -u)" = 0 ] || skip "needs jq (and root to install it)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q jq >/dev/null 2>&1 ||
		skip "jq is missing and apt-get install jq failed"
fi
command -v perl >/dev/null 2>&1 || skip "needs perl"
command -v openssl >/dev/null 2>&1 || skip "needs openssl(1)"

WORK=$(mktemp -d /tmp/mhl-html.XXXXXX) || die "mktemp failed"
cleanup() {
	if [ "${LAB_KEEP:-0}" = 1 ]; then
		echo "lab: kept $WORK"
	else
		rm -rf -- "$WORK"
	fi
}
trap cleanup EXIT

# ---- render through the CLI ------------------------------------------------
HTML=$WORK/fleet.html
"$MAILHOLE" report "$FLEET" --html "$HTML" >"$WORK/report.out" 2>"$WORK/report.err"
rc=$?
if [ "$rc" = 2 ] && grep -qi "not available" "$WORK/report.err"; then
	skip "mailhole report --html is not wired yet: $(head -n 1 "$WORK/report.err")"
fi
if [ "$rc" != 0 ] && [ "$rc" != 1 ]; then
	sed 's/^/      stderr: /' "$WORK/report.err" | head -n 5
	die "mailhole report $FLEET --html exited $rc (0 or 1 expected)"
fi
[ -s "$HTML" ] || die "mailhole report exited $rc but wrote no $HTML"

TREND=$WORK/trend.html
"$MAILHOLE" report "$FLEET" --baseline "$BASE" --html "$TREND" \
	>"$WORK/trend.out" 2>"$WORK/trend.err"
rc=$?
if [ "$rc" != 0 ] && [ "$rc" != 1 ]; then
	if [ "$rc" = 2 ] && grep -q -- "--baseline" "$WORK/trend.err"; then
		echo "NOTE: report --baseline not available: trend section not checked"
		TREND=
	else
		sed 's/^/      stderr: /' "$WORK/trend.err" | head -n 5
		fail "mailhole report --baseline --html exited $rc (0 or 1 expected)"
		TREND=
	fi
fi

# ---- Chromium ---------------------------------------------------------------
# The real binary when it is Debian's: the /usr/bin/chromium wrapper adds
# --enable-remote-extensions and loads extensions from /etc/chromium.d.
CHROME=
for c in /usr/lib/chromium/chromium "$(command -v chromium 2>/dev/null)" \
	"$(command -v chromium-browser 2>/dev/null)"; do
	if [ -n "$c" ] && [ -x "$c" ]; then
		CHROME=$c
		break
	fi
done
if [ -z "$CHROME" ]; then
	[ "$(id -u)" = 0 ] || skip "Chromium is not installed and installing it needs root"
	echo "lab: installing chromium (apt-get install -y chromium)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >"$WORK/apt.log" 2>&1 ||
		skip "Chromium is not installed and apt-get install chromium failed: $(tail -n 1 "$WORK/apt.log")"
	[ -x /usr/lib/chromium/chromium ] && CHROME=/usr/lib/chromium/chromium
	[ -z "$CHROME" ] && CHROME=$(command -v chromium 2>/dev/null)
	[ -n "$CHROME" ] || skip "apt-get install chromium left no chromium binary"
fi

ISO=()
if [ "$(id -u)" = 0 ] && unshare --net true 2>/dev/null; then
	ISO=(unshare --net)
elif unshare -rn true 2>/dev/null; then
	ISO=(unshare -rn)
else
	echo "NOTE: no empty network namespace; relying on --host-resolver-rules alone"
fi

# chrome NAME ARGS... URL: one headless run, stdout to $WORK/NAME.out, its
# own profile, its own net log ($WORK/NAME.netlog).
chrome() {
	local name=$1 ud rc
	shift
	ud=$(mktemp -d "$WORK/profile.XXXXXX")
	timeout 120 "${ISO[@]}" "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic \
		--no-first-run --disable-background-networking --disable-component-update \
		--disable-sync --disable-extensions --disable-default-apps --no-pings \
		--disable-domain-reliability --disable-client-side-phishing-detection \
		--disable-breakpad --host-resolver-rules="MAP * ~NOTFOUND" \
		--user-data-dir="$ud" --log-net-log="$WORK/$name.netlog" "$@" \
		>"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null
	rc=$?
	rm -rf -- "$ud"
	return $rc
}

# page_requests NAME: the URLs the page asked for (initiator is the page's
# origin, "null" for a file; the browser's own requests say "not an origin").
page_requests() {
	jq -r '[.events[]? | .params? // {} | select(has("url") and has("initiator"))
	        | select(.initiator != "not an origin") | .url] | unique | .[]' \
		"$WORK/$1.netlog" 2>/dev/null
}

# the control: a page that does make requests must be seen doing so
printf '<!DOCTYPE html><html><body><img src="http://leak.invalid/x.png">%s</body></html>\n' \
	'<script>fetch("https://leak2.invalid/y").catch(function () {});</script>' >"$WORK/leak.html"
chrome control --dump-dom "file://$WORK/leak.html" || die "Chromium failed on the control page"
[ -s "$WORK/control.netlog" ] || skip "Chromium wrote no net log (--log-net-log unsupported?)"
if ! page_requests control | grep -q "leak.invalid"; then
	die "the net-log check does not see a page's requests (control page): check is broken"
fi

# ---- the file itself ----------------------------------------------------------
check_file() {
	local f=$1 what=$2 hs hj
	[ "$(grep -o -i '<script' "$f" | wc -l)" = 1 ] || fail "$what: not exactly one <script"
	grep -q "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; " "$f" ||
		fail "$what: no CSP meta starting with default-src 'none'"
	grep -q "unsafe-" "$f" && fail "$what: the CSP allows unsafe-*"
	# (through a pipe: $(...) would drop the trailing newline the hash covers)
	hs=$(perl -0ne 'print $1 if /<style>(.*?)<\/style>/s' "$f" | openssl dgst -sha256 -binary |
		base64)
	hj=$(perl -0ne 'print $1 if /<script>(.*?)<\/script>/s' "$f" | openssl dgst -sha256 -binary |
		base64)
	grep -qF "style-src 'sha256-$hs'" "$f" || fail "$what: style-src does not name the style's hash"
	grep -qF "script-src 'sha256-$hj'" "$f" || fail "$what: script-src does not name the script's hash"
	# no URL, source or event handler outside text; nothing of the kind in style or script
	perl -0ne '
		my $bad = 0;
		my ($css) = /<style>(.*?)<\/style>/s; my ($js) = /<script>(.*?)<\/script>/s;
		for my $t ($css, $js) { if ($t =~ m{//|url\(|\@import|https?:}i) { $bad = 1; print "style/script: $&\n" } }
		s/<style>.*?<\/style>//s; s/<script>.*?<\/script>//s;
		while (/(<[^>]*>)/g) {
			my $tag = $1;
			if ($tag =~ m{//|\s(?:src|srcset|action|formaction|background|xlink:href|ping)=|\son\w+=}i
			    || ($tag =~ /\shref="([^"]*)"/i && $1 !~ /^#/)) { $bad = 1; print "tag: $tag\n" }
		}
		exit $bad;' "$f" >"$WORK/urls.txt" ||
		fail "$what: a URL, source or handler outside text: $(head -n 3 "$WORK/urls.txt")"
	LC_ALL=C grep -q -P '[\x00-\x08\x0b-\x1f\x7f]' "$f" && fail "$what: a raw control byte"
	return 0
}
check_file "$HTML" "fleet.html"
[ -n "$TREND" ] && check_file "$TREND" "trend.html"

# ---- DOM with scripts on ---------------------------------------------------------
chrome dom --dump-dom "file://$HTML" || fail "Chromium --dump-dom failed"
DOM=$WORK/dom.out
[ -s "$DOM" ] || die "Chromium dumped no DOM: $(grep -v dbus "$WORK/dom.err" | tail -n 2)"

grep -q 'data-script="ran"' "$DOM" ||
	fail "our inline script did not run (CSP hash wrong, or the script failed)"
grep -q 'class="controls"' "$DOM" || fail "no sort/filter controls after the script ran"
title=$(perl -0ne 'print $1 if /<title>(.*?)<\/title>/s' "$DOM")
case $title in
"mailhole report"*) ;;
*) fail "<title> is not ours: '$title'" ;;
esac
case $title in *PWNED*) fail "<title> was changed by a payload: '$title'" ;; esac

# the cards: data-value and the text shown, against the JSON
# card ID [FILE]: "DATA-VALUE TEXT" of a summary card in a DOM dump ($DOM by default)
card() {
	perl -0ne 'print "$1 $2" if /id="\Q'"$1"'\E"[^>]*data-value="(\d+)"[^>]*>(\d+)</' "${2:-$DOM}"
}
expect_card() {
	local id=$1 want=$2 got
	got=$(card "$id")
	[ "$got" = "$want $want" ] || fail "card $id: shows '$got', the JSON says $want"
}
expect_card sum-hosts "$(jq '.summary.hosts' "$FLEET")"
expect_card sum-open-ports "$(jq '.summary.open_ports' "$FLEET")"
for s in critical high medium low info; do
	expect_card "sum-findings-$s" "$(jq ".summary.findings.$s" "$FLEET")"
done
for e in exposed loopback-only none; do
	expect_card "sum-exposure-$e" "$(jq --arg e "$e" '[.hosts[] | select(.exposure == $e)] | length' "$FLEET")"
done
# and the JSON agrees with itself
[ "$(jq '.summary.hosts == (.hosts | length)' "$FLEET")" = true ] || fail "fixture: summary.hosts"

NHOSTS=$(jq '.hosts | length' "$FLEET")
NFIND=$(jq '[.hosts[].findings[]] | length' "$FLEET")
[ "$(grep -o 'class="host-row"' "$DOM" | wc -l)" = "$NHOSTS" ] || fail "host table: not $NHOSTS rows"

# the hostile strings are text (the serializer escapes < > & in text)
for want in \
	"&lt;script&gt;document.title='PWNED'&lt;/script&gt;" \
	"\"&gt;&lt;img src=x onerror=\"document.title='PWNED'\"&gt;" \
	"X-\\x1b[2J&lt;svg onload=document.title='PWNED'&gt;" \
	"\\x1b[31mRED\\x1b[0m \\x01 caf$(printf '\xef\xbf\xbd\xef\xbf\xbd')" \
	"250-$(printf '\xef\xbf\xbd\xef\xbf\xbd')&lt;script&gt;" \
	"\\x01\\x07 \"&gt;&lt;img"; do
	grep -qF -- "$want" "$DOM" || fail "DOM: the hostile text '$want' is not shown as text"
done
[ "$(grep -o -i '<script' "$DOM" | wc -l)" = 1 ] || fail "DOM: a second <script> element"
grep -q -i '<img\|<svg onload\|<iframe\|<object\|<embed' "$DOM" && fail "DOM: an element made from a payload"
# PWNED only in text: no tag has it, and our script does not contain it
perl -0ne 'my ($js) = /<script>(.*?)<\/script>/s; if ($js =~ /PWNED/) { print "in the script\n"; exit 1 }
	s/<script>.*?<\/script>//s; while (/(<[^>]*>)/g) { if ($1 =~ /PWNED/) { print "$1\n"; exit 1 } }' \
	"$DOM" >"$WORK/pwned.txt" || fail "DOM: PWNED inside a tag: $(head -c 300 "$WORK/pwned.txt")"
LC_ALL=C grep -q -P '[\x00-\x08\x0b-\x1f\x7f]' "$DOM" && fail "DOM: a raw control byte"

# the page asked for nothing
reqs=$(page_requests dom)
[ -z "$reqs" ] || fail "the page made requests: $reqs"

# ---- DOM with scripts off ---------------------------------------------------------
# Headless Chromium's --dump-dom and --screenshot need JavaScript themselves
# (--blink-settings=scriptEnabled=false leaves them empty), so the page's
# script is turned off the way a stricter policy would: a copy whose CSP
# names another hash, so Chromium refuses the inline script. The page must
# still hold every row; the script must not have run.
NOJS=$WORK/noscript.html
perl -pe "s/script-src 'sha256-[^']*'/script-src 'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='/" \
	"$HTML" >"$NOJS"
grep -q "script-src 'sha256-AAAA" "$NOJS" || fail "scripts off: could not make the copy"
chrome noscript --dump-dom "file://$NOJS" || fail "Chromium (scripts off) failed"
NS=$WORK/noscript.out
[ -s "$NS" ] || fail "scripts off: Chromium dumped no DOM"
grep -q 'data-script="ran"' "$NS" && fail "scripts off: the script ran anyway"
grep -q 'class="controls"' "$NS" && fail "scripts off: controls without the script?"
[ "$(grep -o 'class="host-row"' "$NS" | wc -l)" = "$NHOSTS" ] ||
	fail "scripts off: the host table has not all $NHOSTS rows"
[ "$(grep -o '<tr class="finding" id="f-' "$NS" | wc -l)" = "$NFIND" ] ||
	fail "scripts off: not all $NFIND findings are listed"
[ "$(card sum-hosts "$NS")" = "$NHOSTS $NHOSTS" ] || fail "scripts off: the summary cards are missing"

# ---- the trend section --------------------------------------------------------------
if [ -n "$TREND" ]; then
	chrome trend --dump-dom "file://$TREND" || fail "Chromium failed on trend.html"
	DOM=$WORK/trend.out
	# new / fixed / unchanged by host addr + rule id, counted with jq
	keys='[.hosts[] | .addr as $a | .findings[] | "\($a) \(.id)"] | unique'
	want_new=$(jq -n --slurpfile n "$FLEET" --slurpfile o "$BASE" \
		"(\$n[0] | $keys) - (\$o[0] | $keys) | length")
	want_fixed=$(jq -n --slurpfile n "$FLEET" --slurpfile o "$BASE" \
		"(\$o[0] | $keys) - (\$n[0] | $keys) | length")
	want_same=$(jq -n --slurpfile n "$FLEET" --slurpfile o "$BASE" \
		"(\$n[0] | $keys) - ((\$n[0] | $keys) - (\$o[0] | $keys)) | length")
	expect_card trend-new "$want_new"
	expect_card trend-fixed "$want_fixed"
	expect_card trend-unchanged "$want_same"
	reqs=$(page_requests trend)
	[ -z "$reqs" ] || fail "trend.html made requests: $reqs"
fi

# ---- pictures ----------------------------------------------------------------------
chrome shot --hide-scrollbars --screenshot="$WORK/shot.png" --window-size=1280,2000 \
	"file://$HTML" || fail "Chromium --screenshot failed"
if [ ! -s "$WORK/shot.png" ]; then
	fail "no screenshot"
else
	magic=$(od -An -tx1 -N8 "$WORK/shot.png" | tr -d ' \n')
	dims=$(od -An -tu1 -j16 -N8 "$WORK/shot.png" |
		awk '{ printf "%dx%d", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8 }')
	size=$(stat -c %s "$WORK/shot.png")
	[ "$magic" = 89504e470d0a1a0a ] || fail "screenshot is not a PNG"
	[ "$dims" = 1280x2000 ] || fail "screenshot is $dims, not 1280x2000"
	# a blank 1280x2000 page compresses to about 10 kB
	[ "$size" -gt 60000 ] || fail "screenshot is only $size bytes: a blank page?"
fi
chrome pdf --no-pdf-header-footer --print-to-pdf="$WORK/print.pdf" "file://$HTML" ||
	fail "Chromium --print-to-pdf failed"
if [ "$(head -c 5 "$WORK/print.pdf" 2>/dev/null)" != "%PDF-" ]; then
	fail "no PDF from --print-to-pdf"
fi

if [ "$FAILS" != 0 ]; then
	echo "lab: $FAILS check(s) failed (LAB_KEEP=1 keeps the work dir)"
	exit 1
fi
echo "PASS: lab_html ($NHOSTS hosts, $NFIND findings; chromium: $CHROME)"
exit 0
