"""Names as an attacker types them: control, escape and bidi-override characters never reach the stores or
the exports, and enrolling never renames a person who already has another name."""

from __future__ import annotations

import grpc
import pandas as pd
import pytest
from test_corrections import RNG
from test_registry import CENTRES, person, video
from test_review_queue import caught_up, clients, record, someone, stack  # noqa: F401 - fixtures

from services.analytics.export import to_safe_csv
from services.identity.corrections import NameTaken

HOSTILE = "\x1b[2J\x07Ann\x00\u202egnp.exe\u2066 \t\n Lee\u200b"


def test_control_escape_and_bidi_characters_are_stripped_from_a_name_on_its_way_to_every_store(
        stack, clients):  # noqa: F811 - the fixtures imported above
    ident, analytics = clients
    a = record(stack, "00000000000000b1", stack.identity.registry.assign("00000000000000b1",
                                                                          video(someone(CENTRES["a"], 1))))
    reply = ident.rename(a, HOSTILE)
    caught_up(analytics, reply)
    assert stack.identity.registry.names() == {a: "[2JAnngnp.exe Lee"}
    assert stack.store.names() == {a: "[2JAnngnp.exe Lee"}, "analytics, and so every export, gets the clean name"
    for invisible in ("\x1b\x07\x00", "\u202e\u2066\u200b", " \t "):
        with pytest.raises(grpc.RpcError) as err:
            ident.rename(a, "\u202e" + invisible)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "no visible characters" in err.value.details()
    assert stack.identity.registry.names() == {a: "[2JAnngnp.exe Lee"}
    # An id the CLI would take as the id; names match case-blind, so 'INF_0123456789' typed in lower case too
    for id_shaped in ("inf_0123456789", " inf_00000000ffs\u200b", "INF_0123456789", "Inf_00000000FFS\u00a0"):
        with pytest.raises(grpc.RpcError) as err:
            ident.rename(a, id_shaped)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "form of an influencer id" in \
            err.value.details()
    assert stack.identity.registry.names() == {a: "[2JAnngnp.exe Lee"}


@pytest.mark.parametrize("name", ["\u0456nf_0123456789", "\uff49\uff4e\uff46\uff3f0123456789",
                                  "\U0001d5c2\U0001d5c7\U0001d5bf_00000000ffs", "inf_00000000\u0430\u0661"])
def test_a_name_that_passes_for_an_id_in_look_alike_letters_is_refused(registry, name):
    # Cyrillic і, full-width, mathematical letters, a Cyrillic а and an Arabic-Indic 1: was stored, and stood in
    # lists and messages where an id is read (another person's id, to the eye)
    (a,) = [x.influencer_id for x in registry.assign("v1", video(person(0, "a")))]
    with pytest.raises(ValueError, match="has the form of an influencer id, and would be read as one"):
        registry.rename(a, name)
    assert registry.names() == {}


def test_enrolling_never_renames_an_influencer_that_has_another_name(registry):
    (a,) = [x.influencer_id for x in registry.assign("v1", video(person(0, "a")))]
    registry.rename(a, "Ann")
    faces_before = len(registry.store.faces_of(a))
    with pytest.raises(NameTaken, match=f"the photos match {a}, already named 'Ann'"):
        registry.enrol("Bob", [("00000000000000f1", CENTRES["a"] + RNG.normal(scale=0.02, size=128))])
    assert registry.names() == {a: "Ann"} and len(registry.store.faces_of(a)) == faces_before, "nothing written"
    target, _ = registry.enrol(" Ann\u200b", [("00000000000000f1", CENTRES["a"] + RNG.normal(scale=0.02, size=128))])
    assert target == a and registry.names() == {a: "Ann"}, "the same name (once cleaned) adds the photos"


def test_a_formula_behind_invisible_leading_characters_is_still_neutralised_in_the_csv() -> None:
    cells = ["\u200b=HYPERLINK(\"http://x\")", "\ufeff+1", "\u200e-2", "\u202a@SUM(A1)", " =1", "\u00a0=1",
             "\u2060\u200b\t=1"]
    text = to_safe_csv(pd.DataFrame({"name": cells + ["Ann", "\u200bAnn"], "n": range(len(cells) + 2)}))
    rows = text.splitlines()[1:]
    for row, cell in zip(rows, cells, strict=False):
        assert row.startswith(("'", "\"'")), (cell, row)
    assert rows[-2] == '"Ann",' + str(len(cells)) and rows[-1] == '"\u200bAnn",' + str(len(cells) + 1)
