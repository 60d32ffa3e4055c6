#!/usr/bin/env bash
# System packages the project needs on a fresh Debian machine; installs only what is missing.
#   bash deploy/system-deps.sh          what running needs: a C++ toolchain, BLAS/LAPACK and the Python
#                                       headers to build dlib, and venv support for $PY (default python3)
#   bash deploy/system-deps.sh --dev    and Chromium (the browser tests), PostgreSQL (the database tests),
#                                       ffmpeg (the media tests make their videos with its command), npm (buf)
#                                       and promtool (Debian's prometheus package: checks deploy/prometheus),
#                                       for `make test`
# cmake comes from the lock (requirements/build.txt), not from here. Runs apt-get as root or through sudo.
set -euo pipefail
py=${PY:-python3}
need=()
command -v g++ >/dev/null || need+=(g++)
dpkg -s libopenblas-dev >/dev/null 2>&1 || need+=(libopenblas-dev)
dpkg -s liblapack-dev >/dev/null 2>&1 || need+=(liblapack-dev)
# Debian splits venv/ensurepip and the C headers out of its Python; a Python built from source has both.
"$py" -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
"$py" -c 'import os, sys, sysconfig; sys.exit(not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || need+=(python3-dev)
if [ "${1:-}" = "--dev" ]; then
  command -v chromium >/dev/null || need+=(chromium)
  # The media tests make their videos with ffmpeg's command (ingest itself decodes with PyAV's own FFmpeg).
  command -v ffmpeg >/dev/null || need+=(ffmpeg)
  # A real PostgreSQL server for the tests (tests/support/postgres.py starts it in a temporary folder).
  ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need+=(postgresql)
  # buf, which checks the contract (make buf), comes from the npm registry.
  command -v npm >/dev/null || need+=(nodejs npm)
  # promtool checks the Prometheus configuration and alert rules (make promtool).
  command -v promtool >/dev/null || need+=(prometheus)
fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "system-deps: installing ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
