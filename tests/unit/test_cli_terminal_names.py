"""Every CLI line that shows a stored name or a URL escapes what would drive the analyst's terminal: ESC
sequences, other controls and bidi overrides (U+202E shows "Alice\\u202egnp.exe" as "Aliceexe.png") are printed
as their escapes; letters, accents and the joiners inside a name are printed as they are."""

from __future__ import annotations

from google.protobuf.duration_pb2 import Duration

from influencers.cli.corrections import _named, review_line
from influencers.cli.jobs import job_line
from influencers.names import Resolver
from influencers.v1 import identity_pb2, ingest_pb2
from services.common.name_text import for_terminal

RED = "\x1b[31m"  # an ESC sequence: the terminal would turn everything after it red
OVERRIDE = "\u202e"  # right-to-left override
HOSTILE = f"Alice{OVERRIDE}gnp.exe{RED}"


def _drives_a_terminal(line: str) -> bool:
    return "\x1b" in line or OVERRIDE in line or "\n" in line


def test_controls_and_bidi_overrides_are_escaped_and_the_rest_is_kept() -> None:
    assert for_terminal(HOSTILE) == "Alice\\u202egnp.exe\\x1b[31m"
    assert for_terminal("Zoë") == "Zoë"
    assert for_terminal("می\u200cخواهم") == "می\u200cخواهم"  # a zero-width non-joiner inside Persian stays
    assert for_terminal("Ann\nBob\u2028") == "Ann\\nBob\\u2028"


def test_a_review_line_escapes_both_names() -> None:
    item = identity_pb2.ReviewItem(influencer_a="inf_aaaa000001", influencer_b="inf_bbbb000002", distance=0.5,
                                   video_id_a="00000000000000a1", video_id_b="00000000000000b2",
                                   timestamp_a=Duration(seconds=1), timestamp_b=Duration(seconds=2), probability=0.5)
    line = review_line(item, {"inf_aaaa000001": HOSTILE, "inf_bbbb000002": f"Bob{RED}"})
    assert not _drives_a_terminal(line)
    assert line.endswith("  Alice\\u202egnp.exe\\x1b[31m  Bob\\x1b[31m")


class _Listed:
    """Identity's ListInfluencers, with one influencer of a hostile name."""

    def influencers(self) -> list[identity_pb2.Influencer]:
        return [identity_pb2.Influencer(influencer_id="inf_aaaa000001", name=HOSTILE, videos=2)]


def test_a_named_influencer_in_a_correction_line_is_escaped() -> None:
    said = _named(Resolver(_Listed()), "inf_aaaa000001")
    assert said == "Alice\\u202egnp.exe\\x1b[31m (inf_aaaa000001)"


def test_a_listed_jobs_error_quoting_a_url_is_escaped() -> None:
    job = ingest_pb2.Job(job_id="j1", state=ingest_pb2.JOB_STATE_FAILED, total=1,
                         error=f"http://x/{OVERRIDE}4pm.exe{RED}: cannot connect")
    line = job_line(job)
    assert not _drives_a_terminal(line) and line.endswith("http://x/\\u202e4pm.exe\\x1b[31m: cannot connect")
