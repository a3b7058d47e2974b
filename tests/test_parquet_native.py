"""parquet_native.py and the leadscore-bulk crate: a Parquet file scored into a Parquet file in
Rust gives the Python path's file (generated models and data, every column type the native
binding takes, kept columns of any type), hands back what it does not take with nothing
written, writes atomically, and reports bad input as DataError naming the file."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given

pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from leadscore_fast import parquet_native, runner  # noqa: E402
from leadscore_fast.errors import DataError  # noqa: E402
from leadscore_fast.synthetic import REFERENCE_MODEL_YAML, generate_leads  # noqa: E402
from strategies import cases, examples  # noqa: E402
from vm_harness import assert_same_tables  # noqa: E402


@pytest.fixture(autouse=True)
def _auto_executor(monkeypatch):
    monkeypatch.delenv("LEADSCORE_EXECUTOR", raising=False)
    monkeypatch.delenv("LEADSCORE_FUSE_AFTER_ROWS", raising=False)
    monkeypatch.delenv("LEADSCORE_BULK_NATIVE", raising=False)


@pytest.fixture(scope="module")
def model():
    return lf.Model.from_yaml_string(REFERENCE_MODEL_YAML)


def _segments_as_strings(t: pa.Table) -> pa.Table:
    """Segment columns decoded, to compare values (the dictionaries of both paths list the
    labels in the model's order: test_sinks_parquet.py checks that)."""
    for i, f in enumerate(t.schema):
        if pa.types.is_dictionary(f.type):
            t = t.set_column(i, f.name, pc.cast(t.column(i), pa.string()))
    return t


def _expected(model, table, keep, as_of=None) -> pa.Table:
    want = lf.score(model, table, keep=keep, as_of=as_of, executor="interpreter")
    return _segments_as_strings(want)


def _no_temp_files(directory) -> bool:
    return not [p for p in os.listdir(directory) if p.startswith(".")]


def test_chunk_rows_are_the_runners():
    assert parquet_native.CHUNK_ROWS == runner.DEFAULT_CHUNK_ROWS


def test_the_reference_model_gives_the_python_paths_file(tmp_path, model):
    leads = generate_leads(25_000, seed=4).drop_columns(["technologies"])
    src = tmp_path / "leads.parquet"
    # input row groups far from the size asked for: the output's are of that size
    pq.write_table(leads, src, row_group_size=4_000)
    out = tmp_path / "scored.parquet"
    keep = ["lead_id", "country", "last_activity_at", "converted"]
    got = parquet_native.score_file(model, src, out, keep=keep, row_group_rows=10_000)
    assert got is not None and got["rows"] == 25_000
    back = pq.read_table(out)
    assert back.schema == lf.score(model, leads, keep=keep).schema
    assert [rg.num_rows for rg in (pq.ParquetFile(out).metadata.row_group(i)
                                   for i in range(3))] == [10_000, 10_000, 5_000]
    assert_same_tables(_segments_as_strings(back), _expected(model, leads, keep), "bulk")
    assert _no_temp_files(tmp_path)


def _chunks(path, name):
    """(rows, encodings, compressed bytes, statistics) of column ``name`` per row group."""
    meta = pq.ParquetFile(path).metadata
    i = meta.schema.names.index(name)
    return [(meta.row_group(g).num_rows, sorted(meta.row_group(g).column(i).encodings),
             meta.row_group(g).column(i).total_compressed_size,
             meta.row_group(g).column(i).statistics.to_dict())
            for g in range(meta.num_row_groups)]


def test_kept_columns_are_copied_as_they_are_where_row_groups_are_about_the_size(
        tmp_path, model, monkeypatch):
    # input row groups of 6,000 rows for 10,000 asked (within half to twice): the output's
    # groups end where the input's do, and a kept column unchanged in type and codec is its
    # input chunk byte for byte; the values are the Python path's either way
    leads = generate_leads(25_000, seed=5).drop_columns(["technologies"])
    src = tmp_path / "leads.parquet"
    pq.write_table(leads, src, row_group_size=6_000, compression="snappy")
    keep = ["lead_id", "country", "last_activity_at", "converted"]
    want = _expected(model, leads, keep)
    copied = tmp_path / "copied.parquet"
    assert parquet_native.score_file(model, src, copied, keep=keep, row_group_rows=10_000)
    assert [c[0] for c in _chunks(copied, "lead_id")] == [6_000] * 4 + [1_000]
    for name in keep:
        assert _chunks(copied, name) == _chunks(src, name), name
    assert_same_tables(_segments_as_strings(pq.read_table(copied)), want, "copied")
    # another codec, or LEADSCORE_BULK_COPY=0: encoded again, row groups of the size asked
    for label, kw, env in (("zstd", {"compression": "zstd"}, None), ("off", {}, "0")):
        if env:
            monkeypatch.setenv("LEADSCORE_BULK_COPY", env)
        out = tmp_path / f"{label}.parquet"
        assert parquet_native.score_file(model, src, out, keep=keep, row_group_rows=10_000,
                                         **kw)
        assert [c[0] for c in _chunks(out, "lead_id")] == [10_000, 10_000, 5_000], label
        assert_same_tables(_segments_as_strings(pq.read_table(out)), want, label)


def test_a_column_kept_twice_is_copied_once_and_encoded_once(tmp_path, model):
    leads = generate_leads(20_000, seed=3).drop_columns(["technologies"])
    src = tmp_path / "leads.parquet"
    pq.write_table(leads, src, row_group_size=8_000)
    out = tmp_path / "out.parquet"
    assert parquet_native.score_file(model, src, out, keep=["lead_id", "lead_id"],
                                     row_group_rows=10_000)
    back = pq.ParquetFile(out).read()
    assert back.schema.names[-2:] == ["lead_id", "lead_id"]
    assert back.column(4).equals(back.column(5))
    assert back.column(4).to_pylist() == leads.column("lead_id").to_pylist()


def test_a_kept_column_is_not_copied_where_its_type_changes(tmp_path, model):
    # timestamp[s] is stored as milliseconds (kept_field): decoded and written again
    leads = generate_leads(5_000, seed=6).drop_columns(["technologies"])
    seen = pc.cast(leads.column("last_activity_at"), pa.timestamp("s", tz="UTC"), safe=False)
    leads = leads.append_column("seen_s", seen)
    src = tmp_path / "leads.parquet"
    pq.write_table(leads, src, row_group_size=5_000)
    out = tmp_path / "out.parquet"
    assert parquet_native.score_file(model, src, out, keep=["lead_id", "seen_s"],
                                     row_group_rows=5_000)
    back = pq.read_table(out)
    assert back.column("seen_s").to_pylist() == seen.to_pylist()
    assert _chunks(out, "lead_id") == _chunks(src, "lead_id")


def test_the_summary_is_the_outputs(tmp_path, model):
    leads = generate_leads(9_000, seed=8).drop_columns(["technologies"])
    src, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pq.write_table(leads, src, row_group_size=4_000)
    got = parquet_native.score_file(model, src, out, threads=2)
    scored = pq.read_table(out)
    for name, (lo, hi, total, n) in zip(got["program"].scores, got["scores"]):
        col = scored.column(name)
        assert (lo, hi, n) == (pc.min(col).as_py(), pc.max(col).as_py(), len(col) - col.null_count)
        assert total == pytest.approx(pc.sum(col).as_py(), rel=1e-12)
    for seg, counts in zip(got["program"].segments, got["segments"]):
        values = scored.column(seg["name"]).to_pylist()
        assert counts == [values.count(label) for label in seg["labels"]] + [values.count(None)]


@examples(0.25)
@given(cases())
def test_generated_models_and_data_give_the_interpreters_bits(case):
    with tempfile.TemporaryDirectory() as d:
        _check_generated(case, Path(d))


def _check_generated(case, d: Path):
    table = case.table
    src, out = d / "in.parquet", d / "out.parquet"
    pq.write_table(table, src, row_group_size=max(1, table.num_rows // 3 or 1))
    keep = [n for n in table.column_names if not pa.types.is_null(table.schema.field(n).type)]
    got = parquet_native.score_file(case.model, src, out, keep=keep, as_of=case.as_of)
    if got is None:  # declined: nothing written
        assert not out.exists() and _no_temp_files(d)
        return
    back = pq.read_table(out)
    stored = pq.read_table(src)  # the kept columns as pyarrow reads them back
    want = _expected(case.model, stored, keep, as_of=case.as_of)
    assert_same_tables(_segments_as_strings(back), want, "bulk")


def test_a_column_it_does_not_bind_is_handed_back_with_nothing_written(tmp_path):
    leads = generate_leads(500, seed=2)
    src, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pq.write_table(leads, src)
    m = lf.Model.from_yaml_string(
        "name: m\nscores:\n  s:\n    rules:\n"
        "      - {name: crm, when: \"has_any(technologies, 'salesforce')\", points: 5}\n")
    assert parquet_native.score_file(m, src, out) is None
    assert not out.exists() and _no_temp_files(tmp_path)


def test_a_failure_part_way_leaves_the_previous_output(tmp_path, model):
    leads = generate_leads(20_000, seed=5).drop_columns(["technologies"])
    src, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pq.write_table(leads, src, row_group_size=5_000, compression="none")
    out.write_bytes(b"previous")
    raw = bytearray(src.read_bytes())
    middle = len(raw) // 2  # inside a data page of a middle row group; the footer intact
    raw[middle:middle + 4096] = os.urandom(4096)
    src.write_bytes(bytes(raw))
    try:
        got = parquet_native.score_file(model, src, out)
    except DataError as e:
        assert str(src) in str(e)
    else:  # the damage decoded as (other) values: a file was written
        assert got is not None
        return
    assert out.read_bytes() == b"previous" and _no_temp_files(tmp_path)


def test_an_interrupt_stops_the_run_and_writes_nothing(tmp_path, model):
    leads = generate_leads(12_000, seed=6).drop_columns(["technologies"])
    src, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pq.write_table(leads, src, row_group_size=3_000)

    def on_batch(rows):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        parquet_native.score_file(model, src, out, on_batch=on_batch)
    assert not out.exists() and _no_temp_files(tmp_path)


def test_an_empty_file_scores_zero_rows(tmp_path, model):
    leads = generate_leads(10, seed=1).drop_columns(["technologies"]).slice(0, 0)
    src, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pq.write_table(leads, src)
    got = parquet_native.score_file(model, src, out, keep=["lead_id"])
    assert got["rows"] == 0
    assert pq.read_table(out).schema == lf.score(model, leads, keep=["lead_id"]).schema


@pytest.mark.parametrize("compression", ["snappy", "zstd", "lz4", "gzip", "brotli", "none"])
def test_every_compression(tmp_path, model, compression):
    leads = generate_leads(3_000, seed=9).drop_columns(["technologies"])
    src, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pq.write_table(leads, src)
    parquet_native.score_file(model, src, out, compression=compression)
    by_pyarrow = tmp_path / "pyarrow.parquet"
    pq.write_table(leads, by_pyarrow, compression=compression)
    codec = pq.ParquetFile(out).metadata.row_group(0).column(0).compression
    assert codec == pq.ParquetFile(by_pyarrow).metadata.row_group(0).column(0).compression
    assert_same_tables(_segments_as_strings(pq.read_table(out)), _expected(model, leads, []))


def test_takes_only_parquet_files_and_the_auto_or_native_executor(tmp_path, monkeypatch):
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"x": [1]}), src)
    assert parquet_native.takes(src, tmp_path / "o.parquet")
    assert parquet_native.takes(src, tmp_path / "o.pq", executor="native")
    assert not parquet_native.takes(src, tmp_path / "o.csv")
    assert not parquet_native.takes(src, tmp_path / "o.parquet", executor="fused")
    assert not parquet_native.takes(tmp_path, tmp_path / "o.parquet")  # a directory
    assert not parquet_native.takes(src, tmp_path / "o.parquet", delimiter=";")
    monkeypatch.setenv("LEADSCORE_BULK_NATIVE", "0")
    assert not parquet_native.takes(src, tmp_path / "o.parquet")


