"""Usage and configuration errors end the command with one line on stderr and exit code 2, no traceback;
`python -m influencers` and `--version` work; `influencers serve` leaves no worker behind when it stops."""

import os
import signal
import socket
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import psutil
import pytest

from influencers.datadir import data_dir_lock

ROOT = Path(__file__).resolve().parents[2]
FREE_PORTS = {f"INFLUENCERS_{name}_PORT": "0" for name in ("INGEST", "IDENTITY", "ANALYTICS", "WEB")}


def influencers(*args: str, env: dict[str, str] | None = None, timeout_s: float = 60
                ) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INFLUENCERS_")}
    return subprocess.run([sys.executable, "-m", "influencers", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**clean, **FREE_PORTS, **(env or {})}, timeout=timeout_s)


def assert_usage_error(result: subprocess.CompletedProcess, *words: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


@pytest.fixture
def manifest(tmp_path):
    path = tmp_path / "manifest.csv"
    path.write_text("Performance,Video URL\n1.0,a.mp4\n")
    return path


def test_python_dash_m_influencers_prints_the_version_from_the_package_metadata():
    result = influencers("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"influencers {version('influencers')}"


def test_the_installed_command_prints_the_version_too():
    script = Path(sys.executable).parent / "influencers"
    if not script.exists():
        pytest.skip("the influencers script is not installed beside this python")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout.strip()) == (0, f"influencers {version('influencers')}")


def test_a_missing_manifest_is_one_line_and_exit_2(tmp_path):
    assert_usage_error(influencers("run", str(tmp_path / "nope.csv"), "--data-dir", str(tmp_path / "d")),
                       "nope.csv", "not found")


def test_an_unreadable_manifest_is_one_line_and_exit_2(tmp_path):
    folder = tmp_path / "a-folder.csv"
    folder.mkdir()
    assert_usage_error(influencers("ingest", str(folder)), "cannot read manifest")


def test_a_manifest_without_its_columns_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert_usage_error(influencers("run", str(bad), "--data-dir", str(tmp_path / "d")), "Video URL")


@pytest.mark.parametrize(("variable", "value", "words"), [
    ("INFLUENCERS_WORKERS", "abc", ("INFLUENCERS_WORKERS='abc'", "whole number")),
    ("INFLUENCERS_MATCH_THRESHOLD", "nan", ("INFLUENCERS_MATCH_THRESHOLD='nan'", "number")),
    ("INFLUENCERS_WEB_PORT", "-1", ("INFLUENCERS_WEB_PORT=-1", "out of range")),
    ("INFLUENCERS_ALLOW_PRIVATE_URLS", "sure", ("INFLUENCERS_ALLOW_PRIVATE_URLS",)),
])
def test_a_bad_environment_value_is_one_line_naming_the_variable_and_exit_2(manifest, tmp_path, variable,
                                                                             value, words):
    result = influencers("run", str(manifest), "--data-dir", str(tmp_path / "d"), env={variable: value})
    assert_usage_error(result, *words)


def test_a_bad_flag_value_is_one_line_and_exit_2(manifest, tmp_path):
    assert_usage_error(influencers("run", str(manifest), "--data-dir", str(tmp_path / "d"), "--web-port", "-3"),
                       "out of range")
    assert_usage_error(influencers("run", str(manifest), "--workers", "many"), "invalid int value")


def test_binding_beyond_loopback_without_a_token_is_one_line_and_exit_2(manifest, tmp_path):
    result = influencers("run", str(manifest), "--data-dir", str(tmp_path / "d"), "--host", "0.0.0.0")
    assert_usage_error(result, "INFLUENCERS_HOST=0.0.0.0", "INFLUENCERS_TOKEN")


def test_an_unknown_command_or_no_command_is_one_line_and_exit_2():
    assert_usage_error(influencers("frobnicate"), "invalid choice")
    assert_usage_error(influencers(), "required")


def test_a_port_in_use_is_one_line_naming_the_setting_and_exit_2(manifest, tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        result = influencers("run", str(manifest), "--data-dir", str(tmp_path / "d"), "--web-port", port)
    assert_usage_error(result, f"port {port}", "in use", "--web-port")


def test_a_data_dir_held_by_another_process_is_one_line_and_exit_2(manifest, tmp_path):
    data = tmp_path / "d"
    with data_dir_lock(data):
        result = influencers("run", str(manifest), "--data-dir", str(data), "--no-serve")
    assert_usage_error(result, str(data), "in use", f"pid {os.getpid()}")


def wait_for_workers(process: psutil.Process, count: int, timeout_s: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        children = [c for c in process.children(recursive=True) if "resource_tracker" not in " ".join(c.cmdline())]
        if len(children) >= count:
            return children
        time.sleep(0.2)
    raise AssertionError(f"{count} workers did not start in {timeout_s} s")


def all_gone(processes: list[psutil.Process], timeout_s: float) -> bool:
    gone, alive = psutil.wait_procs(processes, timeout=timeout_s)
    return not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]


def start_serve(data: Path) -> subprocess.Popen:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INFLUENCERS_")}
    return subprocess.Popen([sys.executable, "-m", "influencers", "serve", "--data-dir", str(data), "--workers", "2"],
                            cwd=ROOT, env={**clean, **FREE_PORTS}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name)
def test_stopping_serve_by_any_signal_leaves_no_worker_behind_and_frees_the_data_dir(tmp_path, manifest, how):
    pytest.importorskip("face_recognition_models", reason="the face model is not installed")
    data = tmp_path / "d"
    server = start_serve(data)
    try:
        workers = wait_for_workers(psutil.Process(server.pid), 2, 120)
        second = influencers("serve", "--data-dir", str(data))
        assert_usage_error(second, "in use", f"pid {server.pid}")
        server.send_signal(how)
        server.wait(60)
        assert all_gone(workers, 5), [p.pid for p in workers if p.is_running()]
        if how != signal.SIGKILL:
            assert "Traceback" not in server.stderr.read()
        with data_dir_lock(data):
            pass
    finally:
        server.kill()
        server.wait(10)
