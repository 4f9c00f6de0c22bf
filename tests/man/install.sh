#!/usr/bin/env bash
# make install into a scratch DESTDIR puts exactly the programs, the pages
# and the completion (one file per command) in place, where man and
# bash-completion's lazy loader find them; make uninstall leaves no file.
# Then the same with no bash-completion package known to pkg-config.
. "$(dirname "$0")/lib.sh"

make=${ITS_MAKE:-make}
prefix=/usr/local

# installed DESTDIR COMPLETIONSDIR: the files and symlinks under DESTDIR
installed() { (cd "$1" && find . \( -type f -o -type l \) | sort); }

check_install()
{
    local dest=$1 compdir=$2
    shift 2
    local out
    # -o: check-man has built the programs and pages; remaking them here
    # could replace a binary while the unit tests run it
    out=$($make -s --no-print-directory -C "$SRC" -o all -o man install \
        DESTDIR="$dest" PREFIX=$prefix "$@" 2>&1)
    t_eq "make install $*: exit status" 0 $?
    [[ -n $out ]] && echo "$out"
    t_eq "make install $*: the files" "$(printf '%s\n' \
        ".$compdir/its-dump" ".$compdir/its-fsck" \
        ".$prefix/bin/its-dump" ".$prefix/bin/its-fsck" \
        ".$prefix/share/man/man1/its-dump.1" \
        ".$prefix/share/man/man8/its-fsck.8" | sort)" "$(installed "$dest")"
    t_true "bin/its-dump is executable" test -x "$dest$prefix/bin/its-dump"
    t_eq "installed its-fsck --version" "its-fsck (its-tools) $(cat "$SRC/VERSION")" \
        "$("$dest$prefix/bin/its-fsck" --version | head -n1)"
    t_true "man1/its-dump.1 is the built page" \
        cmp -s "$PAGES/its-dump.1" "$dest$prefix/share/man/man1/its-dump.1"
    t_true "man8/its-fsck.8 is the built page" \
        cmp -s "$PAGES/its-fsck.8" "$dest$prefix/share/man/man8/its-fsck.8"
    t_eq "the installed its-fsck(8) renders" "ITS-FSCK(8)" \
        "$(mandoc -T ascii "$dest$prefix/share/man/man8/its-fsck.8" 2>&1 |
            head -n1 | awk '{print $1}')"
    t_true "completions/its-dump is the completion file" \
        cmp -s "$SRC/completion/its-tools.bash" "$dest$compdir/its-dump"
    t_true "completions/its-fsck reads the same" \
        cmp -s "$SRC/completion/its-tools.bash" "$dest$compdir/its-fsck"
    # bash-completion's lazy loader, looking in that directory only
    t_eq "bash-completion loads the completion of its-fsck by its name" \
        "complete -F _its_tools its-fsck" \
        "$(BASH_COMPLETION_USER_DIR=/nonexistent \
            XDG_DATA_DIRS=$dest${compdir%/bash-completion/completions} bash -c '
            . /usr/share/bash-completion/bash_completion
            __load_completion its-fsck && complete -p its-fsck')"
    # an interactive bash, as a user's: the installed file loaded lazily
    # on first use, then asked for candidates as readline asks
    t_eq "bash -i: its-dump --lay<TAB>, then its-fsck --kernel 6.<TAB>" \
        "--layout= | 6.13 6.7 6.1 6.0" \
        "$(BASH_COMPLETION_USER_DIR=/nonexistent HOME=$T_TMP \
            XDG_DATA_DIRS=$dest${compdir%/bash-completion/completions} \
            bash --norc --noprofile -i -c '
            . /usr/share/bash-completion/bash_completion
            ask() {
                local COMP_LINE=$1 COMP_POINT=${#1} COMP_WORDS COMP_CWORD
                read -ra COMP_WORDS <<<"$1"
                [[ $1 == *" " ]] && COMP_WORDS+=("")
                COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
                COMPREPLY=()
                _completion_loader "${COMP_WORDS[0]}"
                local f; f=$(complete -p "${COMP_WORDS[0]}" | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
                "$f" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
                compgen -W "${COMPREPLY[*]}" -- "${COMP_WORDS[COMP_CWORD]}" | tr "\n" " "
            }
            a=$(ask "its-dump --lay"); b=$(ask "its-fsck --kernel 6.")
            echo "${a% } | ${b% }"' 2>/dev/null)"

    out=$($make -s --no-print-directory -C "$SRC" uninstall DESTDIR="$dest" \
        PREFIX=$prefix "$@" 2>&1)
    t_eq "make uninstall $*: exit status" 0 $?
    [[ -n $out ]] && echo "$out"
    t_eq "make uninstall $*: no file left" "" "$(installed "$dest")"
}

compdir=$(pkg-config --variable=completionsdir bash-completion)
t_true "pkg-config knows bash-completion's completionsdir" test -n "$compdir"
check_install "$T_TMP/d1" "$compdir"
check_install "$T_TMP/d2" "$prefix/share/bash-completion/completions" \
    BASHCOMP_PKG=its-tools-no-such-package
t_done
