"""Rewrites the Python callers and servicers to the contract that passes `buf lint` STANDARD (issue 18, part 6).

    python tools/contract_codemod.py [PATH ...]      # default: influencers services tests bench deploy tools
    python tools/contract_codemod.py --check [PATH ...]   # exit 1 if a file would change; nothing written

Idempotent: a second run changes nothing, and a run on a tree where other branches have moved or added
callers rewrites what it recognises there too. It parses each file (Python's `ast`), edits the source text at
the nodes' positions (comments and layout elsewhere stay as they are), and repeats until nothing changes.
The .proto files are not touched: their change is a plain diff (protos/influencers/v1/*.proto).

What it changes
1. Messages renamed or moved (any `MODULE_pb2.OLD` reference, annotations included):
   identity_pb2.Frame -> identity_pb2.AnalyzeVideoRequest; identity_pb2.VideoIdentities ->
   identity_pb2.AnalyzeVideoResponse; identity_pb2.FaceCrop -> identity_pb2.GetFaceCropResponse;
   analytics_pb2.Report -> analytics_pb2.GetReportResponse; identity_pb2.ReclusterResponse ->
   identity_pb2.Changes (a page of changes; ReclusterResponse now wraps one);
   ingest_pb2.SubmitVideosRequest -> ingest_pb2.StartIngestRequest; ingest_pb2.IngestProgress ->
   ingest_pb2.WatchJobResponse; common_pb2.{ListVideosRequest, ListVideosResponse, GetVideoRequest} ->
   analytics_pb2.* (they moved to analytics.proto).
2. Servicers (classes deriving from `*ServiceServicer`):
   - the dead RPCs are deleted: IdentityService.SearchFace, AnalyticsService.Predict, IngestService.ListVideos
     and .GetVideo (the proxies; analytics keeps its own). AnalyticsService.GetReport stays: the notebook's
     live mode (INFLUENCERS_ANALYTICS_ADDR, in the README) reads it;
   - an RPC whose answer is now wrapped returns the wrapper: `return E` -> `return pb.FooResponse(field=E)`
     (StartIngest, GetJob, CancelJob -> job; GetVideo -> video; GetInfluencer, RenameInfluencer ->
     influencer; MergeInfluencers, SplitInfluencer, MoveAppearance, HideInfluencer, DeleteInfluencer,
     AnswerReviewItem -> changes), and for the Recluster stream `yield E` / `yield from E` wrap each
     message in ReclusterResponse(changes=...). Their return annotations are set to the new types;
   - UpdatePerformance answers UpdatePerformanceResponse(changed=...) instead of RecordVideoResponse(created=...).
3. Callers: a call `X.Foo(request...)` of an RPC whose answer is wrapped gets the field appended
   (`stub.GetJob(req)` -> `stub.GetJob(req).job`); a Recluster call becomes
   `(page.changes for page in X.Recluster(...))`; `X.UpdatePerformance(...).created` -> `.changed`.
4. Job times: in `ingest_pb2.Job(...)`, created_s=E / started_s=E / ended_s=E -> create_time=timestamp(E) /
   start_time=... / end_time=...; a read `X.created_s` (and started_s, ended_s) -> `seconds(X.create_time)`,
   except in a file that defines such an attribute itself (a dataclass field or an assignment to it: the
   domain's job keeps float seconds). `timestamp` and `seconds` come from services.common.protoconv.
5. Review reasons: in `identity_pb2.ReviewItem(...)`, reason="near the threshold" / "ambiguous match" -> the
   ReviewReason constant, any other expression E -> review_reason(E); in a file that lists review items
   (mentions review_items, ListReviewItems or `.review(`), a read `X.reason` inside an f-string or as the
   value of a "reason" dict key -> review_reason_word(X.reason).
6. Imports: `from influencers.v1 import ...` gains analytics_pb2 / loses common_pb2 as the uses require;
   `from services.common.protoconv import ...` is added for the helpers used. Run `ruff check --fix` afterwards
   (import order, an import left unused).
7. Media times (double seconds -> google.protobuf.Duration, new field numbers): in a constructor
   `X_pb2.Appearance(first_seen_s=E)` (and last_seen_s, screen_time_s; Segment start_s/end_s/best_s; Video
   duration_s; ReviewItem timestamp_a_s/timestamp_b_s; AnalyzeVideoRequest timestamp_s/span_s;
   InfluencerStats screen_time_s) -> `first_seen=duration(E)`; `stage_seconds=E` of AnalyzeVideoResponse and
   WatchJobResponse -> `stage_durations=durations(E)`. Reads are left alone: the domain's rows keep the `_s`
   names (AppearanceRow, VideoInfo, FaceRecord...), and the codemod cannot tell them from a proto; they are
   listed afterwards, in the files that use the stubs.

What to grep for afterwards (printed at the end of each run, with file:line):
- SearchFace|Predict|FaceMatch: tests of the deleted RPCs are to be deleted by hand, and helpers only they
  used (registry.nearest).
- `.with_call(` / `.future(` on a renamed RPC: not unwrapped.
- A result kept in a variable and read later: `.created` of UpdatePerformance.
- Fakes and test doubles that define GetJob/GetInfluencer/... returning the old bare message: a caller now
  appends `.job` etc. to what they return.
- created_s|started_s|ended_s, IngestProgress|VideoIdentities|Frame\\b in text and comments.
- `.reason ==` on a ReviewItem that came over gRPC: compare with identity_pb2.REVIEW_REASON_* (the domain's
  review.Item keeps the words; the codemod cannot tell the two apart).
- A media time read as `X.first_seen_s` (or another old name) in a file that uses the stubs: if X is a proto
  (a stub's answer, a stored message), read `seconds(X.first_seen)` (`seconds_by_key(X.stage_durations)`);
  assign with `X.duration.CopyFrom(duration(E))`.
- Lines over 120 characters that a wrap produced.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

HELPERS_MODULE = "services.common.protoconv"
DEFAULT_PATHS = ("influencers", "services", "tests", "bench", "deploy", "tools")
SKIP_PARTS = {"v1", ".venv", "node_modules", "__pycache__"}
SKIP_FILES = {"contract_codemod.py", "test_contract_codemod.py"}  # this tool, and its test's samples of old code

# Message renames: (module, old) -> (module, new).
RENAMES = {
    ("identity_pb2", "Frame"): ("identity_pb2", "AnalyzeVideoRequest"),
    ("identity_pb2", "VideoIdentities"): ("identity_pb2", "AnalyzeVideoResponse"),
    ("identity_pb2", "FaceCrop"): ("identity_pb2", "GetFaceCropResponse"),
    ("analytics_pb2", "Report"): ("analytics_pb2", "GetReportResponse"),
    ("identity_pb2", "ReclusterResponse"): ("identity_pb2", "Changes"),
    ("ingest_pb2", "SubmitVideosRequest"): ("ingest_pb2", "StartIngestRequest"),
    ("ingest_pb2", "IngestProgress"): ("ingest_pb2", "WatchJobResponse"),
    ("common_pb2", "ListVideosRequest"): ("analytics_pb2", "ListVideosRequest"),
    ("common_pb2", "ListVideosResponse"): ("analytics_pb2", "ListVideosResponse"),
    ("common_pb2", "GetVideoRequest"): ("analytics_pb2", "GetVideoRequest"),
}

# Servicer methods deleted, by service.
DEAD = {
    "IdentityService": {"SearchFace"},
    "AnalyticsService": {"Predict"},
    "IngestService": {"ListVideos", "GetVideo"},
}


@dataclass(frozen=True)
class Wrap:
    module: str
    response: str
    field: str
    stream: bool = False


# RPC answers that are now a wrapper around yesterday's message, by service and RPC.
WRAPS = {
    "IngestService": {
        "StartIngest": Wrap("ingest_pb2", "StartIngestResponse", "job"),
        "GetJob": Wrap("ingest_pb2", "GetJobResponse", "job"),
        "CancelJob": Wrap("ingest_pb2", "CancelJobResponse", "job"),
    },
    "AnalyticsService": {
        "GetVideo": Wrap("analytics_pb2", "GetVideoResponse", "video"),
    },
    "IdentityService": {
        "GetInfluencer": Wrap("identity_pb2", "GetInfluencerResponse", "influencer"),
        "RenameInfluencer": Wrap("identity_pb2", "RenameInfluencerResponse", "influencer"),
        "MergeInfluencers": Wrap("identity_pb2", "MergeInfluencersResponse", "changes"),
        "SplitInfluencer": Wrap("identity_pb2", "SplitInfluencerResponse", "changes"),
        "MoveAppearance": Wrap("identity_pb2", "MoveAppearanceResponse", "changes"),
        "HideInfluencer": Wrap("identity_pb2", "HideInfluencerResponse", "changes"),
        "DeleteInfluencer": Wrap("identity_pb2", "DeleteInfluencerResponse", "changes"),
        "AnswerReviewItem": Wrap("identity_pb2", "AnswerReviewItemResponse", "changes"),
        "Recluster": Wrap("identity_pb2", "ReclusterResponse", "changes", stream=True),
    },
}
# Callers: the RPC name alone (no two services share one of these names).
CALL_WRAPS = {name: w for rpcs in WRAPS.values() for name, w in rpcs.items()}

JOB_TIMES = {"created_s": "create_time", "started_s": "start_time", "ended_s": "end_time"}
REVIEW_REASONS = {"near the threshold": "identity_pb2.REVIEW_REASON_NEAR_THRESHOLD",
                  "ambiguous match": "identity_pb2.REVIEW_REASON_AMBIGUOUS_MATCH"}
LISTS_REVIEW_ITEMS = re.compile(r"review_items|ListReviewItems|\.review\(")
# Media times, by message: old keyword -> (new keyword, helper that wraps the value).
MEDIA_TIMES = {
    "Appearance": {"first_seen_s": ("first_seen", "duration"), "last_seen_s": ("last_seen", "duration"),
                   "screen_time_s": ("screen_time", "duration")},
    "Segment": {"start_s": ("start", "duration"), "end_s": ("end", "duration"), "best_s": ("best", "duration")},
    "Video": {"duration_s": ("duration", "duration")},
    "ReviewItem": {"timestamp_a_s": ("timestamp_a", "duration"), "timestamp_b_s": ("timestamp_b", "duration")},
    "AnalyzeVideoRequest": {"timestamp_s": ("timestamp", "duration"), "span_s": ("span", "duration")},
    "AnalyzeVideoResponse": {"stage_seconds": ("stage_durations", "durations")},
    "WatchJobResponse": {"stage_seconds": ("stage_durations", "durations")},
    "InfluencerStats": {"screen_time_s": ("screen_time", "duration")},
}
MEDIA_TIME_READ = re.compile(r"\.(" + "|".join(sorted({old for m in MEDIA_TIMES.values() for old in m})) + r")\b")

GREP_AFTER = [
    (r"\b(SearchFace|Predict|FaceMatch|PredictRequest|PredictResponse)\b",
     "a deleted RPC or its messages"),
    (r"\.(" + "|".join(CALL_WRAPS) + r"|UpdatePerformance)\.(with_call|future)\(", "a wrapped RPC called "
     "through with_call/future: unwrap by hand"),
    (r"\bdef (" + "|".join(CALL_WRAPS) + r")\(self", "an RPC method defined outside a servicer (a fake stub? it "
     "must return the wrapper now)"),
    (r"\b(created_s|started_s|ended_s)\b", "a job time in float seconds (Job now has Timestamps)"),
    (r"\b(IngestProgress|VideoIdentities|SubmitVideosRequest|FaceCrop|ReclusterResponse(?!\(changes=|\]))\b",
     "an old message name (a comment or a string?)"),
    (r"\.reason\s*(==|!=|in\b)", "a reason compared: a ReviewItem's (over gRPC) is a ReviewReason now, the "
     "domain's review.Item keeps the word"),
]


# ---- text positions ------------------------------------------------------------------------------------

class Source:
    """A file's bytes with (line, byte column) -> offset, as `ast` positions are byte offsets in UTF-8."""

    def __init__(self, text: str) -> None:
        self.data = text.encode()
        self.starts = [0]
        for m in re.finditer(rb"\n", self.data):
            self.starts.append(m.end())

    def offset(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (self.offset(node.lineno, node.col_offset),  # type: ignore[attr-defined]
                self.offset(node.end_lineno, node.end_col_offset))  # type: ignore[attr-defined]

    def text(self, node: ast.AST) -> str:
        a, b = self.span(node)
        return self.data[a:b].decode()


Edit = tuple[int, int, str]  # [start, end) bytes -> replacement text


def apply_edits(data: bytes, edits: list[Edit]) -> bytes:
    """Applies the edits that neither overlap nor touch an earlier (or, at one start, a wider) one; the
    others wait for the next round (an insertion at the end of a replaced span must see the replacement)."""
    chosen: list[Edit] = []
    end = -1
    for a, b, new in sorted(edits, key=lambda e: (e[0], -e[1])):
        if a > end:
            chosen.append((a, b, new))
            end = b
    out = bytearray(data)
    for a, b, new in reversed(chosen):
        out[a:b] = new.encode()
    return bytes(out)


# ---- the rules -----------------------------------------------------------------------------------------

def rename_messages(text: str) -> str:
    for (mod, old), (new_mod, new) in RENAMES.items():
        # ReclusterResponse(changes=...) is the new wrapper, written by rule 2: leave it.
        guard = r"(?!\(changes=)" if old == "ReclusterResponse" else ""
        text = re.sub(rf"\b{mod}\.{old}\b{guard}", f"{new_mod}.{new}", text)
    return text


def _attr_name(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _is_call_of(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Call) and _attr_name(node.func) == name


def _own_nodes(fn: ast.FunctionDef):  # type: ignore[no-untyped-def]
    """The nodes of `fn`'s body, not descending into nested functions, lambdas or classes."""
    nested = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef
    stack = [n for n in fn.body if not isinstance(n, nested)]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, nested):
                stack.append(child)


def servicer_edits(tree: ast.Module, src: Source) -> list[Edit]:
    edits: list[Edit] = []
    for cls in ast.walk(tree):
        if not isinstance(cls, ast.ClassDef):
            continue
        services = [_attr_name(b)[: -len("Servicer")] for b in cls.bases if _attr_name(b).endswith("ServiceServicer")]
        if not services:
            continue
        service = services[0]
        for fn in cls.body:
            if not isinstance(fn, ast.FunctionDef):
                continue
            if fn.name in DEAD.get(service, ()):
                first = min([fn.lineno] + [d.lineno for d in fn.decorator_list])
                a = src.starts[first - 1]
                b = src.starts[fn.end_lineno] if fn.end_lineno < len(src.starts) else len(src.data)
                if src.data[b:b + 1] == b"\n":  # the blank line after it
                    b += 1
                edits.append((a, b, ""))
                continue
            wrap = WRAPS.get(service, {}).get(fn.name)
            if wrap is not None:
                edits += _wrap_method(fn, wrap, src)
            if service == "AnalyticsService" and fn.name == "UpdatePerformance":
                edits += _retype_update_performance(fn, src)
    return edits


def _wrap_method(fn: ast.FunctionDef, wrap: Wrap, src: Source) -> list[Edit]:
    edits: list[Edit] = []
    qualified = f"{wrap.module}.{wrap.response}"
    if fn.returns is not None:
        want = f"Iterator[{qualified}]" if wrap.stream else qualified
        if src.text(fn.returns) != want:
            edits.append((*src.span(fn.returns), want))
    for node in _own_nodes(fn):
        if isinstance(node, ast.Return) and node.value is not None and not wrap.stream:
            if _is_call_of(node.value, wrap.response):
                continue
            edits.append((*src.span(node.value), _wrapped(qualified, wrap.field, node, src)))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Yield) and wrap.stream:
            value = node.value.value
            if value is None or _is_call_of(value, wrap.response):
                continue
            edits.append((*src.span(value), _wrapped(qualified, wrap.field, node, src, value)))
        elif isinstance(node, ast.YieldFrom) and wrap.stream:
            v = node.value
            if isinstance(v, ast.GeneratorExp) and _is_call_of(v.elt, wrap.response):
                continue
            edits.append((*src.span(v), f"({qualified}({wrap.field}=_m) for _m in {src.text(v)})"))
    return edits


