#!/usr/bin/env bash
# Both built pages pass mandoc's lint at warning level and groff's with
# every warning on: each must print nothing.
. "$(dirname "$0")/lib.sh"

for page in "$PAGES/its-dump.1" "$PAGES/its-fsck.8"; do
    t_eq "mandoc -T lint -W warning $page" "" \
        "$(mandoc -T lint -W warning "$page" 2>&1)"
    t_eq "groff -man -ww -z $page" "" "$(groff -man -ww -z "$page" 2>&1)"
    # and it renders to something with the sections a reader looks for
    text=$(t_render "$page")
    for sect in NAME SYNOPSIS DESCRIPTION OPTIONS OUTPUT "EXIT STATUS" \
        ENVIRONMENT EXAMPLES "SEE ALSO"; do
        t_true "$page: section $sect" grep -qx "$sect" <<<"$text"
    done
done
text=$(t_render "$PAGES/its-fsck.8")
for sect in "PROBLEM CODES" "REPAIR MODES"; do
    t_true "its-fsck.8: section $sect" grep -qx "$sect" <<<"$text"
done
t_done
