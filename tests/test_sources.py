"""sources/: every input shape becomes the same rows; readers decode only the columns asked
for; CSV the way real exports look; datasets with hive partitions; one-shot vs re-readable."""
from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from leadscore_fast.errors import DataError, SchemaError  # noqa: E402
from leadscore_fast.sinks import write_output  # noqa: E402
from leadscore_fast.sources import DatasetSource, FileSource, open_source  # noqa: E402
from leadscore_fast.synthetic import generate_leads  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "b2b_inbound.yaml"


@pytest.fixture(scope="module")
def leads():
    return generate_leads(3000, seed=7)


@pytest.fixture(scope="module")
def expected(leads):
    return lf.score(EXAMPLE, leads, keep=["lead_id"])


def _inputs(leads, tmp: Path):
    """The same leads in every shape a user may hand over."""
    import pandas  # noqa: F401
    import polars as pl

    paths = {}
    for ext in ("parquet", "csv", "csv.gz", "arrow"):
        if ext.startswith("csv"):  # CSV has no list<string> columns
            continue
        paths[ext] = tmp / f"leads.{ext}"
        write_output(leads, paths[ext], row_group_rows=1000)
    part = tmp / "dataset"
    part.mkdir()
    for i, start in enumerate(range(0, leads.num_rows, 1000)):
        pq.write_table(leads.slice(start, 1000), part / f"part-{i}.parquet")
    return {
        "table": leads, "batch": leads.combine_chunks().to_batches()[0],
        "reader": pa.RecordBatchReader.from_batches(leads.schema, leads.to_batches()),
        "pandas": leads.to_pandas(), "polars": pl.from_arrow(leads),
        **{f"file.{k}": v for k, v in paths.items()},
        "directory": part, "glob": str(part / "part-*.parquet"),
    }


def test_every_input_shape_scores_the_same(leads, expected, tmp_path):
    for name, data in _inputs(leads, tmp_path).items():
        got = lf.score(EXAMPLE, data, keep=["lead_id"])
        for c in ("fit", "engagement", "total"):
            assert got.column(c).to_pylist() == expected.column(c).to_pylist(), (name, c)
        assert got.column("tier").to_pylist() == expected.column("tier").to_pylist(), name


def test_readers_decode_only_the_columns_asked_for(leads, tmp_path):
    path = tmp_path / "l.parquet"
    write_output(leads, path)
    src = open_source(path)
    batch = next(iter(src.batches(["industry", "lead_id"])))
    assert batch.schema.names == ["industry", "lead_id"]
    with pytest.raises(SchemaError, match="unknown column 'industy'; did you mean 'industry'"):
        src.batches(["industy"])


def test_one_shot_streams_and_rereadable_sources(leads, tmp_path):
    reader = open_source(pa.RecordBatchReader.from_batches(leads.schema, leads.to_batches()))
    assert not reader.reopenable
    reader.read_all()
    with pytest.raises(DataError, match="one-shot stream"):
        reader.read_all()
    path = tmp_path / "l.arrow"
    write_output(leads, path)
    src = open_source(path)
    assert src.reopenable and src.read_all().equals(src.read_all())


def test_take_reads_rows_in_the_order_asked(leads):
    src = open_source(leads)
    got = src.take([5, 0, 2999, 5], ["lead_id"])
    assert got.column("lead_id").to_pylist() == [leads.column("lead_id")[i].as_py()
                                                 for i in (5, 0, 2999, 5)]


# -- CSV the way real exports look ---------------------------------------------------------

def test_csv_delimiter_is_sniffed_and_null_values_apply(tmp_path):
    path = tmp_path / "bank.csv"
    path.write_text('age;job;"note; quoted"\n30;admin.;x\n41;Select;y\n')
    src = open_source(path, null_values=["Select"])
    assert src.delimiter == ";"
    assert src.read_all().column("job").to_pylist() == ["admin.", None]
    gz = tmp_path / "bank.csv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert open_source(gz).schema.names == ["age", "job", "note; quoted"]
    tsv = tmp_path / "t.tsv"
    tsv.write_text("a\tb\n1\t2\n")
    assert open_source(tsv).read_all().column("b").to_pylist() == [2]


