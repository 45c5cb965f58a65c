#!/usr/bin/env bash
# Crash-safety check of `wafer train`: KILLS runs are each killed with SIGKILL at a random moment (seeded), then
#   1. the last checkpoint, where one was written, must load (`wafer sample` from it),
#   2. `--resume` from it (or a fresh start where the kill came before the first checkpoint) must finish the run, and
#   3. the finished run's checkpoint must equal, byte for byte, that of one uninterrupted run,
#   4. and no checkpoint temp file may be left behind.
# Checkpoints are written every EVERY steps so that some kills land inside a checkpoint write; a kill that leaves a
# temp file behind was one of those, and the script counts them.
# Usage: bench/kill-test.sh [KILLS=20] [SEED=1] [STEPS=40] [EVERY=2]
# Exit code 0 when every kill passes all four checks.
set -uo pipefail
cd "$(dirname "$0")/.."
kills=${1:-20}
seed=${2:-1}
steps=${3:-40}
every=${4:-2}
dotnet build -c Release src/Wafer.Cli >/dev/null || { echo "build failed"; exit 1; }
wafer=(dotnet src/Wafer.Cli/bin/Release/net10.0/wafer.dll)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(train --steps "$steps" --eval-interval "$every" --eval-batches 1 --sample-tokens 0 --threads 2 --warmup 10)

start=$(date +%s.%N)
"${wafer[@]}" "${common[@]}" --out "$work/ref" >"$work/ref.log" 2>&1 || { echo "reference run failed"; cat "$work/ref.log"; exit 1; }
ref_s=$(echo "$(date +%s.%N) - $start" | bc)
echo "uninterrupted run: $steps steps in ${ref_s} s"

RANDOM=$seed
passed=0
in_write=0
for i in $(seq 1 "$kills"); do
  out="$work/run$i"
  # A moment between 5 % and 95 % of the uninterrupted run's time (process start included).
  # ($RANDOM is read here, not inside $(...): a subshell's draw does not advance the parent's sequence.)
  r=$((5 + RANDOM % 91))
  at=$(echo "scale=3; $ref_s * $r / 100" | bc)
  "${wafer[@]}" "${common[@]}" --out "$out" >"$out.log" 2>&1 &
  pid=$!
  sleep "$at"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  temps=$(find "$out" -name '*.tmp' 2>/dev/null | wc -l)
  [ "$temps" -gt 0 ] && in_write=$((in_write + 1))
  what="killed at ${at} s"
  ok=1
  if [ -f "$out/checkpoint.safetensors" ]; then
    if ! "${wafer[@]}" sample --checkpoint "$out/checkpoint.safetensors" --tokens 20 >"$out.sample" 2>&1; then
      echo "kill $i ($what): the last checkpoint does not load: $(tail -n 1 "$out.sample")"; ok=0
    fi
    step=$(head -c 65536 "$out/checkpoint.safetensors" | grep -ao '"step": *"[0-9]*"' | grep -o '[0-9]*' | tail -n 1)
    what="$what, checkpoint at step ${step:-?}"
    "${wafer[@]}" "${common[@]}" --out "$out" --resume "$out/checkpoint.safetensors" >>"$out.log" 2>&1 || { echo "kill $i ($what): resume failed: $(tail -n 1 "$out.log")"; ok=0; }
  else
    what="$what, before the first checkpoint"
    "${wafer[@]}" "${common[@]}" --out "$out" >>"$out.log" 2>&1 || { echo "kill $i ($what): fresh start failed: $(tail -n 1 "$out.log")"; ok=0; }
  fi
  [ "$temps" -gt 0 ] && what="$what, inside a checkpoint write"
  if [ "$ok" -eq 1 ] && ! cmp -s "$out/checkpoint.safetensors" "$work/ref/checkpoint.safetensors"; then
    echo "kill $i ($what): the final checkpoint differs from the uninterrupted run's"; ok=0
  fi
  left=$(find "$out" -name '*.tmp' | wc -l)
  if [ "$ok" -eq 1 ] && [ "$left" -gt 0 ]; then echo "kill $i ($what): $left temp files left after the finished run"; ok=0; fi
  [ "$ok" -eq 1 ] && { passed=$((passed + 1)); echo "kill $i ($what): ok"; }
  rm -rf "$out" "$out.log" "$out.sample"
done
echo "kill test: $passed of $kills passed ($in_write kills inside a checkpoint write), seed $seed, $steps steps, checkpoint every $every"
[ "$passed" -eq "$kills" ]
