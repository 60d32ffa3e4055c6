"""What the process of `influencers run` imports to start: not matplotlib, which only the page's chart draws
(~0.75 CPU s of every run's start-up, chart or not)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = "import sys, influencers.stack; print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))"


def test_the_stack_starts_without_importing_matplotlib() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=True)
    assert done.stdout.strip() == "[]"
