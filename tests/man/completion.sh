#!/usr/bin/env bash
# The bash completion, driven as readline drives it (COMP_WORDS split at
# blanks and at '=', COMP_LINE, COMP_POINT) with bash-completion loaded:
# exact candidate lists.
. "$(dirname "$0")/lib.sh"
. /usr/share/bash-completion/bash_completion
. "$SRC/completion/its-tools.bash"

# t_complete LINE WORD...: the candidates offered at the end of LINE, whose
# words, as readline splits them, are WORD...
t_complete()
{
    local COMP_LINE=$1 COMP_POINT=${#1}
    shift
    local COMP_WORDS=("$@") COMP_CWORD=$(($# - 1))
    COMPREPLY=()
    _its_tools "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    echo "${COMPREPLY[*]}"
}

kernels=$("$B/man/gen-problems" --kernel-profiles | tr '\n' ' ')
t_eq "the --kernel names of src/check/profile.c" \
    "upstream 2026 6.13 6.7 6.1 6.0 5.19 5.10 5.6 5.4 4.15 4.14 " "$kernels"

t_eq "its-dump --lay<TAB>" "--layout=" \
    "$(t_complete "its-dump --lay" its-dump --lay)"
t_eq "its-dump --layout <TAB>" "auto kvm tcg" \
    "$(t_complete "its-dump --layout " its-dump --layout "")"
t_eq "its-fsck --kernel <TAB>" "${kernels% }" \
    "$(t_complete "its-fsck --kernel " its-fsck --kernel "")"
t_eq "its-fsck --fo<TAB>" "--format=" \
    "$(t_complete "its-fsck --fo" its-fsck --fo)"
t_eq "its-dump --format=<TAB>" "text json dot map" \
    "$(t_complete "its-dump --format=" its-dump --format = "")"
t_eq "its-dump --format=d<TAB>" "dot" \
    "$(t_complete "its-dump --format=d" its-dump --format = d)"
t_eq "its-fsck --layout=<TAB>" "auto kvm tcg" \
    "$(t_complete "its-fsck --layout=" its-fsck --layout = "")"
t_eq "its-fsck --kernel=5.<TAB>" "5.19 5.10 5.6 5.4" \
    "$(t_complete "its-fsck --kernel=5." its-fsck --kernel = 5.)"
t_eq "its-fsck --color=<TAB>" "auto always never" \
    "$(t_complete "its-fsck --color=" its-fsck --color = "")"
t_eq "its-fsck --fix=<TAB>" "all" \
    "$(t_complete "its-fsck --fix=" its-fsck --fix = "")"
t_eq "its-dump --co<TAB>" "--color --color=" \
    "$(t_complete "its-dump --co" its-dump --co)"
t_eq "its-fsck --u<TAB>" "--undo= --undo-file= --usage" \
    "$(t_complete "its-fsck --u" its-fsck --u)"
t_eq "its-dump --fix<TAB> (an its-fsck option)" "" \
    "$(t_complete "its-dump --fix" its-dump --fix)"
t_eq "its-dump --device <TAB> (a number)" "" \
    "$(t_complete "its-dump --device " its-dump --device "")"

# files: the snapshot, and the options that name files
mkdir -p "$T_TMP/files/dir"
touch "$T_TMP/files/guest.mig" "$T_TMP/files/regs.json"
cd "$T_TMP/files" || exit 1
sorted() { tr ' ' '\n' <<<"$1" | sort | tr '\n' ' '; }
t_eq "its-dump <TAB>" "dir guest.mig regs.json " \
    "$(sorted "$(t_complete "its-dump " its-dump "")")"
t_eq "its-dump --color <TAB> (the snapshot: --color=WHEN takes no space)" \
    "dir guest.mig regs.json " \
    "$(sorted "$(t_complete "its-dump --color " its-dump --color "")")"
t_eq "its-fsck --its-regs r<TAB>" "regs.json" \
    "$(t_complete "its-fsck --its-regs r" its-fsck --its-regs r)"
t_eq "its-fsck --undo=g<TAB>" "guest.mig" \
    "$(t_complete "its-fsck --undo=g" its-fsck --undo = g)"
t_eq "its-fsck -o g<TAB>" "guest.mig" \
    "$(t_complete "its-fsck -o g" its-fsck -o g)"
t_eq "its-fsck --undo-file d<TAB>" "dir" \
    "$(t_complete "its-fsck --undo-file d" its-fsck --undo-file d)"

# registered for both commands
t_eq "complete -p" "complete -F _its_tools its-dump
complete -F _its_tools its-fsck" "$(complete -p its-dump its-fsck)"
t_done
