"""What the metrics cost per call: loopback gRPC calls through servers and channels with the metrics
interceptors (services/common/grpc_metrics.py, what build_server and open_channel install) against the same
calls without them, interleaved in rounds so that a busy machine slows both alike.

    .venv/bin/python bench/metrics_overhead.py [--calls 2000] [--frames 100] [--rounds 5]

Prints the median microseconds per unary call and per client stream of FRAMES 64 KiB messages (AnalyzeVideo's
shape), each way, and the difference. A smoke video makes about 5 calls and streams one AnalyzeVideo, and takes
seconds: the difference times that, over the seconds, is the share of wall time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent import futures
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from services.common.grpc_metrics import ClientMetrics, ServerMetrics  # noqa: E402

SERVICE = "bench.v1.Echo"


def _same(x: bytes) -> bytes:
    return x


def _server(interceptors: list[grpc.ServerInterceptor]) -> tuple[grpc.Server, int]:
    handlers = {"Echo": grpc.unary_unary_rpc_method_handler(lambda r, c: r, _same, _same),
                "Collect": grpc.stream_unary_rpc_method_handler(lambda rs, c: bytes(len(list(rs))), _same, _same)}
    server = grpc.server(futures.ThreadPoolExecutor(4), interceptors=interceptors,
                         options=[("grpc.max_receive_message_length", 32 * 2**20)])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


def _time(channel: grpc.Channel, calls: int, frames: int) -> tuple[float, float]:
    """Microseconds per unary call and per client stream of `frames` messages."""
    echo = channel.unary_unary(f"/{SERVICE}/Echo")
    collect = channel.stream_unary(f"/{SERVICE}/Collect")
    frame = b"x" * 65536
    t0 = time.perf_counter()
    for _ in range(calls):
        echo(b"ping", timeout=10)
    unary = (time.perf_counter() - t0) / calls * 1e6
    streams = max(1, calls // 50)
    t0 = time.perf_counter()
    for _ in range(streams):
        collect(iter([frame] * frames), timeout=30)
    return unary, (time.perf_counter() - t0) / streams * 1e6


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    plain_server, plain_port = _server([])
    measured_server, measured_port = _server([ServerMetrics()])
    plain = grpc.insecure_channel(f"127.0.0.1:{plain_port}")
    measured = grpc.intercept_channel(grpc.insecure_channel(f"127.0.0.1:{measured_port}"), ClientMetrics())
    _time(plain, 200, 10), _time(measured, 200, 10)  # warm both
    off: list[tuple[float, float]] = []
    on: list[tuple[float, float]] = []
    for _ in range(args.rounds):
        off.append(_time(plain, args.calls, args.frames))
        on.append(_time(measured, args.calls, args.frames))
    for k, what in enumerate(("unary call", f"stream of {args.frames} x 64 KiB")):
        a, b = statistics.median(x[k] for x in off), statistics.median(x[k] for x in on)
        print(f"{what:>24}: {a:9.1f} us without metrics, {b:9.1f} us with, {b - a:+8.1f} us ({(b - a) / a:+.1%})")
    plain_server.stop(0)
    measured_server.stop(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
