"""A prediction said in sentences, worded once for the page's Predict (predict.html) and `influencers predict`.

Pure: a sentence is a run of parts, each with a role (plain text, a person's name, the headline figure, a bound
of the range, an id), and each caller marks the roles up its own way: the page in HTML, the CLI for a terminal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.analytics.export_format import statistic_text

if TYPE_CHECKING:
    from collections.abc import Iterator

    from services.analytics.report import Prediction

TEXT, NAME, FIGURE, BOUND, ID = "text", "name", "figure", "bound", "id"


@dataclass(frozen=True)
class Sentence:
    """`parts` as (role, text) read in order, then `listed` (key, text) items, each in `listed_role`, joined by
    ", ": the people a sentence ends by naming (a caller may show only some, or look an id's key up)."""

    parts: tuple[tuple[str, str], ...]
    listed: tuple[tuple[str, str], ...] = ()
    listed_role: str = NAME


@dataclass(frozen=True)
class PredictionWords:
    """The sentences of one prediction, each apart so the page can place and style it: `expected` and `spread`
    always; `hidden` and `unknown` when someone asked for is left out of the model."""

    expected: Sentence
    spread: Sentence  # the range, or why there is none (`has_range`)
    has_range: bool
    hidden: Sentence | None = None
    unknown: Sentence | None = None

    def sentences(self) -> Iterator[Sentence]:
        """Every sentence, in the order they are read."""
        yield from (s for s in (self.expected, self.spread, self.hidden, self.unknown) if s is not None)


def prediction_words(result: Prediction) -> PredictionWords:
    """The sentences saying `result`: the score expected with those picked, against all videos; the range that
    holds `level` of such videos (a share in tenths); who was left out of the model, and why."""
    stat = statistic_text
    who: list[tuple[str, str]] = []
    for k, (_, label) in enumerate(result.selected):
        who += [(TEXT, " and "), (NAME, label)] if k else [(NAME, label)]
    expected = Sentence(((TEXT, "A video with "), *(who or [(TEXT, "none of the known influencers")]),
                         (TEXT, " is expected to score "), (FIGURE, stat(result.performance)),
                         (TEXT, f" (all videos: {stat(result.baseline)}).")))
    if result.level:
        spread = Sentence(((TEXT, f"{round(result.level * 10)} in 10 such videos score between "),
                           (BOUND, stat(result.low)), (TEXT, " and "), (BOUND, stat(result.high)),
                           (TEXT, ", judging by how far the model missed videos it had not seen.")))
    else:
        spread = Sentence(((TEXT, "No range: there is no model yet, so this is the average video."),))
    hidden = Sentence(((TEXT, "Marked \u201cnot an influencer\u201d, so left out of the model (counted as the "
                              "overall mean): "),), tuple(result.hidden)) if result.hidden else None
    unknown = Sentence(((TEXT, "Not known to the model (counted as the overall mean): "),),
                       tuple((i, i) for i in result.unknown), ID) if result.unknown else None
    return PredictionWords(expected, spread, bool(result.level), hidden, unknown)
