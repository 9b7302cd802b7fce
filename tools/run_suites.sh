#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run Criterion test programs: fail on any failure, and on a suite that ran
# no test at all (a suite must never pass by testing nothing).
fail=0
for t in "$@"; do
    echo "== $t"
    out=$("$t" --jobs 2 2>&1)
    rc=$?
    echo "$out" | tail -n 1
    if [ $rc -ne 0 ]; then
        echo "$out" | grep -E 'FAIL|Assert|CRASH|signal|Timed out|Test failed' | head -40
        echo "FAIL $t (exit status $rc)"
        fail=1
    elif ! echo "$out" | grep -qE 'Tested: [1-9][0-9]*'; then
        echo "FAIL $t ran no test"
        fail=1
    fi
done
exit $fail
