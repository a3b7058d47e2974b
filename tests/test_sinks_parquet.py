"""sinks.py's Parquet output: the extension's writer (_engine.ParquetWriter, arrow-rs) and the
pyarrow fallback, each read back by pyarrow and compared with the other and with the input."""
from __future__ import annotations

import datetime as dt
import os

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

_engine = pytest.importorskip("leadscore_fast._engine")
from leadscore_fast.errors import DataError  # noqa: E402
from leadscore_fast.sinks import COMPRESSIONS, write_output, write_parts  # noqa: E402

pytestmark = pytest.mark.skipif(not hasattr(_engine, "ParquetWriter"),
                                reason="this build of the extension has no ParquetWriter")

WRITERS = ["native", "pyarrow"]
# what pyarrow's metadata calls each codec (lz4 is LZ4_RAW in the file for both writers)
CODEC_NAMES = {"snappy": "SNAPPY", "zstd": "ZSTD", "lz4": "LZ4", "gzip": "GZIP",
               "brotli": "BROTLI", "none": "UNCOMPRESSED"}


@pytest.fixture(params=WRITERS)
def writer(request, monkeypatch):
    monkeypatch.setenv("LEADSCORE_PARQUET_WRITER", request.param)
    return request.param


def _use(monkeypatch, which):
    monkeypatch.setenv("LEADSCORE_PARQUET_WRITER", which)


