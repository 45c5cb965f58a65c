#!/usr/bin/env bash
# Fabric simulator speed and memory: runs each configuration in its own process (so peak RSS is per run) with the
# Release CLI and prints one markdown row per run. Usage: bench/fabric-speed.sh [threads]   (default: nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-$(nproc)}"
dotnet build -c Release src/Wafer.Cli -v q -nologo >/dev/null
wafer="dotnet src/Wafer.Cli/bin/Release/net10.0/wafer.dll"
field() { grep -o "\"$1\":[^,}]*" <<<"$2" | head -n 1 | cut -d: -f2; }
echo "| run | PEs | cycles | wall s | PE-steps | PE-cycles/s | busy PE-cycles/s | utilization | peak RSS MiB |"
echo "|---|---|---|---|---|---|---|---|---|"
run() {
  local label="$1"; shift
  local out
  out=$($wafer run "$@" --threads "$threads" --json --out "$(mktemp -d)")
  awk -v l="$label" -v w="$(field width "$out")" -v h="$(field height "$out")" -v c="$(field cycles "$out")" \
      -v s="$(field wallSeconds "$out")" -v st="$(field peSteps "$out")" -v p="$(field peCyclesPerHostSecond "$out")" \
      -v b="$(field busyPeCyclesPerHostSecond "$out")" -v u="$(field utilization "$out")" -v r="$(field peakRssBytes "$out")" \
      'BEGIN { printf "| %s | %d | %d | %.2f | %d | %.3g | %.3g | %.2f%% | %.0f |\n", l, w * h, c, s, st, p, b, u * 100, r / 1048576 }' 
}
run "compute-bound: matvec 32x32 per PE, 256x256" matvec --wafer cs2 --width 256 --height 256 --length 32
run "compute-bound: matvec 32x32 per PE, full cs2" matvec --wafer cs2 --length 32
run "busy: gemv 64x64 blocks, 256x256" gemv --wafer cs2 --width 256 --height 256 --block 64 --length 64
run "busy: gemv 32x32 blocks, full cs2" gemv --wafer cs2 --block 32 --length 32
run "fabric-bound: gemv 16x16 blocks, full cs2" gemv --wafer cs2
run "fabric-bound: reduce 256x256, 64 per PE" reduce --wafer cs2 --width 256 --height 256 --length 64
run "mostly idle: stream on row 0, full cs2" stream --wafer cs2 --length 4096
run "512x1 stream (vendor simulator's shape)" stream --wafer cs2 --width 512 --height 1 --length 4096