def test_csv_format_override_and_explicit_delimiter(tmp_path):
    path = tmp_path / "export.txt"
    path.write_text("a|b\n1|x\n")
    with pytest.raises(DataError, match="unsupported file type"):
        open_source(path)
    src = open_source(path, format="csv", delimiter="|")
    assert src.read_all().to_pydict() == {"a": [1], "b": ["x"]}
    with pytest.raises(DataError, match="unknown format 'xlsx'"):
        open_source(path, format="xlsx")


def test_header_only_csv_scores_zero_rows(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("lead_id,industry,pricing_visits\n")
    model = {"name": "m", "scores": {"fit": {"rules": [
        {"name": "sw", "when": "industry IN ('software')", "points": 10},
        {"name": "visits", "points": "5 * pricing_visits", "cap": 25}]}},
        "segments": {"tier": [{"name": "hot", "when": "fit >= 10"}, {"name": "cold"}]}}
    out = lf.score(model, path, keep=["lead_id"])
    assert out.num_rows == 0 and out.column_names == ["fit", "tier", "lead_id"]


def test_csv_types_are_pinned_across_blocks(tmp_path, monkeypatch):
    from leadscore_fast.sources import files

    monkeypatch.setattr(files, "_CSV_BLOCK", 64)
    path = tmp_path / "wide.csv"
    path.write_text("a,b\n" + "".join(f"{i},x{i}\n" for i in range(100)))
    batches = list(open_source(path).batches())
    assert len(batches) > 1 and all(b.schema == batches[0].schema for b in batches)


# -- datasets --------------------------------------------------------------------------------

def test_hive_partitions_are_columns(tmp_path, leads):
    for region in ("DE", "US"):
        d = tmp_path / "ds" / f"region={region}"
        d.mkdir(parents=True)
        pq.write_table(leads.slice(0, 10), d / "part-0.parquet")
    src = open_source(tmp_path / "ds")
    assert isinstance(src, DatasetSource) and src.partition_columns == ["region"]
    assert src.num_rows() == 20
    assert src.read_all(["region"]).column(0).to_pylist() == ["DE"] * 10 + ["US"] * 10
    parts = [(rel, p.read_all(["lead_id", "region"]).num_rows) for rel, p in src.parts()]
    assert parts == [("region=DE/part-0.parquet", 10), ("region=US/part-0.parquet", 10)]
    assert lf.count(EXAMPLE, tmp_path / "ds", "region = 'US'") == 10


def test_missing_inputs_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="no Parquet files found"):
        open_source(str(tmp_path / "nothing-*.parquet"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no Parquet files found"):
        open_source(tmp_path / "empty")
    with pytest.raises(DataError, match="cannot read a dict"):
        open_source({"a": 1})
    assert isinstance(open_source(FileSource.__new__(FileSource)), FileSource)


# -- queries on every input ------------------------------------------------------------------

def test_polars_input_works_for_every_query(leads):
    """Regression: Polars exports string_view columns, which Arrow cannot take() from."""
    import polars as pl

    df = pl.from_arrow(leads)
    want = lf.top_k(EXAMPLE, leads, 5, by="total", columns=["lead_id", "industry"])
    assert lf.top_k(EXAMPLE, df, 5, by="total", columns=["lead_id", "industry"]) \
        .column("lead_id").to_pylist() == want.column("lead_id").to_pylist()
    sel = lf.select(EXAMPLE, df, "tier = 'hot'", columns=["lead_id", "industry"])
    assert sel.num_rows == lf.count(EXAMPLE, leads, "tier = 'hot'")
    c = lf.crossings(EXAMPLE, EXAMPLE, df, score="total", threshold=50, id_column="lead_id")
    assert c.n_up == 0 and c.n_down == 0


def test_two_pass_queries_read_a_file_again(leads, tmp_path):
    path = tmp_path / "l.parquet"
    write_output(leads, path, row_group_rows=700)
    want = lf.select(EXAMPLE, leads, "total >= 40", columns=["lead_id"])
    assert lf.select(EXAMPLE, path, "total >= 40", columns=["lead_id"]).equals(want)
    tk = lf.top_k(EXAMPLE, path, 7, by="total", per="tier", columns=["lead_id"])
    assert tk.equals(lf.top_k(EXAMPLE, leads, 7, by="total", per="tier", columns=["lead_id"]))
    mig = lf.migration(EXAMPLE, EXAMPLE, path, "tier")
    assert mig.equals(lf.migration(EXAMPLE, EXAMPLE, leads, "tier"))
