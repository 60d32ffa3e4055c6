"""Which OpenBLAS kernels identity's workers give dlib's CNN face detector (the fallback of step 2, docs/identity.md).

dlib's CNN does its convolutions as matrix products in OpenBLAS, which picks its kernels for the CPU when it loads.
An OpenBLAS older than the CPU does not know its model and falls back to its oldest x86-64 kernels (Prescott: SSE3),
though the CPU has AVX2 and FMA (this machine: an unnamed "Intel(R) Xeon(R) Processor" with AVX-512, OpenBLAS 0.3.21):
the CNN then takes 1.7x the CPU it takes with the kernels OpenBLAS gives a CPU it knows (Haswell's, SkylakeX's). Such
a worker is given those kernels (OPENBLAS_CORETYPE). The boxes stay the same; the CNN's confidences move by at most
1e-6, as they do between any two machines. HOG, the landmarks and OpenCV's encoder do not use OpenBLAS.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

ENV = "OPENBLAS_CORETYPE"
FALLBACK = "Prescott"  # the kernels OpenBLAS falls back to on an x86-64 CPU it does not know
LIBRARY = "libopenblas.so.0"  # the OpenBLAS dlib links (deploy/system-deps.sh: libopenblas-dev)
AVX512 = frozenset({"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"})  # what SkylakeX's kernels use


def better_kernels(corename: str, flags: frozenset[str]) -> str:
    """The kernels to ask for instead of `corename` (what OpenBLAS picked) on a CPU with `flags` (/proc/cpuinfo's):
    SkylakeX's or Haswell's when OpenBLAS fell back to FALLBACK on a CPU that runs them; "" to keep its choice."""
    if corename.strip().lower() != FALLBACK.lower():
        return ""
    if flags >= AVX512:
        return "SkylakeX"
    return "Haswell" if {"avx2", "fma"} <= flags else ""


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The first CPU's flags (Linux); empty where they cannot be read."""
    try:
        with cpuinfo.open(encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def openblas_corename(library: str = LIBRARY) -> str:
    """The kernels the OpenBLAS `library` picks for this CPU; "" where it cannot be loaded. Loaded with one thread
    (OPENBLAS_NUM_THREADS, set by the caller) and its symbols local: nothing else in this process uses it."""
    try:
        blas = ctypes.CDLL(library)
        name = blas.openblas_get_corename
    except (OSError, AttributeError):
        return ""
    name.restype = ctypes.c_char_p
    return (name() or b"").decode("ascii", "replace")


def worker_kernels() -> str:
    """OPENBLAS_CORETYPE for the face workers ("": leave OpenBLAS's choice): the operator's own setting wins."""
    if os.environ.get(ENV):
        return ""
    return better_kernels(openblas_corename(), cpu_flags())
