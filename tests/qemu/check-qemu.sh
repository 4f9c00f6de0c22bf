#!/bin/bash
# check-qemu.sh REALDIR
#
# End-to-end check of its-fsck's repairs against real QEMU: a stopped migration
# stream written by QEMU (REALDIR/out/qemu-X/guest-stopped.mig, made by
# ../shared/tools/make-real-fixtures.sh REALDIR/work REALDIR/out) is copied,
# corrupted in two ways its-fsck can repair safely (TCG_CTE_RES0 and
# TCG_DTE_INVALID_NONZERO), repaired with `its-fsck -p`, and then loaded by
# QEMU itself (-incoming, same machine and devices as the generator). The guest
# is resumed and must keep raising MSIs through the ITS: the interrupt counts
# of the virtio-blk request queues and of the virtio-rng queue (FIXTURE-IRQ
# lines the guest prints with device I/O on every FIXTURE-TICK) must rise
# strictly from tick to tick after the resume.
#
# CHECK_QEMU_NEGATIVE=1: negative control. After the (correct) repair, one more
# 8-byte entry is written at the wrong place -- the zero the DTE repair writes
# lands on the DTE of the virtio-blk device (DeviceID 0x10) instead of the
# garbage slot -- as a repair with an offset bug would do. The same QEMU check
# must then FAIL; the script exits 0 if it does and 1 if the check
# (wrongly) passes.
#
# Env: ITS_BUILD_DIR (default build), QEMU_VERSIONS (default "10.0 7.2"; the
# ones missing from REALDIR/out are skipped, at least one must be there),
# TICKS (ticks to watch after the resume, default 4, min 3), TICK_TIMEOUT (max
# seconds between two ticks, default 20), QEMU_MAX_LIFE (hard cap per QEMU, 180),
# KEEP=1 (keep the work directory).
# Every wait is bounded; every QEMU runs under timeout(1) and is stopped by its
# own PID. Nothing is killed by name.
set -euo pipefail
shopt -s nullglob

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=$(cd "$HERE/../.." && pwd)
REAL=${1:?usage: $0 REALDIR   (REALDIR/work and REALDIR/out from make-real-fixtures.sh)}
REAL=$(cd "$REAL" && pwd)
BUILD=$(cd "${ITS_BUILD_DIR:-$SRCDIR/build}" && pwd)
SHARED=${ITS_SHARED_DIR:-$(cd "$SRCDIR/../shared" && pwd)}
T=$SHARED/tools/fixture_tools.py
FSCK=$BUILD/its-fsck
DUMP=$BUILD/its-dump
NEG=${CHECK_QEMU_NEGATIVE:-0}
QEMU_VERSIONS=${QEMU_VERSIONS:-"10.0 7.2"}
TICKS=${TICKS:-4}
TICK_TIMEOUT=${TICK_TIMEOUT:-20}
QEMU_MAX_LIFE=${QEMU_MAX_LIFE:-180}
[ "$TICKS" -ge 3 ] || { echo "TICKS must be >= 3" >&2; exit 2; }
for x in "$FSCK" "$DUMP"; do [ -x "$x" ] || { echo "missing $x (run make)" >&2; exit 2; }; done
command -v jq >/dev/null || { echo "jq is needed" >&2; exit 2; }
PY=$(command -v python3)
W=$REAL/work
T0=$(date +%s)
MODE=$([ "$NEG" = 1 ] && echo negative || echo positive)
TMP=$BUILD/check-qemu-$MODE.$$
mkdir -p "$TMP"

