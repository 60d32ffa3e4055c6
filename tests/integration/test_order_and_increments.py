"""Identity does not depend on the order videos arrive in, nor on whether they arrive in one batch or two."""

import csv

from influencers.client import ingest_manifest
from influencers.stack import start_stack
from services.analytics.export import export_report
from services.common.rpc import open_channel


def write_manifest(path, rows, folder):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Performance", "Video URL"])
        for perf, url in rows:
            w.writerow([perf, str(folder / url)])


def partition(settings, manifests, out):
    stack = start_stack(settings, web=False)
    try:
        for m in manifests:
            ingest_manifest(open_channel(stack.settings.ingest_target), m, timeout_s=600)
        export_report(stack.store, out)
    finally:
        stack.stop()
    groups = {}
    with open(out / "appearances.csv") as f:
        for row in csv.DictReader(f):
            groups.setdefault(row["influencer_id"], set()).add(row["video_url"])
    return sorted(sorted(g) for g in groups.values())


def test_reversed_order_and_two_batches_give_the_same_people(settings, corpus, tmp_path):
    smoke = corpus("smoke")
    with open(smoke / "manifest.csv", newline="") as f:
        rows = list(csv.reader(f))[1:]
    forward, backward, first, second = (tmp_path / f"{n}.csv" for n in ("fwd", "bwd", "first", "second"))
    write_manifest(forward, rows, smoke)
    write_manifest(backward, rows[::-1], smoke)
    write_manifest(first, rows[: len(rows) // 2], smoke)
    write_manifest(second, rows[len(rows) // 2:], smoke)

    one = partition(settings.replace(data_dir=tmp_path / "a"), [forward], tmp_path / "ra")
    reverse = partition(settings.replace(data_dir=tmp_path / "b"), [backward], tmp_path / "rb")
    halves = partition(settings.replace(data_dir=tmp_path / "c"), [first, second], tmp_path / "rc")
    assert one == reverse == halves
    assert len(one) == 9