def _wrapped(qualified: str, field: str, stmt: ast.stmt, src: Source, value: ast.expr | None = None) -> str:
    """`qualified(field=VALUE)` in place of the value of `stmt` (a return, or a yield statement); broken after
    the opening parenthesis when the line would pass 120 characters."""
    value = value if value is not None else stmt.value  # type: ignore[attr-defined]
    inner = src.text(value)
    one_line = f"{qualified}({field}={inner})"
    if value.col_offset + len(one_line.splitlines()[0]) <= 120:
        return one_line
    return f"{qualified}(\n{' ' * (stmt.col_offset + 4)}{field}={inner})"


def _retype_update_performance(fn: ast.FunctionDef, src: Source) -> list[Edit]:
    edits: list[Edit] = []
    for node in _own_nodes(fn):
        if _is_call_of(node, "RecordVideoResponse"):
            func = node.func
            a, b = src.span(func)
            edits.append((b - len("RecordVideoResponse"), b, "UpdatePerformanceResponse"))
            for kw in node.keywords:
                if kw.arg == "created":
                    k = src.offset(kw.lineno, kw.col_offset)
                    edits.append((k, k + len("created"), "changed"))
    if fn.returns is not None and src.text(fn.returns).endswith("RecordVideoResponse"):
        a, b = src.span(fn.returns)
        edits.append((b - len("RecordVideoResponse"), b, "UpdatePerformanceResponse"))
    return edits


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def caller_edits(tree: ast.Module, src: Source) -> list[Edit]:
    edits: list[Edit] = []
    parents = _parents(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if not (node.args or any(k.arg == "request" for k in node.keywords)):
            continue
        name = node.func.attr
        parent = parents.get(node)
        if name == "UpdatePerformance" and isinstance(parent, ast.Attribute) and parent.attr == "created":
            a, b = src.span(parent)
            edits.append((b - len("created"), b, "changed"))
            continue
        wrap = CALL_WRAPS.get(name)
        if wrap is None:
            continue
        if wrap.stream:
            comp = parents.get(parent) if isinstance(parent, ast.comprehension) else None
            if (isinstance(comp, ast.GeneratorExp) and isinstance(comp.elt, ast.Attribute)
                    and comp.elt.attr == wrap.field):
                continue
            edits.append((*src.span(node), f"(page.{wrap.field} for page in {src.text(node)})"))
        else:
            # Already unwrapped, or a statement whose answer is not used (pytest.raises, a fire-and-forget).
            if isinstance(parent, ast.Expr) or (isinstance(parent, ast.Attribute) and parent.attr == wrap.field):
                continue
            end = src.span(node)[1]
            edits.append((end, end, f".{wrap.field}"))
    return edits


def _defines_job_times(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and _attr_name(node.target) in JOB_TIMES:
            return True
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and node.attr in JOB_TIMES:
            return True
    return False


def job_time_edits(tree: ast.Module, src: Source) -> list[Edit]:
    edits: list[Edit] = []
    in_job_call: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and src.text(node.func).endswith("ingest_pb2.Job"):
            for kw in node.keywords:
                if kw.arg in JOB_TIMES:
                    in_job_call.add(kw.value)
                    k = src.offset(kw.lineno, kw.col_offset)
                    edits.append((k, src.span(kw.value)[1],
                                  f"{JOB_TIMES[kw.arg]}=timestamp({src.text(kw.value)})"))
    if _defines_job_times(tree):
        return edits
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr in JOB_TIMES and isinstance(node.ctx, ast.Load)
                and node not in in_job_call):
            edits.append((*src.span(node), f"seconds({src.text(node.value)}.{JOB_TIMES[node.attr]})"))
    return edits


def review_reason_edits(tree: ast.Module, src: Source, text: str) -> list[Edit]:
    edits: list[Edit] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _attr_name(node.func) == "ReviewItem":
            for kw in node.keywords:
                if kw.arg != "reason":
                    continue
                v = kw.value
                if isinstance(v, ast.Constant) and v.value in REVIEW_REASONS:
                    edits.append((*src.span(v), REVIEW_REASONS[v.value]))
                elif not (_is_call_of(v, "review_reason") or "REVIEW_REASON_" in src.text(v)):
                    edits.append((*src.span(v), f"review_reason({src.text(v)})"))
    if not LISTS_REVIEW_ITEMS.search(text):
        return edits
    parents = _parents(tree)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and node.attr == "reason" and isinstance(node.ctx, ast.Load)):
            continue
        parent = parents.get(node)
        shown = isinstance(parent, ast.FormattedValue) or (
            isinstance(parent, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == "reason"
                                                 and v is node for k, v in zip(parent.keys, parent.values,
                                                                               strict=True)))
        if shown:
            edits.append((*src.span(node), f"review_reason_word({src.text(node)})"))
    return edits


