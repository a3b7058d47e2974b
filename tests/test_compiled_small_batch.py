"""small_batch.py: score_batch's one-call path gives lf.score's bits on generated models and
data (NULLs, plain and dictionary strings, sliced arrays, every column type), declines what
the runner must score, and is safe to share between threads."""
from __future__ import annotations

import threading

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given

pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from leadscore_fast.as_of import resolve_as_of  # noqa: E402
from leadscore_fast.arrays import strings  # noqa: E402
from leadscore_fast.small_batch import SmallBatches  # noqa: E402
from leadscore_fast.synthetic import REFERENCE_MODEL_YAML, generate_leads  # noqa: E402
from strategies import cases, examples  # noqa: E402
from vm_harness import assert_same_tables  # noqa: E402

# the column types the one-call path binds itself (others go to the runner's path)
_TAKEN = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean, pa.types.is_timestamp,
          pa.types.is_date, pa.types.is_string, pa.types.is_large_string)


def _small(cm) -> SmallBatches:
    return SmallBatches(cm.program, [strings(g["labels"]) for g in cm.program.segments])


def _want(model, batch, **kw) -> pa.Table:
    return lf.score(model, pa.Table.from_batches([batch], batch.schema),
                    executor="interpreter", **kw)


def _taken(cm, batch) -> bool:
    """Whether every column the program reads is of a type the path binds."""
    for name in cm.inputs:
        t = batch.schema.field(name).type
        if pa.types.is_dictionary(t):
            if not (pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)):
                return False
            if batch.column(name).dictionary.null_count:
                return False
        elif pa.types.is_uint64(t) or pa.types.is_float16(t) or \
                not any(f(t) for f in _TAKEN):
            return False
    return not cm.program.keys


@pytest.fixture(autouse=True)
def _auto_executor(monkeypatch):
    monkeypatch.delenv("LEADSCORE_EXECUTOR", raising=False)
    monkeypatch.delenv("LEADSCORE_FUSE_AFTER_ROWS", raising=False)


@examples(0.25)
@given(cases())
def test_score_batch_is_lf_score_on_generated_models(case):
    table = case.table
    cm = lf.compile(case.model, table.schema)
    small = _small(cm)
    for batch in table.to_batches():  # chunks with their own dictionaries, some sliced
        assert_same_tables(pa.Table.from_batches([cm.score_batch(batch, as_of=case.as_of)]),
                           _want(case.model, batch, as_of=case.as_of), "score_batch")
        cols = small.score(batch, resolve_as_of(case.as_of, cm.program), 2)
        if _taken(cm, batch) and not any(pa.types.is_uint64(batch.schema.field(n).type)
                                         for n in cm.inputs):
            assert cols is not None, batch.schema
        if cols is not None:
            got = pa.Table.from_arrays(cols, names=[*cm.score_names, *cm.segment_names])
            assert_same_tables(got, _want(case.model, batch, as_of=case.as_of), "small_batch")


@pytest.fixture(scope="module")
def model():
    return lf.Model.from_yaml_string(REFERENCE_MODEL_YAML)


@pytest.fixture(scope="module")
def plain_leads():
    """The synthetic leads with plain (not dictionary) strings and NULLs in every column."""
    t = generate_leads(2000, seed=11).combine_chunks()
    cols = {}
    for name in t.column_names:
        c = t.column(name)
        if pa.types.is_dictionary(c.type):
            c = pc.cast(c, pa.string())
        if name != "lead_id":
            mask = pa.array([i % 13 == 5 for i in range(len(c))])
            c = pc.if_else(mask, pa.nulls(len(c), c.type), c)
        cols[name] = c
    return pa.table(cols)


@pytest.mark.parametrize("start, rows", [(0, 1000), (3, 997), (13, 1), (0, 0), (0, 2000)])
def test_plain_strings_with_nulls_at_any_offset(model, plain_leads, start, rows):
    batch = plain_leads.combine_chunks().to_batches()[0].slice(start, rows)
    cm = lf.compile(model, plain_leads.schema)
    assert _small(cm).score(batch, resolve_as_of(None, cm.program), 1) is not None
    got = cm.score_batch(batch, keep=["lead_id", "industry"])
    assert_same_tables(pa.Table.from_batches([got]),
                       _want(model, batch, keep=["lead_id", "industry"]), "score_batch")


