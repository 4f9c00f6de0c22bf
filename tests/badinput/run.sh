#!/usr/bin/env bash
# The bad-input corpus: make the damaged snapshots (badinput-gen), run
# its-dump and its-fsck -n on each under ASan+UBSan with a 2 s timeout, and
# compare exit status and text with tests/badinput/expected.tsv.
#
#   run.sh [--record FILE]
#
# Environment (the Makefile's check-badinput target sets them):
#   BADINPUT_BIN    directory of the sanitizer-built its-dump and its-fsck
#   BADINPUT_GEN    badinput-gen;  BADINPUT_FIXTURE  its-fixture
#   BADINPUT_SAMPLE kvm-virt-2level.elf;  BADINPUT_SAMPLE_REGS  its registers
#   BADINPUT_WORK   scratch directory (emptied first)
#   BADINPUT_JOBS   parallel runs (default 2)
# --record FILE writes what the programs do now to FILE, in expected.tsv's
# format, for review (README); the comparison still decides the exit status.
set -euo pipefail
set -f

here=$(cd "$(dirname "$0")" && pwd)

# One run: "NAME<TAB>PROGRAM<TAB>ARGS" in, "NAME PROGRAM ARGS STATUS TEXT"
# (tab-separated, one line) out. TEXT is stderr when there is any (one line
# per error is the rule; more lines are kept, joined with " \\n "), else the
# lines that summarise a report: its-dump's warnings and "Summary:", its-fsck's
# verdict (its second line: "KVM restore ...") and "Summary:", joined by " || ".
one() {
	local name prog args status text out=$tmp.out err=$tmp.err
	IFS=$'\t' read -r name prog args <<<"$1"
	status=0
	# shellcheck disable=SC2086  # ARGS is split on spaces on purpose
	timeout -k 1 2 "$BADINPUT_BIN/$prog" $args >"$out" 2>"$err" </dev/null || status=$?
	if grep -q -E 'Sanitizer|runtime error:' "$err"; then
		text=$(grep -m1 -E 'Sanitizer|runtime error:' "$err")
		status="sanitizer($status)"
	elif [ "$status" = 124 ] || [ "$status" = 137 ]; then
		text="timed out after 2 s"
		status="timeout($status)"
	elif [ -s "$err" ]; then
		text=$(awk 'NR > 1 { printf " \\n " } { printf "%s", $0 }' "$err")
	elif [ "$prog" = its-dump ]; then
		text=$(awk '/^ *warning: / && w++ < 3 { printf "%s || ", $0 }
			/^Summary:/ { s = $0 } END { print s ? s : "(no summary line)" }' "$out")
	else
		text=$(awk 'NR == 2 { v = $0 } /^Summary:/ { s = $0 }
			END { printf "%s || %s", v ? v : "(no verdict line)",
			      s ? s : "(no summary line)" }' "$out")
	fi
	text=${text//$'\t'/ }
	printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$prog" "$args" "$status" "${text:0:700}"
}

if [ "${1:-}" = --batch ]; then
	shift
	cd "$BADINPUT_WORK/cases"
	tmp=$BADINPUT_WORK/tmp.$$
	for job in "$@"; do
		one "$job"
	done
	rm -f "$tmp.out" "$tmp.err"
	exit 0
fi

record=
if [ "${1:-}" = --record ]; then
	record=$(realpath -m "$2")
	shift 2
fi
[ $# -eq 0 ] || { echo "usage: run.sh [--record FILE]" >&2; exit 16; }
for v in BADINPUT_BIN BADINPUT_GEN BADINPUT_FIXTURE BADINPUT_SAMPLE \
	 BADINPUT_SAMPLE_REGS BADINPUT_WORK; do
	[ -n "${!v:-}" ] || { echo "run.sh: $v is not set" >&2; exit 16; }
done
BADINPUT_WORK=$(realpath -m "$BADINPUT_WORK")
BADINPUT_BIN=$(realpath "$BADINPUT_BIN")
export BADINPUT_BIN BADINPUT_WORK
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:exitcode=86
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=87
export LSAN_OPTIONS=exitcode=88
export NO_COLOR=1 LC_ALL=C

# Two "make check" in one tree would empty each other's cases: take turns.
mkdir -p "$(dirname "$BADINPUT_WORK")"
exec 9>"$BADINPUT_WORK.lock"
flock 9

start=$(date +%s%N)
rm -rf "$BADINPUT_WORK"
mkdir -p "$BADINPUT_WORK/base" "$BADINPUT_WORK/cases"
base=$BADINPUT_WORK/base
spec=$here/../fixtures/minimal.json
"$BADINPUT_FIXTURE" "$spec" -o "$base/min.mig" --manifest "$base/min.mig.json"
"$BADINPUT_FIXTURE" "$spec" -o "$base/min.save" --manifest "$base/min.save.json"
"$BADINPUT_FIXTURE" "$spec" -o "$base/min.elf" --manifest "$base/min.elf.json" \
	--regs "$BADINPUT_WORK/cases/min.regs.json"
# a private copy: a concurrent "make asan" relinks build-asan under us
mkdir -p "$BADINPUT_WORK/bin"
cp "$BADINPUT_BIN/its-dump" "$BADINPUT_BIN/its-fsck" "$BADINPUT_WORK/bin/"
BADINPUT_BIN=$BADINPUT_WORK/bin
cp --sparse=always "$BADINPUT_SAMPLE" "$base/kvm2.elf"
cp "$BADINPUT_SAMPLE_REGS" "$BADINPUT_WORK/cases/kvm2.regs.json"
"$BADINPUT_GEN" "$base" "$BADINPUT_WORK/cases" >/dev/null

# its-fsck -n: read-only whatever else the arguments say
awk -F'\t' '{
	sep = ($3 == "") ? "" : " "
	printf "%s\tits-dump\t%s%s%s\n", $1, $3, sep, $2
	printf "%s\tits-fsck\t-n %s%s%s\n", $1, $3, sep, $2
}' "$BADINPUT_WORK/cases/cases.tsv" >"$BADINPUT_WORK/jobs"

xargs -d '\n' -P "${BADINPUT_JOBS:-2}" -n 8 bash "$0" --batch \
	<"$BADINPUT_WORK/jobs" >"$BADINPUT_WORK/results.unsorted"
# back into the generator's order
awk -F'\t' 'NR == FNR { got[$1 "\t" $2] = $0; next }
	{ print got[$1 "\t" $2] }' "$BADINPUT_WORK/results.unsorted" \
	"$BADINPUT_WORK/jobs" >"$BADINPUT_WORK/results"

expected=$here/expected.tsv
[ -f "$expected" ] || expected=/dev/null

if [ -n "$record" ]; then
	# pending lines ("?": judged wrong, not recorded) are kept as they are
	{
		printf '%s\n' \
			"# The bad-input corpus's expected results (README): case, program," \
			"# arguments (run in the cases directory), exit status, and the text:" \
			"# stderr, else the report's summary lines. Status \"?\" = pending: the" \
			"# behaviour was judged wrong, the text says why; such a run must only" \
			"# not crash, hang or trip a sanitizer. Reviewed by hand."
		awk -F'\t' 'FILENAME == ARGV[1] {
				if ($4 == "?") pend[$1 "\t" $2] = $0
				next
			}
			{ k = $1 "\t" $2; print (k in pend) ? pend[k] : $0 }' \
			"$expected" "$BADINPUT_WORK/results"
	} >"$record"
	echo "badinput: recorded $(grep -c -v '^#' "$record") runs in $record"
fi

# Exit status and text must match. A pending run (expected status "?": the
# behaviour was judged wrong and is not recorded) must only not crash, hang
# or trip a sanitizer. A case is ok when both its runs are.
awk -F'\t' -v cases="$BADINPUT_WORK/cases" -v verbose="${BADINPUT_VERBOSE:-0}" '
	FILENAME == ARGV[1] {
		if ($0 ~ /^#/ || $0 == "") next
		k = $1 "\t" $2; exp_args[k] = $3; exp_st[k] = $4; exp_tx[k] = $5
		order[++n] = k; next
	}
	{
		k = $1 "\t" $2; seen[k] = 1; name[$1] = 1
		if (!(k in exp_st)) {
			printf "FAIL %s %s: no expectation; got status %s: %s\n", $1, $2, $4, $5
			bad[$1] = 1; next
		}
		if (exp_st[k] == "?" && exp_args[k] == $3 && $4 ~ /^[0-9]+$/) {
			npend++
			if (verbose)
				printf "PENDING %s %s: got status %s: %s\n", $1, $2, $4, $5
			next
		}
		if (exp_args[k] != $3 || exp_st[k] != $4 || exp_tx[k] != $5) {
			printf "FAIL %s: cd %s && ../bin/%s %s\n  expected: status %s: %s\n  got:      status %s: %s\n",
				$1, cases, $2, $3, exp_st[k], exp_tx[k], $4, $5
			if (exp_args[k] != $3)
				printf "  (expected arguments: %s)\n", exp_args[k]
			bad[$1] = 1
		}
	}
	END {
		for (i = 1; i <= n; i++)
			if (!(order[i] in seen)) {
				split(order[i], f, "\t")
				printf "FAIL %s %s: expected but not generated\n", f[1], f[2]
				bad[f[1]] = 1; name[f[1]] = 1
			}
		total = 0; nbad = 0
		for (c in name) { total++; if (c in bad) nbad++ }
		printf "badinput: %d cases, %d ok", total, total - nbad
		if (npend)
			printf " (%d runs pending: judged wrong, see expected.tsv)", npend
		printf "\n"
		exit nbad != 0
	}' "$expected" "$BADINPUT_WORK/results" && rc=0 || rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
printf 'badinput: %s runs in %d.%d s\n' "$(wc -l <"$BADINPUT_WORK/results")" \
	$((ms / 1000)) $((ms % 1000 / 100))
exit "$rc"