def media_time_edits(tree: ast.Module, src: Source) -> list[Edit]:
    edits: list[Edit] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and _attr_name(node.func.value).endswith("_pb2") and node.func.attr in MEDIA_TIMES):
            continue
        for kw in node.keywords:
            if kw.arg in MEDIA_TIMES[node.func.attr]:
                new, helper = MEDIA_TIMES[node.func.attr][kw.arg]
                k = src.offset(kw.lineno, kw.col_offset)
                edits.append((k, src.span(kw.value)[1], f"{new}={helper}({src.text(kw.value)})"))
    return edits


# ---- imports -------------------------------------------------------------------------------------------

def fix_imports(text: str) -> str:
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    v1 = next((n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "influencers.v1"), None)
    if v1 is not None:
        names = [a.name for a in v1.names]
        body = text[:0] + "".join(lines[:v1.lineno - 1]) + "".join(lines[v1.end_lineno:])
        wanted = [n for n in names if n != "common_pb2" or re.search(r"\bcommon_pb2\.", body)]
        if re.search(r"\banalytics_pb2\.", body) and "analytics_pb2" not in wanted:
            wanted.append("analytics_pb2")
        if re.search(r"\bidentity_pb2\.", body) and "identity_pb2" not in wanted:
            wanted.append("identity_pb2")
        if sorted(wanted) != sorted(names):
            new = f"from influencers.v1 import {', '.join(sorted(wanted))}\n" if wanted else ""
            lines[v1.lineno - 1:v1.end_lineno] = [new]
            text = "".join(lines)
            tree = ast.parse(text)
            lines = text.splitlines(keepends=True)
    defined = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    defined |= {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    used = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    need = sorted(h for h in ("duration", "durations", "review_reason", "review_reason_word", "seconds", "timestamp")
                  if h in used and h not in defined)
    if not need:
        return text
    have = next((n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == HELPERS_MODULE), None)
    if have is not None:
        names = sorted({a.name for a in have.names} | set(need))
        lines[have.lineno - 1:have.end_lineno] = [f"from {HELPERS_MODULE} import {', '.join(names)}\n"]
    else:  # in isort's place among the project's own imports (influencers, services)
        own = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module
               and n.module.split(".")[0] in ("influencers", "services")]
        after = next((n for n in own if n.module > HELPERS_MODULE), None)  # type: ignore[operator]
        if after is not None:
            at = after.lineno - 1
        else:
            anchor = own[-1] if own else next(
                (n for n in reversed(tree.body) if isinstance(n, ast.Import | ast.ImportFrom)), None)
            at = anchor.end_lineno if anchor is not None else 0
        lines.insert(at, f"from {HELPERS_MODULE} import {', '.join(need)}\n")
    return "".join(lines)


