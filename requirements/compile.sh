#!/usr/bin/env bash
# Regenerates the lock files (*.txt) from the *.in files, for CPython 3.11 on Linux x86_64, with hashes
# (pip's --require-hashes format). Run after changing a *.in file; commit the *.in and *.txt together.
#   bash requirements/compile.sh                 # keep every current pin that still fits
#   bash requirements/compile.sh --upgrade       # move every package to its newest fitting release
# uv comes from PyPI into a throwaway venv under /tmp; nothing is installed into the project's .venv.
set -euo pipefail
cd "$(dirname "$0")"
tool=/tmp/influencers-lock-tool
[ -x "$tool/bin/uv" ] || { python3 -m venv "$tool" && "$tool/bin/pip" install -q "uv==0.13.9"; }
compile() {  # compile IN OUT [extra uv arguments]
  local in=$1 out=$2; shift 2
  "$tool/bin/uv" pip compile "$in" -o "$out" --generate-hashes --python-version 3.11 \
    --python-platform x86_64-manylinux_2_36 --no-header --annotation-style line --quiet "$@"
}
# dev.txt first: it holds every package, so one resolve picks the versions that all the locks share.
compile dev.in dev.txt "$@"
for name in build run face; do
  compile "$name.in" "$name.txt" --constraint dev.txt
done
