#!/usr/bin/env bash
# Installs dlib built from its hash-locked sdist (the dlib lines of requirements/face.txt) with the vector
# instructions of this machine (deploy/dlib-flags.sh): AVX2 and FMA take HOG's search to half the time, with the same
# boxes and encodings within 1e-6 (docs/performance.md). dlib's CMake alone stops at AVX.
# The wheel is built once per version and set of flags and kept in ~/.cache/influencers/: pip's own cache keys a
# wheel by its sdist alone, and would give an AVX-only build to an AVX2 set-up, or an AVX2 build to an older CPU.
#   deploy/dlib.sh PYTHON [REQUIREMENTS]
# DLIB_CXXFLAGS, when set, replaces the flags (DLIB_CXXFLAGS= : dlib's own choice, for a build run on other CPUs).
set -euo pipefail
PY=${1:?usage: deploy/dlib.sh PYTHON [REQUIREMENTS]}
REQ=${2:-requirements/face.txt}
flags=${DLIB_CXXFLAGS-$(bash "$(dirname "$0")/dlib-flags.sh")}
version=$(sed -n 's/^dlib==\([^ ]*\).*/\1/p' "$REQ")
[ -n "$version" ] || { echo "deploy/dlib.sh: no dlib== line in $REQ" >&2; exit 1; }
tag=$(printf '%s' "$flags" | tr -cs 'a-zA-Z0-9' '-' | sed 's/^-*//; s/-*$//')
tag=${tag:-dlib-default}
marker=$("$PY" -c 'import sys; print(sys.prefix)')/share/influencers/dlib-build
if [ "$(cat "$marker" 2>/dev/null)" = "$version $tag" ] && "$PY" -c 'import dlib' 2>/dev/null; then exit 0; fi
cache=${XDG_CACHE_HOME:-$HOME/.cache}/influencers/dlib-$version-$tag
if ! compgen -G "$cache/dlib-$version-*.whl" >/dev/null; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # The dlib requirement alone, with its hashes: pip checks the sdist it downloads against them.
  awk '/^dlib==/ {p = 1} p {print} p && !/\\$/ {exit}' "$REQ" > "$tmp/dlib.txt"
  echo "dlib $version: building from source with flags '${flags:-none}' (~15 min, once; kept in $cache)"
  CFLAGS="$flags" CXXFLAGS="$flags" "$PY" -m pip wheel -q --require-hashes --no-deps --no-build-isolation \
    --no-cache-dir -w "$tmp/wheel" -r "$tmp/dlib.txt"
  mkdir -p "$(dirname "$cache")"
  rm -rf "$cache.part" && mv "$tmp/wheel" "$cache.part" && rm -rf "$cache" && mv "$cache.part" "$cache"
fi
"$PY" -m pip install -q --no-deps --force-reinstall --no-index "$cache"/dlib-"$version"-*.whl
mkdir -p "$(dirname "$marker")"
echo "$version $tag" > "$marker"
