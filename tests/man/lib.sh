# Sourced by the tests/man scripts: where things are, a scratch directory,
# and assertions that count. The Makefile's check-man target sets the ITS_*
# variables (see run.sh).
set -u
B=${ITS_BUILD_DIR:?run through make check-man}
SRC=${ITS_SOURCE_DIR:?run through make check-man}
SAMPLES=${ITS_SAMPLES_DIR:-$SRC/build/samples}
DUMP=$B/its-dump
FSCK=$B/its-fsck
PAGES=$B/man
T_NAME=$(basename "$0" .sh)
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/its-man-$T_NAME.XXXXXX")
trap 'rm -rf "$T_TMP"' EXIT
t_checks=0
t_fails=0

t_fail()
{
    printf '%s: FAIL: %s\n' "$T_NAME" "$*" >&2
    t_fails=$((t_fails + 1))
    t_checks=$((t_checks + 1))
}

t_pass()
{
    t_checks=$((t_checks + 1))
}

# t_eq WHAT EXPECTED ACTUAL (several lines: shown as a diff)
t_eq()
{
    if [[ $2 == "$3" ]]; then
        t_pass
    elif [[ $2 == *$'\n'* || $3 == *$'\n'* ]]; then
        t_fail "$1"$'\n'"$(diff -u --label expected --label got \
            <(printf '%s\n' "$2") <(printf '%s\n' "$3"))"
    else
        t_fail "$1"$'\n'"  expected: $2"$'\n'"  got:      $3"
    fi
}

# t_true WHAT COMMAND...
t_true()
{
    local what=$1
    shift
    if "$@"; then t_pass; else t_fail "$what"; fi
}

t_done()
{
    echo "$T_NAME: $t_checks checks, $t_fails failed"
    [[ $t_fails -eq 0 ]]
}

# A page as a reader sees it: no overstrikes for fonts, lines wide enough
# that prose is not hyphenated.
t_render()
{
    mandoc -T ascii -O width=200 "$1" | sed 's/.\x08//g'
}
