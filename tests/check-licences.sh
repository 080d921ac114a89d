#!/bin/sh
# tests/check-licences.sh - no distributable binary may join libpri
# (GPL-2.0-only) with ortp or bcg729 (GPL-3.0+) or OpenSSL (Apache-2.0).
# Reads each built program's NEEDED entries, and what they pull in in turn
# (ldd).  DESIGN.md's licence table is the rule; TAP output.

B=${JUNCTION_BUILDDIR:-.}
gpl3='libortp|libbcg729'
apache='libssl|libcrypto'
n=0
fail=0

say() { n=$((n + 1)); echo "$1 $n - $2"; }

# Every library a program loads: its NEEDED entries and theirs.
libs_of() {
	{ readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
	  ldd "$1" 2>/dev/null | awk '{print $1}'; } | sed 's/\.so.*//' | sort -u
}

has() { echo "$1" | grep -Eq "^($2)\$"; }

progs=""
for p in gateway/junctiond gateway/junction-mg gateway/junctionctl sim/pstnsim
do
	[ -x "$B/$p" ] && progs="$progs $p"
done
set -- $progs
echo "1..$(($# * 3))"

for p in $progs; do
	libs=$(libs_of "$B/$p")
	name=$(basename "$p")
	if has "$libs" libpri && has "$libs" "$gpl3|$apache"; then
		say "not ok" "$name joins libpri with: $(echo "$libs" |
			grep -E "^($gpl3|$apache)\$" | tr '\n' ' ')"
		fail=1
	else
		say "ok" "$name: libpri joins no GPL-3 or Apache-2.0 library"
	fi
	# Where each library may live (DESIGN.md): libpri in junctiond and
	# pstnsim only; ortp and bcg729 in junction-mg only.
	case $name in
	junctiond|pstnsim) bad="$gpl3" ;;
	junction-mg) bad="libpri" ;;
	*) bad="libpri|$gpl3" ;;
	esac
	if has "$libs" "$bad"; then
		say "not ok" "$name links $(echo "$libs" | grep -E "^($bad)\$" |
			tr '\n' ' ')"
		fail=1
	else
		say "ok" "$name links none of $bad"
	fi
	if has "$libs" "$apache"; then
		say "not ok" "$name links OpenSSL; TLS is GnuTLS's job"
		fail=1
	else
		say "ok" "$name does not link OpenSSL"
	fi
done
exit $fail