def _cli(args, env=None):
    code = ("import sys, json; from leadscore_fast.cli import main\n"
            f"sys.argv = ['leadscore', *{[str(a) for a in args]!r}]\n"
            "try: main()\nexcept SystemExit as e: assert not e.code, e.code\n"
            "heavy = sorted(m for m in ('pyarrow', 'numpy', 'numba') if m in sys.modules)\n"
            "print('IMPORTED', heavy, file=sys.stderr)\n")
    env = dict(os.environ, **(env or {}))
    for k in ("LEADSCORE_EXECUTOR", "LEADSCORE_FUSE_AFTER_ROWS"):
        env.pop(k, None)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    return r


def test_the_cli_takes_it_without_pyarrow_and_reports_what_the_python_path_reports(tmp_path):
    leads = generate_leads(30_000, seed=7).drop_columns(["technologies"])
    src = tmp_path / "in.parquet"
    pq.write_table(leads, src, row_group_size=8_000)
    model = tmp_path / "m.yaml"
    model.write_text(REFERENCE_MODEL_YAML)
    fast = _cli(["score", model, src, "-o", tmp_path / "fast.parquet", "--keep", "lead_id",
                 "--json"])
    slow = _cli(["score", model, src, "-o", tmp_path / "slow.parquet", "--keep", "lead_id",
                 "--json"], env={"LEADSCORE_BULK_NATIVE": "0"})
    assert "IMPORTED []" in fast.stderr
    a, b = json.loads(fast.stdout), json.loads(slow.stdout)
    assert a["engine"] == "native executor"
    for s in (a, b):
        for k in ("seconds", "rows_per_second", "first_batch_seconds", "engine", "output"):
            s.pop(k)
        for v in s["scores"].values():
            v["mean"] = round(v["mean"], 9)
    assert a == b
    assert pq.read_table(tmp_path / "fast.parquet").column("total").equals(
        pq.read_table(tmp_path / "slow.parquet").column("total"))


def test_lf_score_file_takes_the_rust_path_for_parquet_and_the_python_path_otherwise(tmp_path,
                                                                                      model):
    leads = generate_leads(5_000, seed=12).drop_columns(["technologies"])
    src = tmp_path / "in.parquet"
    pq.write_table(leads, src)
    assert lf.score_file(model, src, tmp_path / "a.parquet", keep="lead_id") == 5_000
    assert lf.score_file(model, src, tmp_path / "b.csv", keep=["lead_id"]) == 5_000
    assert lf.score_file(model, src, tmp_path / "c.parquet", keep=["lead_id"],
                         executor="interpreter") == 5_000
    a = _segments_as_strings(pq.read_table(tmp_path / "a.parquet"))
    c = _segments_as_strings(pq.read_table(tmp_path / "c.parquet"))
    assert_same_tables(a, c, "score_file")
    import pyarrow.csv as pacsv

    b = pacsv.read_csv(tmp_path / "b.csv")
    assert b.column("total").to_pylist() == a.column("total").to_pylist()
