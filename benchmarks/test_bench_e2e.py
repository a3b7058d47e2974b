"""The end-to-end benchmark harness (benchmarks/e2e.py) run end to end on a small file, as a plain
test (CI runs benchmarks with --benchmark-disable): every contender is a real process, every
scoring contender's output must equal leadscore's, and the report files must appear."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import e2e  # noqa: E402
import peers  # noqa: E402
import workloads as W  # noqa: E402

ROWS = 50_000


@pytest.fixture(scope="module")
def harness_run(tmp_path_factory):
    pytest.importorskip("polars")
    pytest.importorskip("duckdb")
    reason = peers.vm_unavailable()
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("e2e")
    rc = e2e.main(["--rows", str(ROWS), "--repeat", "1", "--scaling", "none", "--settle", "0",
                   "--data-dir", str(tmp / "data"), "--out-dir", str(tmp / "results"),
                   "--keep-outputs", str(tmp / "outputs")])
    assert rc == 0
    return tmp, json.loads((tmp / "results" / "e2e.json").read_text())


def test_every_contender_ran_and_agrees(harness_run):
    tmp, R = harness_run
    main = R["main"]
    assert main["rows"] == ROWS
    expected = {"leadscore", "leadscore (Python path)", "Polars", "DuckDB", "DuckDB (to_sql)",
                "pyarrow baseline", "pyarrow row groups"}
    assert set(main["summary"]) == expected
    assert main["checks"] == {"leadscore": "reference", "leadscore (Python path)": "agrees",
                              "Polars": "agrees", "DuckDB": "agrees",
                              "DuckDB (to_sql)": "agrees", "pyarrow baseline": "shape",
                              "pyarrow row groups": "shape"}
    for name, runs in main["runs"].items():
        assert len(runs) == 1, name
        r = runs[0]
        assert r["wall_s"] > 0 and r["cpu_s"] > 0, name
        # measured through the launcher: not the harness's own RSS (numba + Polars, ~270 MB)
        assert 5 < r["rss_mb"] < 4096, (name, r["rss_mb"])
        assert r["out_mb"] > 0, name

    # Independently of the harness's own check: the kept outputs of the check round.
    out = tmp / "outputs"
    cols = W.reference_spec().outputs + ["tier", "lead_id"]
    want = W.normalize(pq.read_table(out / f"{ROWS}-leadscore.parquet", columns=cols),
                       W.reference_spec().outputs)
    assert len(want["total"]) == ROWS
    assert set(np.unique(want["tier"])) <= {0, 1, 2}
    for slug in ("polars", "duckdb", "duckdb-to-sql"):
        t = pq.read_table(out / f"{ROWS}-{slug}.parquet", columns=cols)
        assert sorted(t.column("lead_id").to_pylist()) == list(range(1, ROWS + 1)), slug
        got = W.normalize(t, W.reference_spec().outputs)
        W.assert_agree(got, want, W.reference_spec().outputs, slug, e2e.THRESHOLDS)
    # The no-scoring baselines write leadscore's columns, same order and types.
    ls_schema = pq.read_schema(out / f"{ROWS}-leadscore.parquet")
    for slug in ("pyarrow-baseline", "pyarrow-row-groups"):
        s = pq.read_schema(out / f"{ROWS}-{slug}.parquet")
        assert s.names == ls_schema.names, slug
        assert [f.type for f in s] == [f.type for f in ls_schema], slug


def test_report_files(harness_run):
    tmp, R = harness_run
    res = tmp / "results"
    md = (res / "e2e.md").read_text()
    for needle in ("## Targets", "Polars / leadscore", "DuckDB COPY / leadscore",
                   "leadscore / pyarrow baseline", "Warm page cache", "load average",
                   "| leadscore | CLI |", "## PostgreSQL"):
        assert needle in md, needle
    labels = [t[0] for t in R["targets"]]
    assert any(label.startswith("rescore --into") for label in labels)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert (res / "e2e.png").stat().st_size > 1000


def test_input_is_streamed_in_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(e2e, "BLOCK", 20_000)
    path = e2e.ensure_input(50_000, tmp_path)
    f = pq.ParquetFile(path)
    assert f.metadata.num_rows == 50_000
    assert f.metadata.num_row_groups == 3
    ids = pq.read_table(path, columns=["lead_id"]).column("lead_id").to_numpy()
    np.testing.assert_array_equal(ids, np.arange(1, 50_001))
    assert e2e.ensure_input(50_000, tmp_path) == path  # cached


def test_postgres_part_skips_cleanly(monkeypatch, capsys):
    monkeypatch.setattr(e2e, "_rescore_available", lambda: "`leadscore rescore` is missing")
    assert e2e.postgres_part(None, 1000, 1) == {"skipped": "`leadscore rescore` is missing"}
    R = {"main": {}, "postgres": {"skipped": "`leadscore rescore` is missing"}}
    pg = [t for t in e2e.targets(R) if "PostgreSQL" in t[0] or "UPDATE" in t[0]]
    assert len(pg) == 2 and all(t[3] is None and "skipped" in t[1] for t in pg)


def test_profile_categories():
    cat = e2e._category
    assert cat(["_find_and_load (<frozen importlib._bootstrap>:1176)",
                "<module> (pandas/__init__.py:46)"]) == "startup: imports"
    assert cat(["score_cmd (leadscore_fast/cli.py:106)", "write_output (leadscore_fast/io.py:161)",
                "ParquetWriter.write_batch (pyarrow/parquet/core.py:1198)"]) == \
        "write: Parquet encode"
    assert cat(["_write_parquet (leadscore_fast/io.py:184)",
                "score_cmd.<locals>.batches (leadscore_fast/cli.py:103)",
                "_Stats.add (leadscore_fast/cli.py:500)"]) == "summary stats"
    assert cat(["produce (leadscore_fast/pipeline.py:40)", "Queue.put (queue.py:140)",
                "Condition.wait (threading.py:327)"]) == "waiting in produce"
    assert cat([]).startswith("no Python frame")
