#!/usr/bin/env bash
# Checks that two builds of the CLI simulate the same machine: runs every fabric program on a set of shapes with both
# and compares stats.csv (every run and per-PE stat) after dropping what the host measures or chooses (wall time, threads used, PE-steps, host
# rates, peak RSS, bytes allocated). Usage: bench/fabric-identity.sh OLD_DIR NEW_DIR [threads]
# (OLD_DIR/NEW_DIR: folders holding wafer.dll, e.g. a copy of src/Wafer.Cli/bin/Release/net10.0 from each build).
set -uo pipefail
old="$1/wafer.dll"; new="$2/wafer.dll"; threads="${3:-2}"
host='wallSeconds|threads|peSteps|peCyclesPerHostSecond|busyPeCyclesPerHostSecond|peakRssBytes|allocatedBytes|hostAllocatedBytes'
same=0; differ=0
check() {
  local a b
  a=$(mktemp -d); b=$(mktemp -d)
  dotnet "$old" run "$@" --threads "$threads" --json --out "$a" >/dev/null 2>"$a/err"; local ra=$?
  dotnet "$new" run "$@" --threads "$threads" --json --out "$b" >/dev/null 2>"$b/err"; local rb=$?
  # stderr is compared too, less the progress lines a long run prints every few host seconds (their count and their
  # cycles depend on the host's speed, not on the machine simulated).
  if [ $ra -ne $rb ] || ! diff -q <(grep -Ev ",($host)," "$a/stats.csv" 2>/dev/null; grep -v "^wafer run .*: simulated cycle" "$a/err") \
                                  <(grep -Ev ",($host)," "$b/stats.csv" 2>/dev/null; grep -v "^wafer run .*: simulated cycle" "$b/err") >/dev/null; then
    echo "DIFFERS: $*"; differ=$((differ + 1))
  else
    same=$((same + 1))
  fi
  rm -rf "$a" "$b"
}
for p in gemv-1pe gemv-row gemv-grid pipeline broadcast reduce stream matvec wsmm wsmm-overlap wsmm-fp16 wsmm-overlap-fp16 \
         wsmm-sparse wsmm-dx wsmm-dx-fp16 wsmm-dw wsmm-dw-fp16 broadcast2d allreduce layernorm softmax gelu residual \
         reduce-tree reduce-2phase reduce-ktree allreduce-ktree stencil25 attention summa meshgemv transformer-product \
         alltoall alltoall-col fft3d; do
  check "$p" --wafer cs2
  check "$p" --wafer cs2 --width 7 --height 5 --length 13 --block 5 --outputs 9
done
check wsmm --wafer cs2 --width 16 --height 16 --length 48 --block 8 --outputs 128
check wsmm-overlap --wafer cs2 --width 16 --height 16 --length 48 --block 8 --outputs 64
check wsmm-dx --wafer cs2 --width 16 --height 16 --length 48 --block 8 --outputs 64
check wsmm-dw --wafer cs2 --width 16 --height 16 --length 48 --block 8 --outputs 64
check wsmm-sparse --wafer cs2 --width 9 --height 6 --length 16 --block 8 --outputs 40 --sparsity 0.7
check stencil25 --wafer cs2 --width 8 --height 6 --length 40 --steps 2
check attention --wafer cs2 --width 4 --length 16 --block 8
check meshgemv --wafer cs2 --width 32 --height 4 --length 16 --block 16
check summa --wafer cs2 --width 5 --height 3 --length 8 --block 6 --outputs 4
check reduce --wafer cs2 --width 64 --height 64 --length 64
check gemv --wafer cs2 --width 64 --height 48
check pipeline --wafer tiny --length 64
echo "$same same, $differ differ"
[ "$differ" -eq 0 ]