log() { printf '[check-qemu %s +%ss] %s\n' "$MODE" "$(( $(date +%s) - T0 ))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ------------------------------------------------------------------ cleanup
PIDS=()
stop_pid() {  # TERM, wait up to 10 s, then KILL (only our own PIDs)
    local p=$1 i
    [ -n "$p" ] || return 0
    kill -0 "$p" 2>/dev/null || return 0
    kill -TERM "$p" 2>/dev/null || true
    for i in $(seq 1 20); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.5; done
    kill -KILL "$p" 2>/dev/null || true
}
cleanup() {
    local p
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------- stream helpers (python)
# gpa2off STREAM GPA: file offset of the byte at guest physical address GPA
# (mach-virt.ram at 0x40000000) in a plain precopy stream. The stopped stream
# holds each RAM page once; the page's data is looked up with fixture_tools'
# decoder and must occur exactly once in the file.
gpa2off() {
    "$PY" - "$T" "$1" "$2" <<'EOF'
import sys, os
sys.path.insert(0, os.path.dirname(sys.argv[1]))
import fixture_tools as ft
stream, gpa = sys.argv[2], int(sys.argv[3], 0)
base = 0x40000000
f, m, size = ft._open_map(stream)
page = (gpa - base) & ~4095
hits = [(k, d) for b, o, k, d in ft.ram_pages(m) if b == "mach-virt.ram" and o == page]
if len(hits) != 1 or hits[0][0] != "page":
    sys.exit("GPA %#x: page sent %d times / not as data: %s" % (gpa, len(hits), [h[0] for h in hits]))
p = m.find(hits[0][1])
if p < 0 or m.find(hits[0][1], p + 1) != -1:
    sys.exit("GPA %#x: page data not unique in the stream" % gpa)
print(p + (gpa & 4095))
EOF
}
# rw64 FILE OFFSET [NEWVALUE]: print the little-endian u64 at OFFSET, or replace it
rw64() {
    "$PY" - "$@" <<'EOF'
import sys, struct
path, off = sys.argv[1], int(sys.argv[2], 0)
with open(path, "r+b") as f:
    f.seek(off); old = struct.unpack("<Q", f.read(8))[0]
    if len(sys.argv) > 3:
        f.seek(off); f.write(struct.pack("<Q", int(sys.argv[3], 0)))
print("0x%016x" % old)
EOF
}

# --------------------------------------------------------- QEMU (as verify)
KERNEL=$(ls "$W"/arm64/kroot/boot/vmlinuz-* | head -1)
INITRD=$W/initramfs.cpio.gz
[ -f "$KERNEL" ] && [ -f "$INITRD" ] && [ -f "$W/disk.img" ] || die "no kernel/initrd/disk in $W"
# the generator's vm_args(), verbatim; checked below against its cmdline.txt
# shellcheck disable=SC2054  # the commas are QEMU option syntax
vm_args() {  # vm_args SERIALLOG QMPSOCK -> sets the array VM_ARGS
    VM_ARGS=(-machine virt,gic-version=3,its=on -cpu cortex-a57 -smp 2 -m 256M
        -accel tcg -nodefaults -display none -no-reboot -monitor none
        -serial "file:$1" -qmp "unix:$2,server=on,wait=off"
        -kernel "$KERNEL" -initrd "$INITRD"
        -append "console=ttyAMA0 loglevel=8 nokaslr panic=-1"
        -netdev hubport,id=n0,hubid=0 -device virtio-net-pci,netdev=n0,romfile=,addr=01.0
        -drive "if=none,id=d0,file=$W/disk.img,format=raw,file.locking=off"
        -device virtio-blk-pci,drive=d0,addr=02.0
        -device virtio-rng-pci,addr=03.0
        -device pcie-root-port,id=rp1,chassis=1,addr=04.0
        -device qemu-xhci,bus=rp1
        -device pcie-root-port,id=rp2,chassis=2,addr=05.0
        -netdev hubport,id=n1,hubid=1 -device e1000e,netdev=n1,romfile=,bus=rp2)
}
# qemu_for LABEL: the QEMU binary (or wrapper) the generator used, checking that
# our command line is the generator's (apart from the serial/QMP paths)
qemu_for() {
    local c=$REAL/out/$1/cmdline.txt qbin mine
    [ -f "$c" ] || die "$c missing"
    qbin=$(awk '{print $1; exit}' "$c")
    vm_args SERIAL QMPSOCK
    mine=$(printf '%q ' "$qbin" "${VM_ARGS[@]}")
    if [ "$(sed -E 's/-serial [^ ]+ -qmp [^ ]+ //' "$c")" != \
         "$(echo "$mine" | sed -E 's/-serial [^ ]+ -qmp [^ ]+ //')" ]; then
        die "QEMU command line differs from the generator's $c"
    fi
    echo "$qbin"
}

# load_and_watch NAME QEMUBIN STREAM: load, resume, check the MSI counts.
# Returns 0 (PASS) or 1 (FAIL); prints the counts.
load_and_watch() {
    local name=$1 qbin=$2 stream=$3 d=$TMP/$1 sock serial pidf tpid qpid i st n have
    mkdir -p "$d"; sock=$d/qmp.sock; serial=$d/serial.log; pidf=$d/qemu.pid
    vm_args "$serial" "$sock"
    timeout --kill-after=10 "$QEMU_MAX_LIFE" "$qbin" "${VM_ARGS[@]}" -pidfile "$pidf" \
        -incoming "exec:cat $stream" > "$d/qemu.stdout" 2>&1 < /dev/null &
    tpid=$!; PIDS+=("$tpid")
    for i in $(seq 1 60); do
        [ -s "$pidf" ] && [ -S "$sock" ] && break
        kill -0 "$tpid" 2>/dev/null || { cat "$d/qemu.stdout" >&2; die "$name: QEMU exited early"; }
        sleep 0.5
    done
    [ -s "$pidf" ] || die "$name: no QEMU pidfile after 30 s"
    qpid=$(cat "$pidf"); PIDS+=("$qpid")
    log "$name: QEMU pid $qpid loading $(basename "$stream")"
    local rc=0 t; t=$(date +%s)
    "$PY" "$T" wait-status "$sock" paused,running,postmigrate --timeout 120 > "$d/status.txt" ||
        { log "$name: incoming migration did not finish"; rc=1; }
    if [ $rc = 0 ]; then
        "$PY" "$T" qmp "$sock" query-migrate > "$d/query-migrate.json" || rc=1
        grep -q '"status": "completed"' "$d/query-migrate.json" ||
            { log "$name: incoming migration not completed: $(tr -d '\n' < "$d/query-migrate.json")"; rc=1; }
        st=$("$PY" "$T" qmp "$sock" query-status | tr -d '\n')
        log "$name: loaded in $(( $(date +%s) - t ))s, status $st; cont"
        case $st in *'"status": "running"'*) ;; *) "$PY" "$T" qmp "$sock" cont >/dev/null || rc=1;; esac
    fi
    # wait for TICKS ticks, at most TICK_TIMEOUT s between two of them
    have=0; i=0
    while [ $rc = 0 ] && [ "$have" -lt "$TICKS" ]; do
        n=$(grep -ac '^FIXTURE-TICK ' "$serial" 2>/dev/null || true)
        if [ "${n:-0}" -gt "$have" ]; then have=$n; i=0; continue; fi
        i=$((i + 1))
        [ "$i" -le $((TICK_TIMEOUT * 2)) ] || { log "$name: no new FIXTURE-TICK within ${TICK_TIMEOUT}s (after $have)"; break; }
        sleep 0.5
    done
    log "$name: $have tick(s) seen after resume in $(( $(date +%s) - t ))s"
    # the VM's own state at the end: "running" means QEMU and the vCPUs run on,
    # so missing ticks/counts are the guest waiting for interrupts
    "$PY" "$T" qmp "$sock" query-status > "$d/status-end.json" 2>/dev/null || true
    log "$name: QEMU status at the end: $(tr -d '\n ' < "$d/status-end.json"); guest's last line: $(tr -d '\r\0' < "$serial" | awk 'NF' | tail -1)"
    "$PY" "$T" qmp "$sock" quit --timeout 10 >/dev/null 2>&1 || true
    stop_pid "$qpid"; stop_pid "$tpid"
    PIDS=()   # both gone: never signal a recycled PID later
    [ $rc = 0 ] || return 1
    counts "$name" "$serial" "$REAL/out/$name/serial.log"
}

