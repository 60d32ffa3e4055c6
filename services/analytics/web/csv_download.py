"""A table as a CSV download: UTF-8 as documented (docs/exports.md), or, with `?excel=1`, UTF-8 after a
byte-order mark, without which Excel reads the file in its ANSI code page ("Zoë" shows as "ZoÃ«"). The mark
is opt-in: it changes the bytes, and a script reading the file as UTF-8 would see it in its first column's name."""

from __future__ import annotations

import pandas as pd
from flask import Response, request

from services.analytics.export import to_safe_csv
from services.analytics.web.attachment import content_disposition

BOM = "\ufeff"


def csv_download(frame: pd.DataFrame, name: str) -> Response:
    """`frame` (formula cells neutralised) as the attachment `name`.csv; `name`-excel.csv with the mark."""
    for_excel = request.args.get("excel", "") in ("1", "true", "yes")
    text = to_safe_csv(frame)
    filename = f"{name}-excel.csv" if for_excel else f"{name}.csv"
    return Response(BOM + text if for_excel else text, mimetype="text/csv",
                    headers={"Content-Disposition": content_disposition(filename)})
