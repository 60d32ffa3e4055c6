#!/usr/bin/env bash
# The compiler flags dlib's vector code gets on this machine: AVX2 and FMA when the CPU has both (dlib's CMake turns
# on SSE4 and AVX by itself, never these). Nothing on another architecture or an older x86 CPU.
#   deploy/dlib-flags.sh
set -euo pipefail
flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
case "$flags" in
  *" avx2 "*" fma "*|*" fma "*" avx2 "*) echo "-mavx2 -mfma" ;;
esac