# ---- driver --------------------------------------------------------------------------------------------

def rewrite(text: str) -> str:
    """The new text of one Python file (unchanged when no rule applies)."""
    text = rename_messages(text)
    for _ in range(20):
        tree = ast.parse(text)
        src = Source(text)
        edits = (servicer_edits(tree, src) + caller_edits(tree, src) + job_time_edits(tree, src)
                 + review_reason_edits(tree, src, text) + media_time_edits(tree, src))
        if not edits:
            break
        text = apply_edits(src.data, edits).decode()
    else:
        raise RuntimeError("the rules did not settle in 20 rounds")
    return fix_imports(text)


def python_files(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        files = [p] if p.is_file() else sorted(p.rglob("*.py"))
        out += [f for f in files if not SKIP_PARTS & set(f.parts) and f.name not in SKIP_FILES]
    return out


def _defines_media_times(text: str) -> bool:
    """A module of the domain's rows (a dataclass field or an assignment under an old name): its reads are its
    own."""
    tree = ast.parse(text)
    olds = {old for m in MEDIA_TIMES.values() for old in m}
    return any((isinstance(n, ast.AnnAssign) and _attr_name(n.target) in olds)
               or (isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store) and n.attr in olds)
               for n in ast.walk(tree))


def leftovers(files: list[Path]) -> list[str]:
    found = []
    for f in files:
        text = f.read_text()
        servicer = re.search(r"class \w+\([\w.]*ServiceServicer\)", text) is not None
        stubs = re.search(r"\w+_pb2\.", text) is not None and not _defines_media_times(text)
        for n, line in enumerate(text.splitlines(), 1):
            for pattern, why in GREP_AFTER:
                if servicer and why.startswith("an RPC method defined"):
                    continue
                if re.search(pattern, line):
                    found.append(f"{f}:{n}: {why}: {line.strip()[:100]}")
            if stubs and MEDIA_TIME_READ.search(line):
                found.append(f"{f}:{n}: a media time read by its old name: seconds(X.new) if X is a proto: "
                             f"{line.strip()[:100]}")
            if len(line) > 120:
                found.append(f"{f}:{n}: longer than 120 characters")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="exit 1 if a file would change; write nothing")
    args = parser.parse_args(argv)
    paths = args.paths or [Path(p) for p in DEFAULT_PATHS if Path(p).exists()]
    files = python_files(paths)
    changed = []
    for f in files:
        old = f.read_text()
        new = rewrite(old)
        if new != old:
            changed.append(f)
            if not args.check:
                f.write_text(new)
    for f in changed:
        print(f"{'would change' if args.check else 'changed'}: {f}")
    print(f"{len(changed)} of {len(files)} files {'would change' if args.check else 'changed'}")
    for line in leftovers(files):
        print(f"check: {line}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