def test_columns_in_another_order_and_as_of(model, plain_leads):
    batch = plain_leads.combine_chunks().to_batches()[0].slice(100, 500)
    batch = batch.select(list(reversed(batch.schema.names)))
    cm = lf.compile(model, plain_leads.schema)
    for as_of in (None, "2027-03-01T12:00:00Z"):
        assert_same_tables(pa.Table.from_batches([cm.score_batch(batch, as_of=as_of)]),
                           _want(model, batch, as_of=as_of), "score_batch")


def test_dictionaries_change_between_batches(model):
    """The tables kept for a dictionary are not used for another one."""
    t = generate_leads(900, seed=3)
    cm = lf.compile(model, t.schema)
    words = ["software", "retail", "media", "fintech", None]
    for k in range(6):
        values = pa.array([words[(i + k) % len(words)] for i in range(300)])
        industry = values.dictionary_encode() if k % 2 else \
            pa.DictionaryArray.from_arrays(pa.array([(i * 7 + k) % 4 for i in range(300)],
                                                    pa.int32()),
                                           pa.array(words[k % 2:k % 2 + 4]))
        batch = t.slice(0, 300).combine_chunks().to_batches()[0]
        batch = batch.set_column(batch.schema.get_field_index("industry"), "industry",
                                 industry.cast(t.schema.field("industry").type))
        assert_same_tables(pa.Table.from_batches([cm.score_batch(batch)]), _want(model, batch),
                           "score_batch")


def test_what_the_runner_must_score_is_declined(model, monkeypatch):
    t = generate_leads(200, seed=5).combine_chunks()
    cm = lf.compile(model, t.schema)
    small, as_of = _small(cm), resolve_as_of(None, cm.program)
    batch = t.to_batches()[0]
    assert small.score(batch, as_of, 1) is not None
    # a dictionary holding a NULL value: the runner folds it into the rows' validity
    idx = batch.schema.get_field_index("industry")
    with_null = pa.DictionaryArray.from_arrays(pa.array([i % 3 for i in range(200)], pa.int32()),
                                               pa.array(["software", None, "media"]))
    odd = batch.set_column(idx, "industry", with_null)
    assert small.score(odd, as_of, 1) is None
    assert_same_tables(pa.Table.from_batches([cm.score_batch(odd)]), _want(model, odd),
                       "score_batch")
    # string_view and float16 columns are bound by the runner
    view = batch.set_column(idx, "industry",
                            pc.cast(pc.cast(batch.column(idx), pa.string()), pa.string_view()))
    assert small.score(view, as_of, 1) is None
    assert_same_tables(pa.Table.from_batches([cm.score_batch(view)]), _want(model, view),
                       "score_batch")
    # an executor asked for by the environment is the runner's to pick
    monkeypatch.setenv("LEADSCORE_EXECUTOR", "interpreter")
    assert small.score(batch, as_of, 1) is None
    monkeypatch.setenv("LEADSCORE_EXECUTOR", "auto")
    monkeypatch.setenv("LEADSCORE_FUSE_AFTER_ROWS", "0")
    assert small.score(batch, as_of, 1) is None
    # a column of the wrong type still gets the runner's message
    monkeypatch.delenv("LEADSCORE_FUSE_AFTER_ROWS")
    bad = batch.set_column(batch.schema.get_field_index("company_size"), "company_size",
                           pc.cast(batch.column("company_size"), pa.float64()))
    with pytest.raises(lf.errors.SchemaError, match="company_size"):
        cm.score_batch(bad)


