#!/bin/sh
# tests/check-licences.sh - no distributable binary may join libpri
# (GPL-2.0-only) with ortp or bcg729 (GPL-3.0+) or OpenSSL (Apache-2.0).
# Reads each built program's NEEDED entries, and what they pull in.
# DESIGN.md's licence table is the rule; TAP output.

B=${JUNCTION_BUILDDIR:-.}
forbidden='libortp|libbcg729|libssl|libcrypto\.so'
n=0
fail=0

say() { n=$((n + 1)); echo "$1 $n - $2"; }

# Every library a program loads: its NEEDED entries and theirs.
libs_of() {
	{ readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
	  ldd "$1" 2>/dev/null | awk '{print $1}'; } | sort -u
}

progs="gateway/junctiond gateway/junction-mg gateway/junctionctl sim/pstnsim"
count=0
for p in $progs; do [ -x "$B/$p" ] && count=$((count + 1)); done
echo "1..$((count + 2))"

for p in $progs; do
	[ -x "$B/$p" ] || continue
	libs=$(libs_of "$B/$p")
	if echo "$libs" | grep -q '^libpri\.so' &&
	   bad=$(echo "$libs" | grep -E "^($forbidden)") ; then
		say "not ok" "$p joins libpri with: $(echo $bad)"
		fail=1
	else
		say "ok" "$p: no forbidden pair"
	fi
done

# The rule has teeth only if the libraries are where DESIGN.md puts them.
if readelf -d "$B/gateway/junctiond" | grep -q 'NEEDED.*libpri\.so'; then
	say "ok" "junctiond links libpri"
else
	say "not ok" "junctiond does not link libpri"
	fail=1
fi
if readelf -d "$B/gateway/junction-mg" | grep -q 'NEEDED.*libortp\.so'; then
	say "ok" "junction-mg links ortp"
else
	say "not ok" "junction-mg does not link ortp"
	fail=1
fi
exit $fail
