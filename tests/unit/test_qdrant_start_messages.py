"""The one line identity's start gives for a Qdrant server that did not answer as one (open_store)."""

from __future__ import annotations

from types import SimpleNamespace

from services.identity.open_store import _unreachable_server

URL = "http://qdrant:6333"


def test_a_server_error_at_start_says_to_try_again_not_that_it_is_no_qdrant_server() -> None:
    # A Qdrant server still starting answers 503: it was called "not a Qdrant server".
    line = _unreachable_server(URL, SimpleNamespace(status_code=503))  # type: ignore[arg-type]
    assert line == (f"QDRANT_URL {URL} answered 503, a server error (starting up or failing?): "
                    "try again once it is ready")
    assert _unreachable_server(URL, SimpleNamespace(status_code=404)).endswith(  # type: ignore[arg-type]
        "answered 404, not as a Qdrant server")
    assert "QDRANT_API_KEY" in _unreachable_server(URL, SimpleNamespace(status_code=401))  # type: ignore[arg-type]
