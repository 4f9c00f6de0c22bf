#!/usr/bin/env bash
# --version (and -V) of both programs: the VERSION file's version, then the
# library versions (json-c and glibc at run time, libelf at build time).
. "$(dirname "$0")/lib.sh"

version=$(cat "$SRC/VERSION")
libs="json-c $(pkg-config --modversion json-c) (runtime), libelf $(pkg-config --modversion libelf) (elfutils, build), glibc $(getconf GNU_LIBC_VERSION | sed 's/^glibc //') (runtime)"
t_true "VERSION is one line, not empty" test -n "$version"
for prog in its-dump its-fsck; do
    for opt in --version -V; do
        out=$("$B/$prog" "$opt")
        status=$?
        t_eq "$prog $opt: exit status" 0 "$status"
        t_eq "$prog $opt: first line" "$prog (its-tools) $version" \
            "$(sed -n 1p <<<"$out")"
        t_eq "$prog $opt: second line" "$libs" "$(sed -n 2p <<<"$out")"
        t_eq "$prog $opt: two lines" 2 "$(wc -l <<<"$out")"
    done
done
t_done
