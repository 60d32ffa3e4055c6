"""A large MP4 whose index (moov) comes last, fetched over HTTP from a server that ignores Range requests, as ingest
fetches a row's video: the peak memory and the disk the download takes, then the repost digest and the decoding of
the file it left, and the refusal past the download cap. The file is generated as it is served (a 3-second H.264
clip, then a `free` box of zeros to make up the size, then its moov), so nothing of its size is kept but the
download itself; that is removed at the end.

    .venv/bin/python bench/big_download.py [--mib 500] [--port 52000]

Each stage runs in a process of its own, so that its peak resident size (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MIB = 2**20
ZEROS = bytes(MIB)


def clip(folder: Path) -> tuple[bytes, bytes]:
    """A 3-second H.264 MP4 with its moov last, split into (what comes before the moov, the moov)."""
    path = folder / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=3",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)], check=True)
    data = path.read_bytes()
    moov = data.rfind(b"moov") - 4
    return data[:moov], data[moov:]


def serve(head: bytes, moov: bytes, size: int, port: int) -> ThreadingHTTPServer:
    """A loopback server answering every GET with the whole file, 200, whatever its Range: `head`, a `free` box of
    zeros, `moov`; `size` bytes in all (no Accept-Ranges; Content-Length stated, but for a path ending `?nolength`:
    then the body ends where the connection closes)."""
    filler = size - len(head) - len(moov)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            if self.path.endswith("?nolength"):
                self.close_connection = True
            else:
                self.send_header("Content-Length", str(size))
            self.end_headers()
            try:
                self.wfile.write(head + filler.to_bytes(4, "big") + b"free")
                left = filler - 8
                while left:
                    n = min(left, MIB)
                    self.wfile.write(ZEROS[:n])
                    left -= n
                self.wfile.write(moov)
            except OSError:  # the client stopped reading: a refusal past its cap
                self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _fetch(url: str, folder: str, max_bytes: int, out: multiprocessing.Queue) -> None:
    from services.ingest.fetch import FetchError, FetchPolicy, fetch

    t0 = time.perf_counter()
    try:
        got = fetch(url, Path(folder), FetchPolicy(max_bytes=max_bytes, timeout_s=600, allow_private=True,
                                                  tmp_dir=Path(folder)))
        said = f"fetched {got.size / MIB:.0f} MiB to {Path(got.path).name}"
        path = str(got.path)
    except FetchError as exc:
        said, path = f"refused: {exc}", ""
    left = sum(p.stat().st_size for p in Path(folder).iterdir() if p.name.startswith("video-"))
    out.put((said, path, time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, left))


def _read(path: str, out: multiprocessing.Queue) -> None:
    from services.ingest.sampling import ShotSampler
    from services.ingest.stream_digest import coded_stream
    from services.ingest.video import sample_frames

    t0 = time.perf_counter()
    coded = coded_stream(Path(path))
    digest_s = time.perf_counter() - t0
    info, frames = sample_frames(Path(path), ShotSampler(1.0))
    count = sum(1 for _ in frames)
    out.put((f"digest {coded.digest} in {digest_s:.2f} s; decoded {info.width}x{info.height}, {info.duration_s:.1f} s, "
             f"{count} samples", time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))


def in_child(target: object, *args: object) -> tuple:
    spawn = multiprocessing.get_context("spawn")  # a fresh process: its peak is its stage's alone
    out = spawn.Queue()
    child = spawn.Process(target=target, args=(*args, out))
    child.start()
    result = out.get()
    child.join()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=500, help="size of the file served (MiB)")
    parser.add_argument("--port", type=int, default=52000, help="loopback port of the server")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="big-download-"))
    try:
        head, moov = clip(folder)
        size = args.mib * MIB
        server = serve(head, moov, size, args.port)
        url = f"http://127.0.0.1:{args.port}/big.mp4"
        said, path, secs, rss, left = in_child(_fetch, url, str(folder), 512 * MIB)
        print(f"{args.mib} MiB, moov last, no Range: {said} in {secs:.1f} s; peak RSS {rss / MIB:.0f} MiB; "
              f"{left / MIB:.0f} MiB on disk")
        if path:
            read, secs, rss = in_child(_read, path)
            print(f"its file: {read}; {secs:.1f} s, peak RSS {rss / MIB:.0f} MiB")
            Path(path).unlink()
        cap = size // 2
        for how, address in (("Content-Length stated", url), ("no length stated", f"{url}?nolength")):
            said, _, secs, rss, left = in_child(_fetch, address, str(folder), cap)
            print(f"cap {cap / MIB:.0f} MiB, {how}: {said} in {secs:.1f} s; peak RSS {rss / MIB:.0f} MiB; "
                  f"{left / MIB:.0f} MiB left on disk")
        server.shutdown()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
