"""A failed call says in words what happened, which service at which address, and keeps the service's message
that names the bad input; never gRPC's code names ("UNAVAILABLE", "FAILED_PRECONDITION"). The exit codes stay:
2 for a refused request, 1 for a service down or failing."""

from __future__ import annotations

import re

import grpc
import pytest

from influencers.cli.output import service_error
from services.common.call_names import METHOD_ATTR
from tests.support.rpc_errors import FakeRpcError

TARGETS = {"ingest": "127.0.0.1:50051", "identity": "127.0.0.1:50052", "analytics": "127.0.0.1:50053"}
CODE_NAMES = re.compile(r"\b(" + "|".join(code.name for code in grpc.StatusCode) + r")\b")  # "OK" in "TOKEN" is none


def _from(method: str, code: grpc.StatusCode, details: str) -> FakeRpcError:
    error = FakeRpcError(code, details)
    setattr(error, METHOD_ATTR, method)  # as our channels name every error (services/common/call_names.py)
    return error


def _said(capsys: pytest.CaptureFixture[str], exc: grpc.RpcError) -> tuple[int, str]:
    capsys.readouterr()
    code = service_error("rename", exc, TARGETS)
    (line,) = capsys.readouterr().err.splitlines()
    return code, line


def test_identity_out_of_reach_is_named_with_its_address_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    exc = _from("/influencers.v1.IdentityService/RenameInfluencer", grpc.StatusCode.UNAVAILABLE,
                "failed to connect to all addresses; last error: Connection refused")
    code, line = _said(capsys, exc)
    assert code == 1
    assert line.startswith("influencers: error: rename: the identity service at 127.0.0.1:50052 is not reachable "
                           "(failed to connect"), line
    assert "influencers serve" in line and not CODE_NAMES.search(line), line


@pytest.mark.parametrize("status", [grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND,
                                    grpc.StatusCode.INVALID_ARGUMENT])
def test_a_refused_request_says_refused_with_the_message_naming_the_input_and_exits_2(
        capsys: pytest.CaptureFixture[str], status: grpc.StatusCode) -> None:
    exc = _from("/influencers.v1.IdentityService/RenameInfluencer", status, "no influencer 'inf_00000000ff'")
    code, line = _said(capsys, exc)
    assert (code, line) == (2, "influencers: error: rename: refused: no influencer 'inf_00000000ff'")


def test_a_services_own_unavailable_keeps_its_words_and_is_not_called_out_of_reach(
        capsys: pytest.CaptureFixture[str]) -> None:
    exc = _from("/influencers.v1.AnalyticsService/GetReport", grpc.StatusCode.UNAVAILABLE,
                "the database is unreachable")
    code, line = _said(capsys, exc)
    assert code == 1 and "the analytics service at 127.0.0.1:50053 cannot answer now: the database is unreachable" \
        in line and "not reachable" not in line, line


@pytest.mark.parametrize("status", [s for s in grpc.StatusCode if s != grpc.StatusCode.OK])
def test_no_status_shows_its_code_name(capsys: pytest.CaptureFixture[str], status: grpc.StatusCode) -> None:
    _, line = _said(capsys, _from("/influencers.v1.IngestService/GetJob", status, "said"))
    assert not CODE_NAMES.search(line), line


def test_an_error_naming_no_service_still_says_what_happened(capsys: pytest.CaptureFixture[str]) -> None:
    code, line = _said(capsys, FakeRpcError(grpc.StatusCode.INTERNAL, "boom"))
    assert (code, line) == (1, "influencers: error: rename: the service failed: boom")


def test_a_command_the_service_suggests_carries_the_ports_this_command_used(
        capsys: pytest.CaptureFixture[str]) -> None:
    exc = _from("/influencers.v1.IngestService/GetJob", grpc.StatusCode.NOT_FOUND,
                "no job 'j1' in this queue (`influencers jobs` lists its jobs)")
    capsys.readouterr()
    assert service_error("jobs", exc, TARGETS, " --ingest-port 50054") == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "(`influencers jobs --ingest-port 50054` lists its jobs)" in line, line


def test_a_service_out_of_reach_suggests_starting_the_services_where_this_command_looked(
        capsys: pytest.CaptureFixture[str]) -> None:
    exc = _from("/influencers.v1.IngestService/ListJobs", grpc.StatusCode.UNAVAILABLE,
                "failed to connect to all addresses; last error: Connection refused")
    capsys.readouterr()
    assert service_error("jobs", exc, TARGETS, " --ingest-port 50054") == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert "`influencers serve --ingest-port 50054` starts the services" in line, line


def test_a_port_of_another_of_our_services_is_suggested_as_a_cause_of_an_unknown_call(
        capsys: pytest.CaptureFixture[str]) -> None:
    exc = _from("/influencers.v1.IngestService/ListJobs", grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
    code, line = _said(capsys, exc)
    assert code == 1
    assert "does not know this call (is another service at that port, or another version?)" in line, line
