"""`influencers ingest` reads its manifest once: a FIFO (or `<(command)`) written once works, where the CLI read it
to check it and again to send it (and refused a FIFO before either)."""

from __future__ import annotations

import os
import threading

from influencers.cli import main
from tests.integration.test_odd_media import write_faststart_mp4


def test_ingest_takes_a_manifest_from_a_fifo_written_once(stack, tmp_path, capsys):
    write_faststart_mp4(tmp_path / "a.mp4", seconds=2)
    write_faststart_mp4(tmp_path / "b.mp4", seconds=3)
    fifo = tmp_path / "manifest.csv"
    os.mkfifo(fifo)
    writes = []

    def write_once() -> None:
        with open(fifo, "w") as out:  # waits for the CLI to open it; the second open would wait forever
            out.write("Performance,Video URL\n1.0,a.mp4\n3.0,b.mp4\n")
        writes.append(1)

    writer = threading.Thread(target=write_once, daemon=True)
    writer.start()
    assert main(["ingest", str(fifo), "--ingest-port", str(stack.settings.ingest_port)]) == 0
    writer.join(30)
    assert writes == [1]
    assert "videos: 2 done\n" in capsys.readouterr().out
    assert sorted(stack.store.video_frame()["url"]) == ["a.mp4", "b.mp4"], "relative URLs: beside the FIFO"
