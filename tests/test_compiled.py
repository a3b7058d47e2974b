"""compiled.py: lf.compile's CompiledModel scores batches and single leads exactly as lf.score,
from many threads at once, and pickles to a versioned blob of plain data."""
from __future__ import annotations

import json
import pickle
import threading

import pyarrow as pa
import pytest

pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from leadscore_fast.compiled import FORMAT_VERSION, CompiledModel  # noqa: E402
from leadscore_fast.errors import DataError, LeadscoreError, SchemaError  # noqa: E402
from leadscore_fast.synthetic import REFERENCE_MODEL_YAML, generate_leads  # noqa: E402


@pytest.fixture(scope="module")
def model():
    return lf.Model.from_yaml_string(REFERENCE_MODEL_YAML)


@pytest.fixture(scope="module")
def leads():
    t = generate_leads(3000, seed=7)
    # NULLs in every column the model reads, so the one-lead path meets them too
    cols = {}
    for name in t.column_names:
        c = t.column(name).combine_chunks()
        if name not in ("lead_id",):
            mask = pa.array([i % 17 == 3 for i in range(len(c))])
            c = pa.compute.if_else(mask, pa.nulls(len(c), c.type), c)
        cols[name] = c
    return pa.table(cols)


@pytest.fixture(scope="module")
def cm(model, leads):
    return lf.compile(model, leads.schema)


@pytest.fixture(scope="module")
def want(model, leads):
    return lf.score(model, leads, keep=["lead_id"])


def _table(batch):
    return pa.Table.from_batches([batch])


def test_compile_returns_the_compiled_model_with_the_program(cm, model, leads):
    assert isinstance(cm, CompiledModel)
    program = cm.program
    assert hasattr(program, "code") and not isinstance(program, CompiledModel)
    # the Program's attributes read through, as when compile returned the Program
    assert cm.disassemble() == program.disassemble()
    assert cm.scores == list(program.scores) == model.score_names
    assert [c["name"] for c in cm.columns] == [c["name"] for c in program.columns]
    # lf.score and the queries take it in place of a model
    assert lf.score(cm, leads).equals(lf.score(model, leads))
    assert lf.count(cm, leads, "total >= 40") == lf.count(model, leads, "total >= 40")
    assert lf.summarize(cm, leads).equals(lf.summarize(model, leads))


def test_score_batch_is_lf_score(cm, leads, want):
    got = cm.score_batch(leads, keep=["lead_id"])
    assert isinstance(got, pa.RecordBatch)
    assert _table(got).equals(want)
    # one batch, several chunks, and an object that only has __arrow_c_array__
    assert _table(cm.score_batch(leads.to_batches()[0], keep="lead_id")).equals(
        want.slice(0, leads.to_batches()[0].num_rows))
    chunked = pa.Table.from_batches(leads.combine_chunks().to_batches(max_chunksize=700))
    assert _table(cm.score_batch(chunked, keep=["lead_id"])).equals(want)

    class CArray:
        def __init__(self, b):
            self.b = b

        def __arrow_c_array__(self, requested_schema=None):
            return self.b.__arrow_c_array__(requested_schema)

    batch = leads.combine_chunks().to_batches()[0]
    assert _table(cm.score_batch(CArray(batch))).equals(want.drop_columns(["lead_id"]))
    # an __arrow_c_stream__ object (Polars: string_view and categorical columns)
    pl = pytest.importorskip("polars")
    got = _table(cm.score_batch(pl.from_arrow(leads), keep=["lead_id"]))
    assert got.drop_columns(["lead_id"]).equals(want.drop_columns(["lead_id"]))


def test_score_batch_checks_the_schema(cm, leads):
    with pytest.raises(SchemaError, match="unknown column 'industy'|did you mean"):
        cm.score_batch(leads.rename_columns(["industy" if n == "industry" else n
                                             for n in leads.column_names]))
    wrong = leads.set_column(leads.schema.get_field_index("web_visits"), "web_visits",
                             leads.column("web_visits").cast(pa.string()))
    with pytest.raises(SchemaError, match="'web_visits' is string .* compiled for int32"):
        cm.score_batch(wrong)


