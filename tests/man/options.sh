#!/usr/bin/env bash
# The long options of each program: those its --help prints, those its page
# documents under OPTIONS, and those the bash completion offers are the same
# set (nothing undocumented, nothing documented that does not exist).
. "$(dirname "$0")/lib.sh"
. /usr/share/bash-completion/bash_completion
. "$SRC/completion/its-tools.bash"

# "  -a, --all   ..." and "      --layout=auto|kvm|tcg ..." lines of --help
help_opts()
{
    "$1" --help | sed -nE 's/^ {2,}(-[^ ], )?--([a-z][a-z0-9-]*).*/--\2/p' | sort -u
}

# the tags of the .TP paragraphs under .SH OPTIONS, roff escapes removed
page_opts()
{
    awk '/^\.SH "?OPTIONS/ { on = 1; next }
         /^\.SH/ { on = 0 }
         on && prev == ".TP" { print }
         { prev = $0 }' "$1" |
        grep -oE '\\-\\-([a-z0-9]|\\-)+' | tr -d '\\' | sort -u
}

# what the completion offers after "PROG --"
completion_opts()
{
    local COMP_WORDS=("$1" --) COMP_CWORD=1 COMP_LINE="$1 --" COMP_POINT=
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _its_tools "$1" -- "$1"
    printf '%s\n' "${COMPREPLY[@]}" | sed 's/=$//' | sort -u
}

for prog in its-dump:its-dump.1 its-fsck:its-fsck.8; do
    name=${prog%%:*}
    page=$PAGES/${prog#*:}
    help=$(help_opts "$B/$name")
    t_true "$name --help lists options" test "$(wc -l <<<"$help")" -gt 20
    t_eq "$name: --help's long options = those under OPTIONS in $page" \
        "$help" "$(page_opts "$page")"
    t_eq "$name: --help's long options = those the completion offers" \
        "$help" "$(completion_opts "$name")"
done
t_done
