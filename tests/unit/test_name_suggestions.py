"""A name nobody has is refused, as before, and the refusal offers the names it looks like: part of a name
("Tony" for "Tony Blair") or a near spelling ("Tonny Blair"). Before, it said only "(see the page, or
`influencers review`)", and the review queue lists pairs to answer, not every influencer."""

import pytest

from services.common.names import Known, NameLookupError, resolve

KNOWN = [Known("inf_1a3ddd6b90", "Tony Blair", 16), Known("inf_95a801b41e", "Ben Affleck", 6),
         Known("inf_4788e1c9f3", "Colin Powell", 20), Known("inf_0000000001", "", 3)]


@pytest.mark.parametrize("typed", ["Tony", "tonny blair", "BLAIR"])
def test_a_name_nobody_has_offers_the_names_it_looks_like_with_their_ids(typed):
    with pytest.raises(NameLookupError) as refused:
        resolve(typed, KNOWN)
    said = str(refused.value)
    assert said.startswith(f"no influencer is named or has the id {typed!r}")
    assert "did you mean 'Tony Blair' (inf_1a3ddd6b90)?" in said and "Affleck" not in said


def test_a_name_like_no_name_keeps_the_plain_refusal():
    with pytest.raises(NameLookupError) as refused:
        resolve("Nobody", KNOWN)
    assert str(refused.value) == "no influencer is named or has the id 'Nobody' (see the page, or `influencers review`)"