def test_score_one_is_the_row_of_lf_score(cm, leads, want):
    rows = leads.to_pylist()
    expected = want.to_pylist()
    for i in list(range(0, 3000, 97)) + [3, 20, 37]:  # rows % 17 == 3 hold NULLs
        got = cm.score_one(rows[i])
        exp = {k: v for k, v in expected[i].items() if k != "lead_id"}
        assert got == exp, i


def test_score_one_missing_and_unknown_keys(cm, leads, model):
    empty = cm.score_one({})  # every column NULL
    nulls = pa.table({f.name: pa.nulls(1, f.type) for f in leads.schema})
    assert empty == lf.score(model, nulls).to_pylist()[0]
    row = leads.to_pylist()[0]
    assert cm.score_one({**row, "not_a_column": 1}) == cm.score_one(row)  # ignored
    with pytest.raises(SchemaError, match="unknown column 'industy'.*did you mean 'industry'"):
        cm.score_one({**row, "industy": "software"}, strict=True)
    with pytest.raises(DataError, match="'web_visits' is int32"):
        cm.score_one({**row, "web_visits": "many"})
    # an ISO-8601 string for a timestamp column is cast
    iso = dict(row, last_activity_at=row["last_activity_at"].isoformat())
    assert cm.score_one(iso) == cm.score_one(row)


def test_many_threads_score_with_one_object(cm, leads, want):
    rows = leads.to_pylist()
    expected = [{k: v for k, v in r.items() if k != "lead_id"} for r in want.to_pylist()]
    batches = leads.combine_chunks().to_batches(max_chunksize=250)
    starts = [0]
    for b in batches:
        starts.append(starts[-1] + b.num_rows)
    errors = []
    barrier = threading.Barrier(8)

    def work(t):
        try:
            barrier.wait()
            for rep in range(3):
                for j in range(t, len(batches), 8):  # batches: new dictionaries each time
                    got = _table(cm.score_batch(batches[j], keep=["lead_id"]))
                    assert got.equals(want.slice(starts[j], batches[j].num_rows)), j
                for i in range(t * 7, 3000, 211):
                    assert cm.score_one(rows[i]) == expected[i], i
        except BaseException as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_pickle_round_trip(cm, leads, want):
    blob = pickle.dumps(cm)
    assert len(blob) < 8192  # the model and a schema, not the bytecode or code objects
    back = pickle.loads(blob)
    assert isinstance(back, CompiledModel) and back.disassemble() == cm.disassemble()
    assert back.schema.equals(cm.schema) and back.model == cm.model
    assert _table(back.score_batch(leads, keep=["lead_id"])).equals(want)
    # the blob is plain data: JSON, no pickled code
    data = json.loads(cm.to_bytes())
    assert set(data) == {"format", "version", "model", "schema", "program"}
    assert data["version"] == FORMAT_VERSION


def _blob(cm, **change):
    d = json.loads(cm.to_bytes())
    d.update(change)
    return json.dumps(d).encode()


def test_incompatible_or_damaged_blobs_are_refused(cm):
    with pytest.raises(LeadscoreError, match="format version 0; this leadscore_fast reads "
                                             f"version {FORMAT_VERSION}"):
        CompiledModel.from_bytes(_blob(cm, version=0))
    class Old:  # what a future version's pickle of a CompiledModel would hold
        def __reduce__(self):
            from leadscore_fast.compiled import _restore

            return (_restore, (_blob(cm, version=99),))

    with pytest.raises(LeadscoreError, match="format version 99"):
        pickle.loads(pickle.dumps(Old()))
    with pytest.raises(LeadscoreError, match="not a compiled-model blob"):
        CompiledModel.from_bytes(b"\x80\x04garbage")
    with pytest.raises(LeadscoreError, match="not a compiled-model blob"):
        CompiledModel.from_bytes(json.dumps({"format": "other"}).encode())
    with pytest.raises(LeadscoreError, match="damaged"):
        CompiledModel.from_bytes(_blob(cm, schema="not base64 of a schema!"))
    with pytest.raises(LeadscoreError, match="other bytecode"):
        CompiledModel.from_bytes(_blob(cm, program="0" * 32))
