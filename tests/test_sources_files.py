"""io.py: streaming reads of every supported format, atomic writes, DataError messages."""
from __future__ import annotations

import os

import pyarrow as pa
import pytest

pytest.importorskip("leadscore_fast._engine")  # DataError derives from the extension's class
from leadscore_fast.errors import DataError  # noqa: E402
from leadscore_fast.sinks import write_output  # noqa: E402
from leadscore_fast.sources import open_source  # noqa: E402


def read_input(path):
    return open_source(path).reader()

EXTS = ["parquet", "pq", "csv", "csv.gz", "arrow", "ipc", "feather"]


@pytest.fixture
def table():
    return pa.table({
        "lead_id": pa.array(range(10), pa.int64()),
        "industry": pa.array(["software", None, "fintech"] * 3 + ["retail"]),
        "score": pa.array([float(i) / 2 for i in range(9)] + [None]),
        "tier": pa.array(["hot", "cold"] * 5).dictionary_encode(),
    })


@pytest.mark.parametrize("ext", EXTS)
def test_write_then_read_every_format(tmp_path, table, ext):
    path = tmp_path / f"out.{ext}"
    assert write_output(table, path) == 10
    reader = read_input(path)
    assert isinstance(reader, pa.RecordBatchReader)
    got = reader.read_all()
    assert got.num_rows == 10
    assert got.column("lead_id").to_pylist() == list(range(10))
    assert got.column("industry").to_pylist() == table.column("industry").to_pylist()
    assert [str(v) for v in got.column("tier").to_pylist()] == ["hot", "cold"] * 5
    assert os.listdir(tmp_path) == [path.name]  # no temp files left behind


def test_parquet_is_streamed_a_row_group_at_a_time(tmp_path, table):
    write_output(table, tmp_path / "t.parquet", row_group_rows=4)
    sizes = [b.num_rows for b in read_input(tmp_path / "t.parquet")]
    assert sizes == [4, 4, 2]
    assert open_source(tmp_path / "t.parquet").num_rows() == 10
    write_output(table, tmp_path / "t.csv")
    assert open_source(tmp_path / "t.csv").num_rows() is None


def test_ipc_stream_format_and_inputs(tmp_path, table):
    path = tmp_path / "s.arrow"
    with pa.OSFile(str(path), "wb") as f, pa.ipc.new_stream(f, table.schema) as w:
        w.write_table(table)
    assert read_input(path).read_all().equals(table)
    # RecordBatch and RecordBatchReader inputs to write_output
    assert write_output(table.to_batches()[0], tmp_path / "b.arrow") == 10
    assert write_output(pa.RecordBatchReader.from_batches(table.schema, table.to_batches()),
                        tmp_path / "r.parquet") == 10


def _failing_reader(table):
    def batches():
        yield table.to_batches()[0]
        raise RuntimeError("scoring failed mid-stream")
    return pa.RecordBatchReader.from_batches(table.schema, batches())


@pytest.mark.parametrize("ext", ["parquet", "csv", "arrow"])
def test_failed_write_leaves_no_partial_file(tmp_path, table, ext):
    path = tmp_path / f"out.{ext}"
    with pytest.raises(RuntimeError, match="mid-stream"):
        write_output(_failing_reader(table), path)
    assert os.listdir(tmp_path) == []
    # an existing output is left untouched
    write_output(table.slice(0, 3), path)
    with pytest.raises(RuntimeError):
        write_output(_failing_reader(table), path)
    assert read_input(path).read_all().num_rows == 3
    assert os.listdir(tmp_path) == [path.name]


def test_written_file_gets_normal_permissions(tmp_path, table):
    old = os.umask(0o022)
    try:
        write_output(table, tmp_path / "p.parquet")
    finally:
        os.umask(old)
    assert (tmp_path / "p.parquet").stat().st_mode & 0o777 == 0o644


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match=r"missing\.parquet: no such file"):
        read_input(tmp_path / "missing.parquet")
    with pytest.raises(DataError, match=r"data\.xlsx: unsupported file type"):
        read_input(tmp_path / "data.xlsx")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all" * 10)
    with pytest.raises(DataError, match=r"bad\.parquet: cannot read as parquet: .*magic"):
        read_input(bad)
    bad = tmp_path / "bad.arrow"
    bad.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(DataError, match=r"bad\.arrow: cannot read as ipc"):
        read_input(bad)


def test_corruption_found_while_streaming_is_a_data_error(tmp_path):
    path = tmp_path / "late.csv"
    path.write_text("a,b\n" + "1,2\n" * 5 + "oops\n")
    with pytest.raises(DataError, match=r"late\.csv: cannot read as csv: .*Expected 2 columns"):
        read_input(path).read_all()


def test_write_errors(tmp_path, table):
    with pytest.raises(DataError, match="cannot write"):
        write_output(table, tmp_path / "no" / "such" / "dir.parquet")
    nested = pa.table({"tech": pa.array([["a", "b"]])})
    with pytest.raises(DataError, match=r"CSV cannot hold list/struct columns \(tech\)"):
        write_output(nested, tmp_path / "t.csv")
    with pytest.raises(DataError, match="unsupported file type"):
        write_output(table, tmp_path / "t.json")
    assert os.listdir(tmp_path) == []


def test_plain_parquet_strings_come_dictionary_encoded_when_asked(tmp_path):
    """``as_dictionary``: a plain string column (as pyarrow stores strings by default) is read
    straight from its dictionary pages; other columns, and the ones not asked for, as stored."""
    import pyarrow.parquet as pq

    t = pa.table({"s": pa.array(["a", None, "b", "a"] * 3), "k": pa.array(["x", "y", "z"] * 4),
                  "n": pa.array(range(12))})
    path = tmp_path / "plain.parquet"
    pq.write_table(t, path, row_group_size=5)
    src = open_source(path)
    assert src.schema.field("s").type == pa.string()
    got = pa.Table.from_batches(list(src.batches(["s", "k", "n"], as_dictionary=["s", "n"])))
    assert pa.types.is_dictionary(got.schema.field("s").type)
    assert got.schema.field("k").type == pa.string()
    assert got.schema.field("n").type == pa.int64()
    assert got.column("s").to_pylist() == t.column("s").to_pylist()
    assert got.column("k").to_pylist() == t.column("k").to_pylist()


def test_scores_of_a_plain_string_parquet_file_equal_the_in_memory_scores(tmp_path):
    """lf.score reads the model's string columns dictionary-encoded; the scores are the
    in-memory table's, and a kept string column keeps its type."""
    import pyarrow.parquet as pq

    import leadscore_fast as lf
    from leadscore_fast.synthetic import REFERENCE_MODEL_YAML, generate_leads

    leads = generate_leads(30_000, seed=3)
    leads = leads.cast(pa.schema([f.with_type(pa.string()) if pa.types.is_dictionary(f.type)
                                  else f for f in leads.schema]))
    path = tmp_path / "leads.parquet"
    pq.write_table(leads, path, row_group_size=7_000)
    model = lf.Model.from_yaml_string(REFERENCE_MODEL_YAML)
    from_file = lf.score(model, path, keep=["lead_id", "country"])
    in_memory = lf.score(model, leads, keep=["lead_id", "country"])
    assert from_file.schema.field("country").type == pa.string()
    assert from_file.equals(in_memory)
