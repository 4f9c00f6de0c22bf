#!/usr/bin/env bash
# make bench: time its-dump against `cat` on a 4 GiB-guest stream written by
# its-fixture (tests/fixtures/bench-4g.json: ~90% non-zero pages), plain and
# mapped-ram, in one run on this machine. Warm page cache, 5 runs each,
# min and median; peak RSS and peak anonymous memory (RssAnon) of its-dump.
# Needs about 8 GB of free space in TMPDIR; removes everything it wrote.
set -euo pipefail
BUILD=${BUILD:-build}
RUNS=${RUNS:-5}
top=$(cd "$(dirname "$0")/../.." && pwd)
spec=$top/tests/fixtures/bench-4g.json
fixture=$top/$BUILD/its-fixture
dump=$top/$BUILD/its-dump
runstat=$top/$BUILD/runstat

tmp=$(mktemp -d "${TMPDIR:-/tmp}/its-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# median and min of the first column of FILE
stats() { sort -n "$1" | awk '{a[NR]=$1} END {printf "%.3f %.3f", a[1], a[int((NR+1)/2)]}'; }

bench_one() {
	local label=$1 file=$2
	: > "$tmp/cat.t"; : > "$tmp/dump.t"; : > "$tmp/dump.mem"
	cat "$file" > /dev/null			# warm the page cache
	for _ in $(seq "$RUNS"); do
		"$runstat" cat "$file" | awk '{print $1}' >> "$tmp/cat.t"
		"$runstat" "$dump" --json "$file" > "$tmp/run"
		read -r secs maxrss anon status < "$tmp/run"
		if [ "$status" != 0 ]; then
			echo "its-dump failed on $file (exit $status)" >&2
			exit 1
		fi
		echo "$secs" >> "$tmp/dump.t"
		echo "$maxrss $anon" >> "$tmp/dump.mem"
	done
	read -r cmin cmed <<< "$(stats "$tmp/cat.t")"
	read -r dmin dmed <<< "$(stats "$tmp/dump.t")"
	maxrss=$(awk 'm < $1 {m = $1} END {print m}' "$tmp/dump.mem")
	anon=$(awk 'm < $2 {m = $2} END {print m}' "$tmp/dump.mem")
	printf '%-10s %14s  cat min %6.3fs med %6.3fs   its-dump min %6.3fs med %6.3fs   ratio(med) %5.2f  maxrss %6.1f MiB  RssAnon %5.1f MiB\n' \
		"$label" "$(stat -c %s "$file")" "$cmin" "$cmed" "$dmin" "$dmed" \
		"$(awk -v a="$dmed" -v b="$cmed" 'BEGIN {printf "%.2f", a / b}')" \
		"$(awk -v k="$maxrss" 'BEGIN {printf "%.1f", k / 1024}')" \
		"$(awk -v k="$anon" 'BEGIN {printf "%.1f", k / 1024}')"
}

echo "writing the 4 GiB-guest streams into $tmp ..."
t0=$(date +%s.%N)
"$fixture" "$spec" --format stream -o "$tmp/big.mig"
jq '.stream = ((.stream // {}) + {"mapped_ram": true})' "$spec" > "$tmp/mapped.json"
"$fixture" "$tmp/mapped.json" --format stream -o "$tmp/big-mapped-ram.mig"
echo "written in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
bench_one plain "$tmp/big.mig"
bench_one mapped-ram "$tmp/big-mapped-ram.mig"
