#!/usr/bin/env bash
# Builds and runs the libtorch peer (Program.cs). TorchSharp's native library needs one symbol of GCC 13's libstdc++
# (std::ios_base_library_init, version GLIBCXX_3.4.32) that Debian 12's GCC 12 libstdc++ lacks; libtorch itself needs
# only 3.4.30. So a copy of that library is given the symbol from a tiny shim (ios_base_library_init.cpp) and its
# requirement of GLIBCXX_3.4.32 marked weak (weak_version.py). Needs g++, python3 and patchelf (apt-get install patchelf).
# Usage: bench/peer/TorchPeer/run.sh [threads] [seconds] [nano|gpt2-124m] [--manual-attention]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dotnet build -c Release "$here/TorchPeer.csproj" >/dev/null
out="$here/bin/Release/net10.0"
native="$out/runtimes/linux-x64/native"
# A build copies the unpatched library back from the NuGet cache: patch whenever it lacks the shim.
if ! patchelf --print-needed "$native/libLibTorchSharp.so" | grep -qx libiosinit.so; then
  g++ -O2 -shared -fPIC -o "$native/libiosinit.so" "$here/ios_base_library_init.cpp"
  patchelf --add-needed libiosinit.so "$native/libLibTorchSharp.so"
  python3 "$here/weak_version.py" "$native/libLibTorchSharp.so" GLIBCXX_3.4.32 >/dev/null
fi
LD_LIBRARY_PATH="$native${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec dotnet "$out/TorchPeer.dll" "$@"
