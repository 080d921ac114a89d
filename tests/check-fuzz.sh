#!/bin/sh
# tests/check-fuzz.sh - each libFuzzer harness of tests/fuzz for a bounded
# time, under ASan and UBSan, seeded from the standard corpora.
#
# The harnesses need clang's libFuzzer (Debian: clang libclang-rt-14-dev),
# so they get their own build tree, configured --enable-fuzz with
# CC=clang: a temporary one removed at exit, or $FUZZ_BUILDDIR, kept and
# reused across runs.  Without clang and libFuzzer the whole test is a
# TAP skip.  One TAP line per harness: a crash, a leak (LeakSanitizer,
# or the harness's own count of live blocks), a sanitizer report or a
# timeout fails it, and the input that did it is printed in base64.
#
#   FUZZ_SECONDS   time per harness (default 20; 0 skips the test)
#   FUZZ_JOBS      harnesses run at once (default 1: make check runs
#                  other tests beside this one)
#   FUZZ_CC        the compiler (default clang)
#   FUZZ_BUILDDIR  a build tree to keep (default: a temporary one)
#
# New inputs a run finds go to a scratch folder, never into the corpora.

S=${JUNCTION_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
S=$(cd "$S" && pwd)
T=${FUZZ_SECONDS:-20}
JOBS=${FUZZ_JOBS:-1}
FCC=${FUZZ_CC:-clang}

# harness:seed folder (relative to the source tree)
harnesses="fuzz_conf:etc fuzz_mg_text:tests/data/megaco-text
fuzz_sip:tests/data/sip-torture fuzz_sdp:tests/data/sdp-offer-answer"

skip() {
	echo "1..0 # SKIP $*"
	exit 0
}

[ "$T" -gt 0 ] 2>/dev/null || skip "FUZZ_SECONDS=$T"
command -v "$FCC" >/dev/null 2>&1 || skip "$FCC not found"

pids=
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-fuzz.XXXXXX") || exit 99
trap 'kill $pids 2>/dev/null; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

# libFuzzer with both sanitizers links?
cat > "$tmp/probe.c" <<'EOF'
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return data && size > 1 && data[0] == 'x' ? 0 : 0;
}
EOF
"$FCC" -fsanitize=fuzzer,address,undefined -o "$tmp/probe" "$tmp/probe.c" \
	> "$tmp/probe.log" 2>&1 ||
	skip "$FCC cannot link libFuzzer (libclang-rt-dev missing?)"

set -- $harnesses
echo "1..$#"

fb=${FUZZ_BUILDDIR:-$tmp/build}
mkdir -p "$fb" || exit 99
ncpu=$(nproc 2>/dev/null || echo 2)
build_ok=1
if ! (cd "$fb" &&
      { [ -f Makefile ] || CC="$FCC" "$S/configure" --enable-fuzz; } &&
      make -j"$ncpu" $(for h in $harnesses; do
		echo "tests/fuzz/${h%%:*}"; done)) > "$tmp/build.log" 2>&1
then
	build_ok=0
fi

# Leaks inside the libraries themselves (lsan.supp says which) are
# theirs; UBSan stops at its first report so that libFuzzer keeps the
# input that caused it.
LSAN_OPTIONS="suppressions=$S/tests/fuzz/lsan.supp:print_suppressions=0"
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
ASAN_OPTIONS="abort_on_error=0:detect_leaks=1"
export LSAN_OPTIONS UBSAN_OPTIONS ASAN_OPTIONS

# run N NAME SEEDS: fuzz one harness; its result in $tmp/N.tap
run() {
	n=$1 name=$2 seeds=$3
	out="$tmp/$n"
	mkdir -p "$out/new" "$out/art"
	rc=0
	"$fb/tests/fuzz/$name" -max_total_time="$T" -max_len=8192 \
		-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$out/art/" "$out/new" "$S/$seeds" \
		> "$out/log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
		"$out/log" | tail -1)
	if [ "$rc" -eq 0 ] && ! grep -q -E \
	    'runtime error:|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)' \
	    "$out/log"; then
		echo "ok $n - $name: ${execs:-?} inputs in ${T}s" > "$out/tap"
		return
	fi
	{
		echo "not ok $n - $name: exit $rc after ${execs:-?} inputs"
		grep -E 'runtime error:|ERROR:|SUMMARY:|^    #[0-9]' \
			"$out/log" | head -40 | sed 's/^/# /'
		for a in "$out"/art/*; do
			[ -f "$a" ] || continue
			echo "# $(basename "$a") (base64):"
			base64 "$a" | head -200 | sed 's/^/#   /'
		done
	} > "$out/tap"
}

n=0
fail=0
pids=
for h in $harnesses; do
	n=$((n + 1))
	if [ "$build_ok" -eq 0 ]; then
		echo "not ok $n - ${h%%:*}: the fuzz build failed"
		fail=1
		continue
	fi
	run "$n" "${h%%:*}" "${h#*:}" &
	pids="$pids $!"
	# at most $JOBS at once: wait for the batch
	if [ $((n % JOBS)) -eq 0 ]; then
		wait $pids
		pids=
	fi
done
[ -n "$pids" ] && wait $pids
if [ "$build_ok" -eq 0 ]; then
	tail -30 "$tmp/build.log" | sed 's/^/# /'
	exit 1
fi
n=0
for h in $harnesses; do
	n=$((n + 1))
	cat "$tmp/$n/tap"
	grep -q '^not ok' "$tmp/$n/tap" && fail=1
done
exit $fail
