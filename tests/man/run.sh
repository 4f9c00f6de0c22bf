#!/usr/bin/env bash
# make check-man: every script here, each printing its count of checks;
# fails if any failed.
cd "$(dirname "$0")" || exit 1
status=0
for t in lint problems options flags completion version examples install; do
    bash "./$t.sh" || status=1
done
exit $status
