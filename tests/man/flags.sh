#!/usr/bin/env bash
# The entry flags its-dump's JSON can carry (each bit set goes out by its
# name from the walker's table, src/its/walk.c flag_names) are exactly the
# names its-dump(1) lists after "flags (array of strings) says what is odd
# about an entry".
. "$(dirname "$0")/lib.sh"

code=$(awk '/^static const char \*const flag_names\[\] = \{/ { on = 1; next }
            on && /^\};/ { exit }
            on' "$SRC/src/its/walk.c" | grep -oE '"[a-z0-9_]+"' | tr -d '"' |
       sort)
t_true "src/its/walk.c names the flags" test "$(wc -l <<<"$code")" -ge 10
# the bold words of that paragraph (".B name" and ".BR name ,"), up to the
# next tagged paragraph
page=$(awk '/^\.B flags$/ { tag = 1; next }
            tag && /^\(array of strings\) says what is odd/ { on = 1; next }
            { tag = 0 }
            on && /^\.(TP|SH|PP)/ { exit }
            on && /^\.BR? / { print $2 }' "$PAGES/its-dump.1" | sort -u)
t_eq "its-dump.1's entry flags = the walker's flag names" "$code" "$page"
t_done