def _table(n=50, chunks=3):
    """The columns a scored output carries: scores with NULLs, segments as dictionaries
    (label order, a NULL), kept input columns of the usual types."""
    tiers = pa.array(["hot", "warm", "cold"])
    labels = ["cold", "warm", None, "hot", "warm"]
    table = pa.table({
        "lead_id": pa.array(range(n), pa.int64()),
        "email": pa.array([None if i % 7 == 3 else f"l{i}@exämple.com" for i in range(n)]),
        "note": pa.array(["" if i % 2 else "ñ日本" * (i % 4) for i in range(n)], pa.large_string()),
        "fit": pa.array([None if i % 5 == 0 else i * 1.25 - 7 for i in range(n)], pa.float64()),
        "total": pa.array([float(i % 11) for i in range(n)], pa.float64()),
        "tier": pa.DictionaryArray.from_arrays(
            pa.array([None if labels[i % 5] is None else ["hot", "warm", "cold"].index(labels[i % 5])
                      for i in range(n)], pa.int32()), tiers),
        "small": pa.array([i % 3 for i in range(n)], pa.int8()),
        "active": pa.array([None if i % 9 == 0 else i % 2 == 0 for i in range(n)]),
        "seen": pa.array([dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(hours=i)
                          for i in range(n)], pa.timestamp("us", tz="UTC")),
        "day": pa.array([dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(n)]),
        "tags": pa.array([["a", "b"][: i % 3] if i % 4 else None for i in range(n)]),
        "nothing": pa.nulls(n, pa.float64()),
    })
    step = -(-n // chunks)
    return pa.Table.from_batches([b for i in range(0, n, step)
                                  for b in table.slice(i, step).to_batches()])


def _decoded(table: pa.Table) -> pa.Table:
    """Dictionary columns as their values: a dictionary page's label order is the writer's."""
    cols = [pc.cast(c, c.type.value_type) if pa.types.is_dictionary(c.type) else c
            for c in table.columns]
    return pa.table(cols, names=table.column_names)


def _write(monkeypatch, which, data, path, **kw):
    _use(monkeypatch, which)
    return write_output(data, path, **kw)


def _same_as_input(got: pa.Table, table: pa.Table):
    assert got.num_rows == table.num_rows
    for name in table.column_names:
        assert got.column(name).to_pylist() == table.column(name).to_pylist(), name


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_round_trip_every_compression(tmp_path, writer, compression):
    table = _table()
    path = tmp_path / "out.parquet"
    assert write_output(table, path, compression=compression) == table.num_rows
    got = pq.read_table(path)
    _same_as_input(got, table)
    meta = pq.ParquetFile(path).metadata
    assert {meta.row_group(0).column(i).compression for i in range(meta.num_columns)} \
        == {CODEC_NAMES[compression]}
    assert os.listdir(tmp_path) == ["out.parquet"]


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_native_and_pyarrow_outputs_read_back_identical(tmp_path, monkeypatch, compression):
    table = _table(n=3000, chunks=4)
    for which in WRITERS:
        _write(monkeypatch, which, table, tmp_path / f"{which}.parquet",
               compression=compression, row_group_rows=1000)
    native, fallback = (pq.read_table(tmp_path / f"{w}.parquet") for w in WRITERS)
    assert native.schema.equals(fallback.schema, check_metadata=True)
    assert _decoded(native).equals(_decoded(fallback))
    assert [native.column(c).to_pylist() for c in native.column_names] \
        == [fallback.column(c).to_pylist() for c in fallback.column_names]


def test_schema_read_back_equals_pyarrows(tmp_path, monkeypatch):
    table = _table().replace_schema_metadata({"model": "demo v1"})
    for which in WRITERS:
        _write(monkeypatch, which, table, tmp_path / f"{which}.parquet")
    native, fallback = (pq.read_schema(tmp_path / f"{w}.parquet") for w in WRITERS)
    assert native.equals(fallback, check_metadata=True)
    assert native.field("tier").type == pa.dictionary(pa.int32(), pa.string())
    assert native.field("note").type == pa.large_string()
    assert native.field("seen").type == pa.timestamp("us", tz="UTC")
    assert native.metadata == {b"model": b"demo v1"}
    assert pq.read_table(tmp_path / "native.parquet").schema.equals(
        pq.read_table(tmp_path / "pyarrow.parquet").schema, check_metadata=True)


def test_dictionary_pages_only_for_segments_and_strings(tmp_path, writer):
    table = _table(n=400)
    path = tmp_path / "out.parquet"
    write_output(table, path)
    meta = pq.ParquetFile(path).metadata.row_group(0)
    encodings = {meta.column(i).path_in_schema: meta.column(i).encodings
                 for i in range(meta.num_columns)}
    dictionary = {"RLE_DICTIONARY", "PLAIN_DICTIONARY"}
    for name in ("tier", "email", "note"):
        assert dictionary & set(encodings[name]), name
    for name in ("fit", "total", "lead_id"):
        assert not dictionary & set(encodings[name]), name
    # the segment comes back a dictionary whose values are the rows' labels
    tier = pq.read_table(path).column("tier")
    assert pa.types.is_dictionary(tier.type)
    assert tier.to_pylist() == table.column("tier").to_pylist()


def test_native_segment_dictionary_is_the_label_order_and_statistics_are_written(tmp_path,
                                                                                  monkeypatch):
    # the writer encodes float64 and segment columns itself (bulk/src/chunks.rs): the labels
    # in the model's order, not as first met; min/max/NULLs per row group as arrow-rs writes
    table = _table(n=400)
    path = tmp_path / "out.parquet"
    _write(monkeypatch, "native", table, path, row_group_rows=150)
    tier = pq.read_table(path).column("tier")
    assert tier.chunk(0).dictionary.to_pylist() == ["hot", "warm", "cold"]
    meta = pq.ParquetFile(path).metadata
    fit = pa.array(table.column("fit").to_pylist(), pa.float64())
    for g in range(meta.num_row_groups):
        rows = fit.slice(g * 150, 150)
        stats = meta.row_group(g).column(table.column_names.index("fit")).statistics
        assert stats.null_count == rows.null_count
        t = meta.row_group(g).column(table.column_names.index("tier")).statistics
        labels = [x for x in table.column("tier").slice(g * 150, 150).to_pylist() if x]
        assert (t.min, t.max) == (min(labels), max(labels))
    duckdb = pytest.importorskip("duckdb")
    got = duckdb.sql(f"SELECT row_group_id, stats_min_value, stats_max_value FROM "
                     f"parquet_metadata('{path}') WHERE path_in_schema = 'fit' "
                     f"ORDER BY row_group_id").fetchall()
    want = [(g, str(pc.min(fit.slice(g * 150, 150)).as_py()),
             str(pc.max(fit.slice(g * 150, 150)).as_py())) for g in range(meta.num_row_groups)]
    assert got == want


def test_nulls_and_strings(tmp_path, writer):
    table = pa.table({
        "s": pa.array([None, "", "a", "日本語", None, "x" * 5000]),
        "all_null_s": pa.array([None] * 6, pa.string()),
        "f": pa.array([None, float("inf"), -0.0, None, 1e300, float("-inf")]),
        "seg": pa.array([None, None, "b", "a", "b", None]).dictionary_encode(),
        "all_null_seg": pa.DictionaryArray.from_arrays(pa.nulls(6, pa.int32()),
                                                       pa.array(["x", "y"])),
    })
    path = tmp_path / "out.parquet"
    write_output(table, path)
    _same_as_input(pq.read_table(path), table)


def test_nan_scores_round_trip(tmp_path, writer):
    table = pa.table({"x": pa.array([float("nan"), 1.0, None])})
    write_output(table, tmp_path / "n.parquet")
    got = pq.read_table(tmp_path / "n.parquet").column("x").to_pylist()
    assert got[0] != got[0] and got[1:] == [1.0, None]


def test_empty_outputs(tmp_path, monkeypatch):
    table = _table()
    schemas = {}
    for which in WRITERS:
        _use(monkeypatch, which)
        empty = tmp_path / f"{which}.parquet"
        assert write_output(table.slice(0, 0), empty) == 0
        stream = tmp_path / f"{which}-stream.parquet"
        assert write_output(pa.RecordBatchReader.from_batches(table.schema, []), stream) == 0
        for path in (empty, stream):
            meta = pq.ParquetFile(path).metadata
            assert (meta.num_rows, meta.num_row_groups) == (0, 1)
            assert meta.row_group(0).num_rows == 0
        schemas[which] = pq.read_table(empty).schema
    assert schemas["native"].equals(schemas["pyarrow"], check_metadata=True)


@pytest.mark.parametrize("batch_rows, group_rows, n", [(7, 10, 45), (25, 10, 25), (10, 10, 30),
                                                       (3, 100, 20), (1, 1, 3)])
def test_row_groups_are_exactly_row_group_rows(tmp_path, writer, batch_rows, group_rows, n):
    table = _table(n=n, chunks=-(-n // batch_rows))
    path = tmp_path / "out.parquet"
    write_output(table, path, row_group_rows=group_rows)
    meta = pq.ParquetFile(path).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    whole, rest = divmod(n, group_rows)
    assert sizes == [group_rows] * whole + ([rest] if rest else [])
    _same_as_input(pq.read_table(path), table)


def _failing(table, after):
    def batches():
        yield from table.to_batches()[:after]
        raise RuntimeError("scoring failed mid-stream")
    return pa.RecordBatchReader.from_batches(table.schema, batches())


def test_failure_part_way_leaves_no_output_or_the_previous_one(tmp_path, writer):
    table = _table(n=60, chunks=6)
    path = tmp_path / "out.parquet"
    # fails after two row groups were written to the temporary file
    with pytest.raises(RuntimeError, match="mid-stream"):
        write_output(_failing(table, 5), path, row_group_rows=20)
    assert os.listdir(tmp_path) == []
    write_output(table.slice(0, 7), path)
    with pytest.raises(RuntimeError, match="mid-stream"):
        write_output(_failing(table, 5), path, row_group_rows=20)
    assert pq.read_table(path).num_rows == 7
    assert os.listdir(tmp_path) == ["out.parquet"]


def test_a_bad_batch_is_a_data_error_naming_the_file(tmp_path, monkeypatch):
    _use(monkeypatch, "native")
    table = _table()
    good = table.to_batches()[0]
    bad = pa.RecordBatch.from_arrays([pa.array(["not a number"] * good.num_rows)
                                      if f.name == "fit" else good.column(i)
                                      for i, f in enumerate(table.schema)],
                                     names=table.column_names)

    class Batches:  # a source of batches whose second one does not match the schema
        def __arrow_c_stream__(self, requested_schema=None):
            return pa.RecordBatchReader.from_batches(table.schema, [good]).__arrow_c_stream__()

    path = tmp_path / "out.parquet"
    w = _engine.ParquetWriter(str(path), table.schema)
    w.write(good)
    with pytest.raises(ValueError, match=r"column fit: a batch of Utf8 for a file of Float64"):
        w.write(bad)
    w.write(Batches())  # a stream; the writer is still usable after a refused batch
    assert w.close() == 2 * good.num_rows
    with pytest.raises(ValueError, match="closed"):
        w.write(good)
    assert pq.read_table(path).num_rows == 2 * good.num_rows


def test_write_errors_name_the_file(tmp_path, writer):
    with pytest.raises(DataError, match=r"dir\.parquet: cannot write"):
        write_output(_table(), tmp_path / "no" / "such" / "dir.parquet")
    assert os.listdir(tmp_path) == []


def test_unknown_writer_choice_is_a_data_error(tmp_path, monkeypatch):
    _use(monkeypatch, "rust")
    with pytest.raises(DataError, match="LEADSCORE_PARQUET_WRITER='rust'"):
        write_output(_table(), tmp_path / "out.parquet")
    assert os.listdir(tmp_path) == []


def test_an_extension_without_the_writer_falls_back_to_pyarrow(tmp_path, monkeypatch):
    table = _table()
    _write(monkeypatch, "pyarrow", table, tmp_path / "pyarrow.parquet")
    monkeypatch.delattr(_engine, "ParquetWriter")  # as an older build of the extension
    _write(monkeypatch, "auto", table, tmp_path / "auto.parquet")
    assert pq.read_table(tmp_path / "auto.parquet").equals(
        pq.read_table(tmp_path / "pyarrow.parquet"))
    with pytest.raises(DataError, match="no ParquetWriter"):
        _write(monkeypatch, "native", table, tmp_path / "native.parquet")


def test_auto_is_the_native_writer(tmp_path, monkeypatch):
    _write(monkeypatch, "auto", _table(), tmp_path / "a.parquet")
    assert pq.ParquetFile(tmp_path / "a.parquet").metadata.created_by.startswith(
        "leadscore_fast")


def test_directory_outputs_use_the_same_writer(tmp_path, monkeypatch):
    table = _table(n=30)
    for which in WRITERS:
        _use(monkeypatch, which)
        parts = [("a=1/part-0.parquet", table.slice(0, 10)),
                 ("a=2/part-0.parquet", table.slice(10))]
        assert write_parts(iter(parts), tmp_path / which) == 30
    for rel in ("a=1/part-0.parquet", "a=2/part-0.parquet"):
        native, fallback = (pq.read_table(tmp_path / w / rel) for w in WRITERS)
        assert native.schema.equals(fallback.schema)
        assert _decoded(native).equals(_decoded(fallback))


def test_a_different_dictionary_per_batch(tmp_path, monkeypatch):
    """Batches whose dictionaries differ (order, unused labels) read back as the same labels."""
    b1 = pa.record_batch({"seg": pa.DictionaryArray.from_arrays(
        pa.array([0, 1, 0], pa.int32()), pa.array(["a", "b", "c"]))})
    b2 = pa.record_batch({"seg": pa.DictionaryArray.from_arrays(
        pa.array([2, None, 1], pa.int32()), pa.array(["c", "b", "a"]))})
    table = pa.Table.from_batches([b1, b2])
    for which in WRITERS:
        _write(monkeypatch, which, table, tmp_path / f"{which}.parquet")
        got = pq.read_table(tmp_path / f"{which}.parquet").column("seg").to_pylist()
        assert got == ["a", "b", "a", "a", None, "b"]


def _types():
    import decimal

    day, ms = 86_400_000, [0, 1, None, 3]
    return {
        "ts_s": pa.array(ms, pa.timestamp("s")),
        "ts_ms_tz": pa.array(ms, pa.timestamp("ms", tz="Europe/Paris")),
        "ts_ns": pa.array(ms, pa.timestamp("ns")),
        "date64": pa.array([0, day, None, 3 * day], pa.date64()),
        "time32": pa.array(ms, pa.time32("ms")),
        "time64": pa.array(ms, pa.time64("ns")),
        "duration": pa.array(ms, pa.duration("us")),
        "decimal": pa.array([decimal.Decimal("1.5"), None, decimal.Decimal("-2.25"),
                             decimal.Decimal("0")], pa.decimal128(10, 2)),
        "binary": pa.array([b"a", None, b"", b"xyz"]),
        "large_binary": pa.array([b"a", None, b"", b"xyz"], pa.large_binary()),
        "fixed": pa.array([b"ab", None, b"cd", b"ef"], pa.binary(2)),
        "float16": pa.array([1, 2, None, 3], pa.float32()).cast(pa.float16()),
        "float32": pa.array([1, 2, None, 3], pa.float32()),
        "uint64": pa.array([1, 2, None, 2**64 - 1], pa.uint64()),
        "int16": pa.array([1, 2, None, 3], pa.int16()),
        "dict_int8": pa.array(["a", "b", None, "a"]).dictionary_encode().cast(
            pa.dictionary(pa.int8(), pa.string())),
        "dict_large": pa.array(["a", "b", None, "a"], pa.large_string()).dictionary_encode(),
        "dict_of_ints": pa.array([1, 2, None, 1]).dictionary_encode(),
        "string_view": pa.array(["a", "b", None, "a"], pa.string_view()),
        "null": pa.nulls(4),
        "struct": pa.array([{"x": 1}, None, {"x": 2}, {"x": None}]),
        "list": pa.array([["a"], None, [], ["b", "a"]]),
        "large_list": pa.array([[1], None, [], [2, 3]], pa.large_list(pa.int64())),
        "map": pa.array([[("a", 1)], None, [], [("b", None)]], pa.map_(pa.string(), pa.int64())),
        "fixed_list": pa.array([[1, 2], None, [3, 4], [5, None]], pa.list_(pa.int64(), 2)),
        "nested_ts_s": pa.array([{"t": 0}, None, {"t": 1}, {"t": None}],
                                pa.struct([("t", pa.timestamp("s"))])),
    }


@pytest.mark.parametrize("name", list(_types()))
def test_every_column_type_reads_back_as_from_pyarrows_writer(tmp_path, monkeypatch, name):
    table = pa.table({name: _types()[name], "x": pa.array([1.0, None, 2.0, 3.0])})
    for which in ("auto", "pyarrow"):
        _write(monkeypatch, which, table, tmp_path / f"{which}.parquet")
    auto, fallback = (pq.read_table(tmp_path / f"{w}.parquet") for w in ("auto", "pyarrow"))
    assert auto.schema.equals(fallback.schema, check_metadata=True)
    assert auto.column(name).to_pylist() == fallback.column(name).to_pylist()
    native = name != "nested_ts_s"  # which pyarrow's writer alone stores as milliseconds
    created_by = pq.ParquetFile(tmp_path / "auto.parquet").metadata.created_by
    assert created_by.startswith("leadscore_fast") == native
    if not native:
        with pytest.raises(DataError, match="timestamp"):
            _write(monkeypatch, "native", table, tmp_path / "native.parquet")
