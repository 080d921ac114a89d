#!/bin/sh
# tests/check-headers.sh - every header compiles on its own (STYLE.md 3.3):
# no header may depend on what its includer happened to include first.

S=${JUNCTION_SRCDIR:-.}
CC=${CC:-cc}
headers=$(cd "$S" && ls core/*.h hw/*.h media/*.h sip/*.h megaco/*.h \
	gateway/*.h sim/*.h 2>/dev/null)
set -- $headers
echo "1..$#"
n=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for h in $headers; do
	n=$((n + 1))
	printf '#include "%s"\n' "$h" > "$tmp/t.c"
	if $CC -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -fsyntax-only \
	    -I"$S" -I"$S/core" ${HEADER_CFLAGS:-} "$tmp/t.c" 2> "$tmp/err"; then
		echo "ok $n - $h compiles alone"
	else
		echo "not ok $n - $h compiles alone"
		sed 's/^/# /' "$tmp/err"
		fail=1
	fi
done
exit $fail
