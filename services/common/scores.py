"""The one rule for a video's performance score, checked wherever a score enters the system: a manifest
cell (services/ingest/manifest.py), a row of gRPC StartIngest, gRPC RecordVideo and UpdatePerformance.

A score is a finite number from 0 to MAX_SCORE (1e9). Marketing metrics (views, clicks, revenue in
cents) fit with room to spare, and the bound keeps every sum, square and mean of the analysis finite in
float64, so the model and the report can always be computed (1e308 would overflow the first square).
"""

from __future__ import annotations

import math

MAX_SCORE = 1e9
MIN_SCORE = 0.0  # a score is never negative (synthetic rows written straight to the store may be)


def score_problem(value: float | None, shown: str | None = None, allow_negative: bool = False) -> str:
    """Why `value` cannot be a performance score, or "" when it can (None, no score, always can).
    `shown` is how the message names the value (default: the number itself, e.g. the cell's text);
    `allow_negative` is for synthetic rows centred on zero written straight to the store, never for input."""
    if value is None:
        return ""
    name = f"performance {shown if shown is not None else f'{value:g}'}"
    if not math.isfinite(value):
        return f"{name} is not a finite number"
    if value < 0 and not allow_negative:
        return f"{name} is negative"
    if abs(value) > MAX_SCORE:
        return f"{name} is too large (a score is at most {MAX_SCORE:,.0f})"
    return ""
