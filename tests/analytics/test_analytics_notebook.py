"""The analyst notebook runs headless from top to bottom on its synthetic export and ranks influencers."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "influencer_analysis.ipynb"


@pytest.fixture(scope="module")
def python3_kernel() -> str:
    """The name of a kernel running this interpreter; installs its spec into this environment if missing."""
    from jupyter_client.kernelspec import KernelSpecManager

    if "python3" not in KernelSpecManager().find_kernel_specs():
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix"], check=True,
                       capture_output=True)
    return "python3"


def test_the_committed_notebook_has_no_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


def test_the_notebook_runs_on_its_synthetic_export_and_ranks_influencers(
    python3_kernel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("INFLUENCERS_REPORT_DIR", "INFLUENCERS_ANALYTICS_ADDR", "INFLUENCERS_TOKEN"):
        monkeypatch.delenv(name, raising=False)  # the kernel inherits our environment: force the demo path
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, kernel_name=python3_kernel, timeout=120,
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()  # raises CellExecutionError on the first cell that fails

    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    ranking_cell = next(c for c in notebook.cells if "ranking" in c.metadata.get("tags", []))
    printed = "".join(o.get("text", "") for o in ranking_cell.outputs if o.output_type == "stream")
    ranked = re.search(r"(\d+) influencers ranked", printed)
    assert ranked and int(ranked.group(1)) > 0
    assert any("text/html" in o.get("data", {}) for o in ranking_cell.outputs)


def test_the_notebook_runs_on_a_real_export_with_a_one_video_influencer_and_agrees_with_it(
    python3_kernel: str, monkeypatch: pytest.MonkeyPatch, analytics_store, tmp_path: Path
) -> None:
    # Was: a TypeError ("unsupported operand type(s) for -: 'float' and 'str'") on the export of the dev corpus:
    # influencers.csv's empty cells (no interval, no p-value under 2 videos) were read as the text ""
    from services.analytics.export import export_report
    from services.analytics.records import DONE, AppearanceRow, VideoRow

    analytics_store.record_video(
        VideoRow(url="https://cdn.example.com/v/once.mp4", video_id="e" * 16, performance=1.3, status=DONE,
                 duration_s=20.0, faces=3),
        [AppearanceRow(video_id="e" * 16, influencer_id="inf_eeee000005", last_seen_s=5.0, faces=3)])
    export_report(analytics_store, tmp_path / "export")
    monkeypatch.delenv("INFLUENCERS_ANALYTICS_ADDR", raising=False)
    monkeypatch.setenv("INFLUENCERS_REPORT_DIR", str(tmp_path / "export"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, kernel_name=python3_kernel, timeout=120,
                            resources={"metadata": {"path": str(ROOT)}}).execute()
    printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs
                      if o.output_type == "stream")
    agreed = re.search(r"same influencers: True; largest difference: (\S+)", printed)
    assert agreed and float(agreed.group(1)) < 1e-3, printed[-2000:]
