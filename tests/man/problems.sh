#!/usr/bin/env bash
# Every problem its-fsck knows has its entry in the built its-fsck(8), and
# the page lists no other: the tags under PROBLEM CODES are exactly the
# table's codes and names, in its order.
. "$(dirname "$0")/lib.sh"

table=$("$FSCK" --list-problems -j | jq -r '.[] | .number + " " + .code')
t_true "its-fsck --list-problems -j lists problems" test "$(wc -l <<<"$table")" -gt 50
# the tag of each entry: ".TP" then ".B 0x030001 ITE_LPI_BELOW_MIN"
tags=$(awk '/^\.SH "?PROBLEM CODES/ { on = 1; next }
            /^\.SH/ { on = 0 }
            on && prev == ".TP" { sub(/^\.B /, ""); print }
            { prev = $0 }' "$PAGES/its-fsck.8")
t_eq "PROBLEM CODES entries = its-fsck --list-problems -j" "$table" "$tags"
# and every name reads as such in the rendered page
text=$(t_render "$PAGES/its-fsck.8")
while read -r number name; do
    grep -qF "$number $name" <<<"$text" && t_pass ||
        t_fail "$name ($number) not in the rendered its-fsck(8)"
done <<<"$table"
t_done
