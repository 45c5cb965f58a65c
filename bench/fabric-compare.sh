#!/usr/bin/env bash
# Fabric simulator speed, old build against new in one sitting: each row runs with both builds back to back, each
# run in its own process, REPS times each (default 3; the fastest run of each build is kept: the machine is shared
# and single runs vary by up to 2x), and prints simulated
# PE-cycles (program rectangle x cycles), PE-steps and busy PE-cycles per host second, peak RSS, and new/old.
# Usage: bench/fabric-compare.sh OLD_DIR NEW_DIR [threads] [REPS] [NEW_THREADS]   (folders holding wafer.dll, e.g.
# copies of src/Wafer.Cli/bin/Release/net10.0 from each build; NEW_THREADS, default `threads`, is the thread count of
# the NEW runs: `bench/fabric-compare.sh B B 1 3 2` compares one build at 1 and 2 threads). Rows whose simulated
# cycles differ are marked: the two builds must simulate the same machine (bench/fabric-identity.sh checks every stat).
set -uo pipefail
old="$1/wafer.dll"; new="$2/wafer.dll"; threads="${3:-2}"; reps="${4:-3}"; newThreads="${5:-$threads}"
field() { grep -o "\"$1\":[^,}]*" <<<"$2" | head -n 1 | cut -d: -f2; }
once() { dotnet "$2" run "${@:3}" --threads "$1" --json --out "$(mktemp -d)" 2>/dev/null; }   # THREADS DLL ARGS...
best() { # THREADS DLL ARGS...: the run of the smallest wall time of REPS
  local out w keep="" kept=""
  for _ in $(seq "$reps"); do
    out=$(once "$@"); w=$(field wallSeconds "$out")
    if [ -z "$kept" ] || awk -v x="$w" -v y="$kept" 'BEGIN { exit !(x < y) }'; then keep="$out"; kept="$w"; fi
  done
  echo "$keep"
}
echo "| run | PEs | cycles | old wall s | new wall s | old PE-cycles/s | new PE-cycles/s | new/old | old PE-steps/s | new PE-steps/s | old busy/s | new busy/s | old RSS MiB | new RSS MiB |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
row() {
  local label="$1"; shift
  local a b
  a=$(best "$threads" "$old" "$@"); b=$(best "$newThreads" "$new" "$@")
  awk -v l="$label" -v w="$(field width "$b")" -v h="$(field height "$b")" -v ca="$(field cycles "$a")" -v cb="$(field cycles "$b")" \
      -v sa="$(field wallSeconds "$a")" -v sb="$(field wallSeconds "$b")" -v ta="$(field peSteps "$a")" -v tb="$(field peSteps "$b")" \
      -v pa="$(field peCyclesPerHostSecond "$a")" -v pb="$(field peCyclesPerHostSecond "$b")" \
      -v ba="$(field busyPeCyclesPerHostSecond "$a")" -v bb="$(field busyPeCyclesPerHostSecond "$b")" \
      -v ra="$(field peakRssBytes "$a")" -v rb="$(field peakRssBytes "$b")" \
      'BEGIN { mark = ca == cb ? "" : sprintf(" (cycles differ: %d old)", ca);
               printf "| %s%s | %d | %d | %.2f | %.2f | %.3g | %.3g | %.2fx | %.3g | %.3g | %.3g | %.3g | %.0f | %.0f |\n",
                 l, mark, w * h, cb, sa, sb, pa, pb, pb / pa, ta / sa, tb / sb, ba, bb, ra / 1048576, rb / 1048576 }'
}
k="--wafer cs2 --length 16 --block 4 --outputs 64"
row "wsmm 16x16 workers" wsmm $k --width 16 --height 16
row "wsmm 64x64 workers" wsmm $k --width 64 --height 64
row "wsmm-dx 16x16" wsmm-dx $k --width 16 --height 16
row "wsmm-dx 64x64" wsmm-dx $k --width 64 --height 64
row "wsmm-dw 16x16" wsmm-dw $k --width 16 --height 16
row "wsmm-dw 64x64" wsmm-dw $k --width 64 --height 64
row "wsmm 16x16, n 48 k 8, 128 outputs" wsmm --wafer cs2 --width 16 --height 16 --length 48 --block 8 --outputs 128
row "reduce 256x256, 64 per PE" reduce --wafer cs2 --width 256 --height 256 --length 64
row "gemv 16x16 blocks, full cs2" gemv --wafer cs2
row "stencil25 64x64" stencil25 --wafer cs2 --width 64 --height 64
row "reduce 750x1 (one row), 4096 per PE" reduce --wafer cs2 --width 750 --height 1 --length 4096
row "meshgemv 512x1 (one row), 32x32 blocks" meshgemv --wafer cs2 --width 512 --height 1 --length 32 --block 32 --outputs 2
row "matvec 32x32 per PE, 256x256" matvec --wafer cs2 --width 256 --height 256 --length 32
row "matvec 32x32 per PE, full cs2" matvec --wafer cs2 --length 32