def test_many_threads_share_one_compiled_model(model, plain_leads):
    t = generate_leads(4000, seed=9).combine_chunks()
    batches = t.to_batches(max_chunksize=250) + \
        plain_leads.combine_chunks().to_batches(max_chunksize=333)
    cms = {t.schema: lf.compile(model, t.schema),
           plain_leads.schema: lf.compile(model, plain_leads.schema)}
    want = [pa.Table.from_batches([cms[b.schema].score_batch(b)]) for b in batches]
    errors = []
    barrier = threading.Barrier(8)

    def work(k):
        try:
            barrier.wait()
            for rep in range(3):
                for j in range(k, len(batches), 3):
                    got = pa.Table.from_batches([cms[batches[j].schema].score_batch(batches[j])])
                    assert got.equals(want[j]), j
        except BaseException as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors[0]
    for b, w in zip(batches, want):
        assert_same_tables(w, _want(model, b), "score_batch")


def test_two_has_any_over_one_list_column():
    """Regression: the runner's path bound one column per input name, so a list column read by
    two has_any (two program columns) raised IndexError."""
    m = {"name": "g", "scores": {"s": {"rules": [
        {"name": "a", "when": "has_any(t, 'x')", "points": 1},
        {"name": "b", "when": "has_any(t, 'y', 'z')", "points": 2}]}}}
    t = pa.table({"t": [["x"], ["y", "x"], None, [], ["z"]], "n": [1, 2, 3, 4, 5]})
    got = lf.compile(m, t.schema).score_batch(t.to_batches()[0], keep="n")
    assert got.column(0).to_pylist() == [1.0, 3.0, 0.0, 0.0, 2.0]
    assert pa.Table.from_batches([got]).equals(lf.score(m, t, keep="n"))


def test_a_fresh_process_loads_only_what_scoring_a_batch_needs(tmp_path):
    """import + YAML model + compile + score_batch + score_one load neither the runner's path
    (sources, pyarrow.compute) nor pandas, numba or llvmlite."""
    import os
    import subprocess
    import sys

    model = tmp_path / "model.yaml"
    model.write_text(REFERENCE_MODEL_YAML)
    data = tmp_path / "leads.arrow"
    batch = generate_leads(100, seed=1).combine_chunks().to_batches()[0]
    with pa.ipc.new_file(data, batch.schema) as w:
        w.write_batch(batch)
    code = ("import sys, pyarrow.ipc, leadscore_fast as lf\n"
            f"b = pyarrow.ipc.open_file({str(data)!r}).get_batch(0)\n"
            f"cm = lf.compile(lf.Model.from_yaml({str(model)!r}), b.schema)\n"
            "assert cm.score_batch(b).num_rows == 100\n"
            "import datetime as dt\n"  # (pyarrow's to_pylist would load pandas itself)
            "cm.score_one({'industry': 'software', 'company_size': 120, 'web_visits': 4,"
            " 'last_activity_at': dt.datetime(2026, 10, 1)})\n"
            "heavy = ['pyarrow.compute', 'pandas', 'numba', 'llvmlite', 'leadscore_fast.runner',"
            " 'leadscore_fast.sources']\n"
            "print([m for m in heavy if m in sys.modules])\n")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"),
               LEADSCORE_FUSED_CACHE=str(tmp_path / "fused"))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_tables_of_one_chunk_take_the_one_call_path(model, plain_leads):
    t = plain_leads.slice(0, 700).combine_chunks()
    cm = lf.compile(model, t.schema)
    got = cm.score_batch(t, keep="lead_id")
    assert "_small" in cm.__dict__  # the one-call path ran
    assert_same_tables(pa.Table.from_batches([got]), lf.score(model, t, keep="lead_id",
                                                              executor="interpreter"))
    two = pa.concat_tables([t.slice(0, 300), t.slice(300)])  # two chunks: the runner's path
    assert two.num_rows == 700 and len(two.to_batches()) == 2
    assert pa.Table.from_batches([cm.score_batch(two, keep="lead_id")]).equals(
        pa.Table.from_batches([got]))
    empty = cm.score_batch(t.slice(0, 0))
    assert empty.num_rows == 0
    assert empty.schema == got.schema.remove(got.schema.get_field_index("lead_id"))
