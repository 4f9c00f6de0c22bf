#!/usr/bin/env bash
# The jq recipes of the pages' EXAMPLES, as printed there, run on the real
# KVM-layout sample (build/samples/kvm-virt-2level.mig) and on a copy of it
# damaged in two entries, with their exact results.
. "$(dirname "$0")/lib.sh"

sample=$SAMPLES/kvm-virt-2level.mig
t_true "$sample exists (make samples)" test -s "$sample"

# a page's text with blanks squeezed, so a recipe broken over lines in an
# .EX block still matches
squeezed() { t_render "$1" | tr -s ' \n\t' '   '; }
dump_page=$(squeezed "$PAGES/its-dump.1")
fsck_page=$(squeezed "$PAGES/its-fsck.8")

# shown PAGE_TEXT PROGRAM JQ_OPT FILTER: the page shows
# "PROGRAM -j guest.mig | jq JQ_OPT 'FILTER'"
shown()
{
    local cmd="$2 -j guest.mig | jq ${3:+$3 }'$4'"
    if [[ $1 == *"$cmd"* ]]; then
        t_pass
    else
        t_fail "the page does not show: $cmd"
    fi
}

# recipe PROGRAM JQ_OPT FILTER SNAPSHOT: its result
recipe()
{
    "$B/$1" -j "$4" | jq ${2:+"$2"} "$3"
}

# its-dump(1)
devices='.its[].devices[] | [.device_id, .itt, (.events | length)] | @tsv'
t_eq "its-dump: devices, ITTs, events" "$(printf '%s\t%s\t%s\n' \
    8 0x415ab200 3  16 0x415ab000 5  24 0x415ab400 2  32 0x415ab300 1 \
    256 0x415ab500 1  512 0x415ab100 8)" \
    "$(recipe its-dump -r "$devices" "$sample")"
dump_lpis='.its[] | (.collections | map({(.icid | tostring): .target}) | add) as $vcpu | [.devices[].events[] | {vcpu: $vcpu[.icid | tostring], lpi}] | group_by(.vcpu)[] | {vcpu: .[0].vcpu, lpis: (map(.lpi) | sort)}'
lpis_ok='{"vcpu":0,"lpis":[8193,8195,8200,8202,8204,8206,8209,8213]}
{"vcpu":1,"lpis":[8192,8194,8196,8201,8203,8205,8207,8208,8210,8212,8214,8215]}'
t_eq "its-dump: LPIs per vCPU" "$lpis_ok" \
    "$(recipe its-dump -c "$dump_lpis" "$sample")"

# its-fsck(8) on the sample as it is: restores everything, drops nothing
fsck_lpis='[.restored.its[].devices[].events[]] | group_by(.vcpu)[] | {vcpu: .[0].vcpu, lpis: (map(.lpi) | sort)}'
fails='.verdict | select(.restore == "fail") | {errno, code, device_id, event_id}'
fail_devs='[.problems[] | select(.detail | contains("(restore: ")) | .device_id] | unique'
dropped='.dropped[] | [.table, .device_id, .event_id, .reason] | @tsv'
errors='.problems[] | select(.severity == "error") | .code'
t_eq "its-fsck: LPIs per vCPU" "$lpis_ok" \
    "$(recipe its-fsck -c "$fsck_lpis" "$sample")"
t_eq "its-fsck: where the restore fails" "" \
    "$(recipe its-fsck -c "$fails" "$sample")"
t_eq "its-fsck: devices that fail" "[]" \
    "$(recipe its-fsck -c "$fail_devs" "$sample")"
t_eq "its-fsck: dropped" "" \
    "$(recipe its-fsck -r "$dropped" "$sample")"
t_eq "its-fsck: errors" "" "$(recipe its-fsck "" "$errors" "$sample")"

shown "$dump_page" its-dump -r "$devices"
shown "$dump_page" its-dump -c "$dump_lpis"
shown "$fsck_page" its-fsck -c "$fsck_lpis"
shown "$fsck_page" its-fsck -c "$fails"
shown "$fsck_page" its-fsck -c "$fail_devs"
shown "$fsck_page" its-fsck -r "$dropped"
shown "$fsck_page" its-fsck "" "$errors"

# the graphs draw (graphviz is installed where make check runs)
for cmd in "its-dump --format=dot guest.mig | dot -Tsvg > its.svg" \
    "its-fsck --format=dot guest.mig | dot -Tsvg > problems.svg"; do
    [[ $dump_page$fsck_page == *"$cmd"* ]] && t_pass ||
        t_fail "the pages do not show: $cmd"
done
for prog in its-dump its-fsck; do
    svg=$("$B/$prog" --format=dot "$sample" | dot -Tsvg)
    t_eq "$prog --format=dot | dot -Tsvg: exit status" 0 $?
    t_true "$prog --format=dot | dot -Tsvg: an SVG" grep -q '^<svg' <<<"$svg"
done

# The damaged copy: DeviceID 0x8's DTE next 8 -> 16 (the walk jumps over
# DeviceID 0x10), and DeviceID 0x200 EventID 3's ITE LPI 8203 -> 4107
# (below 8192: EINVAL). The entries are found by their bytes in the stream
# (little-endian), after checking its-dump reports those raw values.
bad=$T_TMP/damaged.mig
cp "$sample" "$bad"
raws=$("$DUMP" -j "$sample" | jq -r '.its[0].devices[] |
    select(.device_id == 8) .raw, (select(.device_id == 512) .events[3].raw)')
t_eq "the raw entries to damage" "0x80100000082b5641
0x00010000200b0001" "$raws"
# poke FILE PATTERN BYTE_INDEX NEW_BYTE: one byte of the one place PATTERN is
poke()
{
    local at
    at=$(LC_ALL=C grep -obUaP "$2" "$1" | cut -d: -f1)
    if [[ $at =~ ^[0-9]+$ ]]; then
        t_pass
        printf "$4" | dd of="$1" bs=1 seek=$((at + $3)) conv=notrunc status=none
    else
        t_fail "$2 is not in $1 exactly once: '$at'"
    fi
}
poke "$bad" '\x41\x56\x2b\x08\x00\x00\x10\x80' 6 '\x20'
poke "$bad" '\x01\x00\x0b\x20\x00\x00\x01\x00' 3 '\x10'

t_eq "damaged: LPIs per vCPU" \
'{"vcpu":0,"lpis":[8200,8202,8204,8206,8209,8213]}
{"vcpu":1,"lpis":[8201,8205,8207,8208,8210,8212,8214,8215]}' \
    "$(recipe its-fsck -c "$fsck_lpis" "$bad")"
t_eq "damaged: where the restore fails" \
    '{"errno":"EINVAL","code":"ITE_LPI_BELOW_MIN","device_id":512,"event_id":3}' \
    "$(recipe its-fsck -c "$fails" "$bad")"
t_eq "damaged: devices that fail" "[512]" \
    "$(recipe its-fsck -c "$fail_devs" "$bad")"
t_eq "damaged: dropped" "$(printf '%s\t%s\t%s\t%s\n' \
    l2_page 16 '' jumped_over  itt 16 0 not_walked  itt 16 1 not_walked \
    itt 16 2 not_walked  itt 16 3 not_walked  itt 16 4 not_walked)" \
    "$(recipe its-fsck -r "$dropped" "$bad")"
t_eq "damaged: errors" '"ITE_LPI_BELOW_MIN"' \
    "$(recipe its-fsck "" "$errors" "$bad")"
t_done
