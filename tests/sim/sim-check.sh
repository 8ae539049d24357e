#!/bin/sh
# sim-check.sh -- the Raft simulator as part of `make check`.
#
# 1. Safety under mixed faults: 4,000 seeds (2,000 with 3 nodes, 1,500
#    with 5, 500 with 7) must finish with zero violations.
# 2. The checker can fail: each deliberate core bug compiled into the
#    simulator (--fault commit-old-term, double-vote, stale-read) must be
#    reported (non-zero exit) within 200 seeds.
# 3. Reproducibility: a failing seed re-run alone prints byte for byte the
#    same report, and a verbose trace of one seed is identical twice.
#
# Run from the build directory (automake's test driver does that); the
# binary is ./tests/sim/raft-sim there.  Prints one PASS/FAIL line per
# check and "RESULT: N passed, N failed"; exits non-zero on any failure.
set -u

builddir=${top_builddir:-.}
SIM=$builddir/tests/sim/raft-sim
if [ ! -x "$SIM" ]; then
    echo "sim-check: $SIM not built" >&2
    echo "RESULT: 0 passed, 1 failed"
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sim-check.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

passed=0
failed=0
record() {  # name status
    if [ "$2" -eq 0 ]; then
        passed=$((passed + 1))
        echo "PASS: $1"
    else
        failed=$((failed + 1))
        echo "FAIL: $1"
    fi
}

# Runs the simulator in the background; output in $tmp/$1.out, exit status
# in $tmp/$1.rc.
launch() {
    name=$1
    shift
    ( "$SIM" "$@" > "$tmp/$name.out" 2>&1; echo $? > "$tmp/$name.rc" ) &
}

rc_of() {
    cat "$tmp/$1.rc"
}

start=$(date +%s)

# ---- 1. clean runs, two at a time (the machines have 2 cores) ----------
launch n3 --nodes 3 --seeds 2000 --seed 1
launch n5 --nodes 5 --seeds 1500 --seed 100001
wait
launch n7 --nodes 7 --seeds 500 --seed 200001
# ---- 2. deliberate bugs must be caught ---------------------------------
launch old --nodes 3 --seeds 200 --seed 1 --fault commit-old-term
wait
launch dv --nodes 3 --seeds 200 --seed 1 --fault double-vote
launch sr --nodes 3 --seeds 200 --seed 1 --fault stale-read
wait

for n in n3 n5 n7; do
    tail -n 1 "$tmp/$n.out"
    st=1
    if [ "$(rc_of $n)" -eq 0 ] && tail -n 1 "$tmp/$n.out" | grep -q ' violations=0$'; then
        st=0
    else
        grep -E 'VIOLATION|FAIL' "$tmp/$n.out" | head -n 5
    fi
    record "no violations, $n mixed faults" $st
done

for f in old dv sr; do
    st=1
    if [ "$(rc_of $f)" -ne 0 ] && grep -q 'VIOLATION' "$tmp/$f.out"; then
        st=0
    fi
    grep 'VIOLATION' "$tmp/$f.out" | head -n 1
    record "deliberate bug detected ($f)" $st
done

# ---- 3. reproducibility --------------------------------------------------
seed=$(sed -n 's/^FAIL seed=\([0-9]*\) .*/\1/p' "$tmp/old.out" | head -n 1)
st=1
if [ -n "$seed" ]; then
    grep "^seed=$seed " "$tmp/old.out" > "$tmp/batch.txt"
    "$SIM" --nodes 3 --seed "$seed" --fault commit-old-term > "$tmp/alone.out" 2>&1
    grep "^seed=$seed " "$tmp/alone.out" > "$tmp/alone.txt"
    if [ -s "$tmp/batch.txt" ] && cmp -s "$tmp/batch.txt" "$tmp/alone.txt"; then
        st=0
    fi
fi
record "failing seed ${seed:-?} reproduces alone" $st

"$SIM" --nodes 5 --seed 4242 --verbose > "$tmp/v1.out" 2>&1
"$SIM" --nodes 5 --seed 4242 --verbose > "$tmp/v2.out" 2>&1
st=1
if [ -s "$tmp/v1.out" ] && cmp -s "$tmp/v1.out" "$tmp/v2.out"; then
    st=0
fi
record "verbose trace is deterministic" $st

echo "sim-check: $(( $(date +%s) - start ))s"
echo "RESULT: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