# counts NAME SERIAL SRCSERIAL: per tick, the sums over CPUs of the virtio-blk
# request queues (virtioN-req.M) and of the virtio-rng queue (virtioN-input).
# Row "saved": the counts the source guest printed last before the stream was
# saved (its /proc/interrupts at FIXTURE-READY when the first tick after the
# resume is tick 1, else its FIXTURE-IRQ lines of the tick before). Every
# consecutive pair of rows (saved, tick, tick, ...) must show both rising, and
# at least TICKS ticks must have come after the resume.
IRQ_AWK='
    { sub(/\r$/, "") }
    function add(name, s) {
        if (name ~ /^virtio[0-9]+-req\.[0-9]+$/) blk[key] += s
        if (name ~ /^virtio[0-9]+-input$/) rng[key] += s
    }
    function sum(from,   i, s) { s = 0; for (i = from; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; return s }
    /=== FIXTURE: \/proc\/interrupts ===/ { inready = 1; next }
    /=== FIXTURE: kernel log/ { inready = 0 }
    inready && $1 ~ /^[0-9]+:$/ { key = "ready"; add($NF, sum(2)) }
    /^FIXTURE-IRQ / { key = $2; add($NF, sum(4)) }
    /^FIXTURE-TICK / { tick[$2] = $3 }'
counts() {
    local name=$1 serial=$2 srcserial=$3 table first base
    table=$(tr -d '\0' < "$serial" | awk "$IRQ_AWK"'
        END { for (k in tick) print k, blk[k] + 0, rng[k] + 0, tick[k] }' | sort -n)
    first=$(echo "$table" | awk 'NF { print $1; exit }')
    base=""
    if [ -n "$first" ] && [ -f "$srcserial" ]; then
        base=$(tr -d '\0' < "$srcserial" | awk -v want="$([ "$first" = 1 ] && echo ready || echo $((first - 1)))" \
            "$IRQ_AWK"' END { if (want in blk || want in rng) print "saved", blk[want] + 0, rng[want] + 0, "(source guest, before the save)" }')
    fi
    table=$(printf '%s\n%s\n' "$base" "$table" | awk NF)
    echo "$table" > "$TMP/$name/counts.txt"
    printf '  %-10s %6s  %10s  %10s  %s\n' "$name" tick virtio-blk virtio-rng guest >&2
    echo "$table" | awk -v nm="$name" 'NF { printf "  %-10s %6s  %10s  %10s  %s %s %s %s %s\n", nm, $1, $2, $3, $4, $5, $6, $7, $8 }' >&2
    echo "$table" | awk -v want="$TICKS" '
        NF { k++; if ($1 != "saved") t++; if (k > 1 && !($2 > pb && $3 > pr)) bad++; pb = $2; pr = $3 }
        END { exit (t >= want && !bad) ? 0 : 1 }'
}

# ------------------------------------------------------------------- main
run_one() {  # run_one LABEL -> 0 PASS, 1 FAIL (of the QEMU check)
    local label=$1 src=$REAL/out/$1/guest-stopped.mig s qbin dj cte_gpa l2 dte_gpa blk_gpa
    local cte_off dte_off blk_off old rc out
    qbin=$(qemu_for "$label")
    s=$TMP/$label.mig
    cp "$src" "$s"
    dj=$("$DUMP" -j "$s")
    cte_gpa=$(echo "$dj" | jq -r '.its[0].collections[] | select(.icid == 0) | .gpa')
    l2=$(echo "$dj" | jq -r '.its[0].device_table.l1[0].l2')
    blk_gpa=$(echo "$dj" | jq -r '.its[0].devices[] | select(.device_id == 16) | .gpa')
    [ -n "$cte_gpa" ] && [ -n "$blk_gpa" ] && [ "$l2" != null ] || die "$label: no ICID 0 / L2 page / DeviceID 0x10"
    [ -z "$(echo "$dj" | jq '.its[0].devices[] | select(.device_id == 48)')" ] || die "$label: DeviceID 0x30 is in use"
    dte_gpa=$(printf '0x%x' $(( l2 + 0x30 * 8 )))
    cte_off=$(gpa2off "$s" "$cte_gpa"); dte_off=$(gpa2off "$s" "$dte_gpa"); blk_off=$(gpa2off "$s" "$blk_gpa")

    # 2. corrupt: CTE[ICID 0] |= 0x00ab000000000000; DTE[0x30] = 0x12345600
    old=$(rw64 "$s" "$cte_off"); rw64 "$s" "$cte_off" $(( old | 0x00ab000000000000 )) >/dev/null
    log "$label: CTE ICID 0 at GPA $cte_gpa (file offset $cte_off): $old -> $(rw64 "$s" "$cte_off")"
    old=$(rw64 "$s" "$dte_off" 0x0000000012345600)
    [ "$old" = 0x0000000000000000 ] || die "$label: DTE 0x30 was not zero ($old)"
    log "$label: DTE 0x30 at GPA $dte_gpa (file offset $dte_off): $old -> $(rw64 "$s" "$dte_off")"
    cp "$s" "$TMP/$label.corrupt"
    rc=0; out=$("$FSCK" -j "$s") || rc=$?
    [ $rc = 4 ] || die "$label: its-fsck on the corrupted stream exited $rc, not 4"
    [ "$(echo "$out" | jq -r '[.problems[].code] | sort | join(",")')" = \
      "LAYOUT_QEMU_TCG,TCG_CTE_RES0,TCG_DTE_INVALID_NONZERO" ] ||
        die "$label: unexpected problems: $(echo "$out" | jq -c '[.problems[].code]')"
    [ "$("$FSCK" -j --dry-run "$s" | jq -r '[.repairs[].file_offset] | sort | join(",")')" \
      = "$(printf '0x%x,0x%x' "$cte_off" "$dte_off" | tr , '\n' | sort | paste -sd,)" ] ||
        die "$label: its-fsck --dry-run plans writes at other file offsets than $cte_off/$dte_off"
    log "$label: its-fsck: exit 4, TCG_CTE_RES0 + TCG_DTE_INVALID_NONZERO (+ LAYOUT_QEMU_TCG info)"

    # 3. repair, re-check, undo round trip, repair again
    rc=0; "$FSCK" -p "$s" > "$TMP/$label.preen.txt" || rc=$?
    [ $rc = 1 ] || die "$label: its-fsck -p exited $rc, not 1"
    rc=0; "$FSCK" "$s" > /dev/null || rc=$?
    [ $rc = 0 ] || die "$label: re-check after the repair exited $rc, not 0"
    [ -s "$s.its-undo" ] || die "$label: no undo file $s.its-undo"
    cp -p "$s" "$TMP/$label.undone"   # -p: --undo refuses a file whose mtime moved since the repair
    "$FSCK" --undo="$s.its-undo" "$TMP/$label.undone" > /dev/null || die "$label: --undo failed"
    cmp "$TMP/$label.undone" "$TMP/$label.corrupt" || die "$label: --undo did not give back the corrupted bytes"
    rc=0; "$FSCK" -p "$TMP/$label.undone" > /dev/null || rc=$?
    [ $rc = 1 ] || die "$label: its-fsck -p of the undone copy exited $rc, not 1"
    cmp "$TMP/$label.undone" "$s" || die "$label: repairing the undone copy again gave other bytes"
    rm -f "$TMP/$label.undone" "$TMP/$label.undone.its-undo"
    [ "$(rw64 "$s" "$cte_off")" = "$(rw64 "$src" "$cte_off")" ] && [ "$(rw64 "$s" "$dte_off")" = 0x0000000000000000 ] ||
        die "$label: repaired entries differ from QEMU's originals"
    cmp -s "$s" "$src" || die "$label: the repaired stream is not byte-identical to QEMU's original"
    log "$label: its-fsck -p: exit 1; re-check exit 0; undo into a copy == corrupted bytes, repaired again == first repair; repaired stream == QEMU's original"

    # 5. negative control: the DTE zero lands on DeviceID 0x10 (virtio-blk)
    if [ "$NEG" = 1 ]; then
        old=$(rw64 "$s" "$blk_off" 0)
        log "$label: NEGATIVE CONTROL: zeroed DTE of DeviceID 0x10 at GPA $blk_gpa (file offset $blk_off, was $old)"
        rc=0; "$FSCK" "$s" > /dev/null || rc=$?
        log "$label: (its-fsck on the control stream exits $rc: an unmapped device is not a problem it can see)"
    fi

    # 4. QEMU loads the stream, the guest resumes, MSIs keep coming
    if load_and_watch "$label" "$qbin" "$s"; then
        log "$label: PASS: QEMU loaded the stream, the guest resumed, virtio-blk and virtio-rng MSI counts rise on every tick"
        return 0
    fi
    log "$label: FAIL: after resume the MSI counts did not rise on every tick (or the guest stopped ticking)"
    return 1
}

labels=()
for v in $QEMU_VERSIONS; do
    if [ -f "$REAL/out/qemu-$v/guest-stopped.mig" ]; then labels+=("qemu-$v")
    else log "qemu-$v: no stream in $REAL/out, skipped"; fi
done
[ ${#labels[@]} -gt 0 ] || die "no guest-stopped.mig in $REAL/out"

status=0
for l in "${labels[@]}"; do
    t=$(date +%s)
    if run_one "$l"; then r=PASS; else r=FAIL; fi
    if [ "$NEG" = 1 ]; then
        if [ $r = FAIL ]; then log "$l: negative control: the check FAILED as it must (${r}, $(( $(date +%s) - t ))s): OK"
        else log "$l: negative control: the check PASSED on a broken stream: the test cannot fail!"; status=1; fi
    else
        log "$l: $r ($(( $(date +%s) - t ))s)"
        [ $r = PASS ] || status=1
    fi
done
log "total $(( $(date +%s) - T0 ))s: $([ $status = 0 ] && echo OK || echo FAILED)"
exit $status
