"""cli.py: exit codes, one-line errors, atomic outputs, the summary.

The `score` plumbing is tested with a stand-in scoring module (so it runs without the VM);
check/compile/sql against the real engine are skipped until it provides them.
"""
from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

engine = pytest.importorskip("leadscore_fast._engine")
from leadscore_fast.cli import main  # noqa: E402
from leadscore_fast.sinks import write_output  # noqa: E402
from leadscore_fast.sources import open_source  # noqa: E402


def read_input(path):
    return open_source(path).reader()

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "b2b_inbound.yaml"
MODEL = """\
name: tiny
scores:
  fit:
    rules:
      - {name: visits, points: 5 * visits, cap: 25}
segments:
  tier:
    - {name: hot, when: fit >= 20}
    - {name: cold}
"""
needs_engine = pytest.mark.skipif(not hasattr(engine, "compile"),
                                  reason="the Rust engine is not built yet")


@pytest.fixture
def files(tmp_path):
    model = tmp_path / "m.yaml"
    model.write_text(MODEL)
    data = tmp_path / "leads.parquet"
    write_output(pa.table({"lead_id": pa.array(range(10), pa.int64()),
                           "visits": pa.array([0, 1, 2, 3, 4, 5, 6, 7, 8, None], pa.int32())}),
                 data)
    return model, data


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _fake_scoring(monkeypatch, fail_after=None):
    """A stand-in `leadscore_fast.scoring`: fit = min(5 * visits, 25), tier by fit >= 20."""
    def score(model, data, *, keep=None, as_of=None, threads=None, stream=False,
              executor=None):
        data = data.reader()
        schema = pa.schema([("fit", pa.float64()), ("tier", pa.dictionary(pa.int32(),
                                                                          pa.string()))]
                           + [data.schema.field(k) for k in keep or ()])

        def batches():
            for i, b in enumerate(data):
                if fail_after is not None and i >= fail_after:
                    from leadscore_fast.errors import ModelError
                    raise ModelError("m.yaml:5:32: division by zero in '5 * visits'")
                v = b.column("visits").to_pylist()
                fit = [None if x is None else min(5.0 * x, 25.0) for x in v]
                codes = [None if f is None else (0 if f >= 20 else 1) for f in fit]
                tier = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()),
                                                      pa.array(["hot", "cold"]))
                yield pa.record_batch([pa.array(fit), tier] + [b.column(k) for k in keep or ()],
                                      schema=schema)
        return pa.RecordBatchReader.from_batches(schema, batches())
    monkeypatch.setitem(sys.modules, "leadscore_fast.scoring",
                        types.SimpleNamespace(score=score))
    monkeypatch.setenv("LEADSCORE_BULK_NATIVE", "0")  # the stand-in scores: the Python path


def test_score_writes_output_and_summary(monkeypatch, files, tmp_path):
    _fake_scoring(monkeypatch)
    model, data = files
    out = tmp_path / "scored.parquet"
    r = run("score", model, data, "-o", out, "--keep", "lead_id")
    assert r.exit_code == 0, r.output
    t = read_input(out).read_all()
    assert t.column_names == ["fit", "tier", "lead_id"]
    assert t.column("fit").to_pylist()[:6] == [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]
    err = r.stderr
    assert "scored 10 rows" in err and "rows/s" in err
    assert "fit" in err and "0.00" in err and "25.00" in err  # min / max
    assert "hot" in err and "50.0%" in err and "(none)" in err  # 5 of 10 leads are hot
    assert f"→ {out}" in err  # never wrapped or truncated
    assert r.stdout == ""


@needs_engine
@pytest.mark.parametrize("env, args, note", [
    ({"LEADSCORE_FUSE_AFTER_ROWS": "0", "LEADSCORE_FUSE_BACKGROUND": "0"}, [], "fused kernel"),
    ({"LEADSCORE_FUSE_BACKGROUND": "0"}, ["--executor", "fused"], "fused kernel"),
    ({}, ["--executor", "interpreter"], "interpreter"),
    ({"LEADSCORE_FUSED": "0", "LEADSCORE_EXECUTOR": "interpreter"}, [], "interpreter"),
    ({}, ["--executor", "native"], "native executor"),
    ({}, [], "native executor"),  # auto: a small file runs native
])
def test_score_summary_names_the_path_that_scored(monkeypatch, files, tmp_path, env, args, note):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    model, data = files
    out = tmp_path / "scored.parquet"
    r = run("score", model, data, "-o", out, *args)
    assert r.exit_code == 0, r.output
    assert f"rows/s, {note}) → {out}" in r.stderr
    assert read_input(out).read_all().column("fit").to_pylist() == \
        [0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 25.0, 25.0, 25.0, 0.0]


def test_score_quiet(monkeypatch, files, tmp_path):
    _fake_scoring(monkeypatch)
    model, data = files
    r = run("score", model, data, "-o", tmp_path / "o.csv", "--quiet")
    assert r.exit_code == 0 and r.stderr == ""
    assert (tmp_path / "o.csv").read_text().startswith('"fit","tier"')


def test_score_failure_mid_stream_leaves_no_output(monkeypatch, files, tmp_path):
    _fake_scoring(monkeypatch, fail_after=1)
    model, data = files
    big = tmp_path / "big.arrow"
    t = read_input(data).read_all()
    write_output(pa.RecordBatchReader.from_batches(t.schema, t.to_batches() * 3), big)
    out = tmp_path / "scored.parquet"
    r = run("score", model, big, "-o", out)
    assert r.exit_code == 2
    assert r.stderr == "m.yaml:5:32: division by zero in '5 * visits'\n"
    assert not out.exists()
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_model_error_is_one_line_exit_2(files, tmp_path):
    _, data = files
    bad = tmp_path / "bad.yaml"
    bad.write_text("scores:\n  fit:\n    rules:\n      - {name: a, when: x}\n")
    for args in (("score", bad, data, "-o", tmp_path / "o.parquet"), ("check", bad),
                 ("compile", bad, data), ("sql", bad, data)):
        r = run(*args)
        assert r.exit_code == 2, (args, r.output)
        assert r.stderr == f"{bad}:4:9: score 'fit', rule 'a' is missing 'points'\n"
        assert "Traceback" not in r.output
    assert not (tmp_path / "o.parquet").exists()


def test_broken_yaml_and_missing_files(files, tmp_path):
    model, data = files
    bad = tmp_path / "broken.yaml"
    bad.write_text("scores: [1,\n")
    r = run("check", bad)
    assert r.exit_code == 2 and r.stderr.startswith(f"{bad}:2:1: invalid YAML")
    r = run("check", tmp_path / "nope.yaml")
    assert r.exit_code == 2 and "nope.yaml: cannot read model" in r.stderr
    r = run("score", model, tmp_path / "nope.parquet", "-o", tmp_path / "o.parquet")
    assert r.exit_code == 2 and r.stderr.strip().endswith("nope.parquet: no such file")
    r = run("score", model, data, "-o", tmp_path / "o.parquet", "--as-of", "tomorrow")
    assert r.exit_code == 2 and "--as-of 'tomorrow' is not an ISO-8601" in r.stderr
    r = run("score", model, data)  # missing -o: a usage error
    assert r.exit_code == 2 and "Missing option '-o'" in r.stderr


def test_help():
    r = run("--help")
    assert r.exit_code == 0
    for cmd in ("score", "check", "compile", "sql"):
        assert cmd in r.stdout


@needs_engine
def test_check_compile_sql_with_the_engine(files):
    model, data = files
    r = run("check", model)
    assert r.exit_code == 0 and "OK" in r.stdout, r.output
    r = run("check", model, "--schema", data)
    assert r.exit_code == 0 and "compiles against" in r.stdout, r.output
    r = run("compile", model, data)
    assert r.exit_code == 0 and r.stdout.strip(), r.output
    r = run("sql", model, data, "--relation", "my_leads")
    assert r.exit_code == 0 and "my_leads" in r.stdout, r.output


@needs_engine
def test_check_reports_unknown_columns_at_their_position(files, tmp_path):
    _, data = files
    bad = tmp_path / "typo.yaml"
    bad.write_text(MODEL.replace("5 * visits", "5 * vists"))
    r = run("check", bad, "--schema", data)
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith(f"{bad}:5:"), r.stderr
    assert "vists" in r.stderr and "Traceback" not in r.output


@needs_engine
def test_check_reports_syntax_errors_without_a_schema(tmp_path):
    bad = tmp_path / "syntax.yaml"
    bad.write_text(MODEL.replace("5 * visits", "5 * * visits"))
    r = run("check", bad)
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith(f"{bad}:5:"), r.stderr


@needs_engine
def test_example_model_checks():
    r = run("check", EXAMPLE)
    assert r.exit_code == 0, r.output


# -- segment / query / diff --------------------------------------------------------------------

@pytest.fixture
def leads(tmp_path):
    from leadscore_fast.synthetic import REFERENCE_MODEL_YAML, generate_leads

    data = tmp_path / "leads.parquet"
    write_output(generate_leads(2000, seed=5, null_rate=0.1), data)
    old = tmp_path / "old.yaml"
    old.write_text(REFERENCE_MODEL_YAML + "  grade:\n    bands: {score: fit, edges: [25, 50], "
                   "labels: [C, B, A]}\n  priority:\n    matrix: [grade, tier]\n")
    new = tmp_path / "new.yaml"
    new.write_text(old.read_text().replace("total >= 40", "total >= 35")
                   .replace("0.6 * fit + 0.4 * engagement", "0.5 * fit + 0.5 * engagement"))
    return old, new, data


@needs_engine
def test_segment_prints_summary_tables(leads):
    old, _, data = leads
    r = run("segment", old, data, "--label", "converted")
    assert r.exit_code == 0, r.output
    for word in ("tier", "hot", "grade", "A-hot", "conversion", "lift", "total mean"):
        assert word in r.output
    r = run("segment", old, data, "--by", "teir")
    assert r.exit_code == 2 and "did you mean 'tier'" in r.output and "Traceback" not in r.output


@needs_engine
def test_query_commands(leads):
    from leadscore_fast import queries
    from leadscore_fast.model import Model

    old, _, data = leads
    m, table = Model.from_yaml(old), read_input(data).read_all()
    where = "total >= 30 AND tier != 'cold'"
    r = run("query", old, data, "count", where)
    assert r.exit_code == 0, r.output
    assert r.output.strip() == f"{queries.count(m, table, where):,}"
    r = run("query", old, data, "top", "3", "--by", "total", "--per", "tier", "-c", "lead_id")
    assert r.exit_code == 0, r.output
    assert r.output.count(" hot ") == 3 and "lead_id" in r.output
    r = run("query", old, data, "histogram", "total", "--edges", "0,25,40")
    assert r.exit_code == 0 and "[25, 40)" in r.output and ">= 40" in r.output
    r = run("query", old, data, "histogram", "total", "--bins", "4")
    assert r.exit_code == 0 and r.output.count("[") == 4
    r = run("query", old, data, "quantiles", "total", "0.5", "0.9")
    assert r.exit_code == 0 and "0.90" in r.output
    out = data.parent / "hot.csv"
    r = run("query", old, data, "select", "tier = 'hot'", "-c", "lead_id", "-o", out)
    assert r.exit_code == 0, r.output
    assert read_input(out).read_all().num_rows == queries.count(m, table, "tier = 'hot'")


@needs_engine
@pytest.mark.parametrize("args, message", [
    (["top", "0", "--by", "total"], "k must be a positive integer"),
    (["count", "totl > 3"], "did you mean 'total'"),
    (["histogram", "total", "--edges", "5,1"], "strictly increasing"),
    (["histogram", "total", "--edges", "a,b"], "numbers separated by commas"),
    (["quantiles", "total", "2"], "in [0, 1]"),
])
def test_query_errors_are_one_line(leads, args, message):
    old, _, data = leads
    r = run("query", old, data, *args)
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output


@needs_engine
def test_diff_prints_migration_and_crossings(leads):
    old, new, data = leads
    r = run("diff", old, new, data, "--segmentation", "tier", "--threshold", "30",
            "--id-column", "lead_id", "--show", "2")
    assert r.exit_code == 0, r.output
    assert "tier: old \\ new" in r.output and "change segment" in r.output
    assert "total crossing 30:" in r.output and "lead_id" in r.output
    r = run("diff", old, new, data)  # all shared segmentations; priority listed long-form
    assert r.exit_code == 0, r.output
    assert "grade: old \\ new" in r.output and "priority: old → new" in r.output
    r = run("diff", old, new, data, "--segmentation", "tierz")
    assert r.exit_code == 2 and "did you mean 'tier'" in r.output


@needs_engine
def test_compile_llvm_prints_the_fused_kernel(files):
    model, data = files
    r = run("compile", model, data, "--llvm")
    assert r.exit_code == 0, r.output
    assert 'define void @"leadscore_fused"(' in r.stdout
    assert 'define internal void @"leadscore_rows"(' in r.stdout


@needs_engine
def test_compile_llvm_says_why_a_model_is_not_fused(tmp_path, files):
    _, data = files
    model = tmp_path / "m.yaml"
    model.write_text(MODEL.replace("fit >= 20", "fit >= 20 AND visits IN (1, 2)"))
    big = tmp_path / "big.yaml"
    rules = "\n".join(f"      - {{name: r{i}, when: visits > {i}, points: {i % 7}}}"
                      for i in range(1400))
    big.write_text(f"name: big\nscores:\n  fit:\n    rules:\n{rules}\n")
    r = run("compile", big, data, "--llvm")
    assert r.exit_code != 0
    assert "interpreted, not fused" in r.stderr and "instructions" in r.stderr
    assert "Traceback" not in r.output


@needs_engine
def test_query_options_go_before_or_after_the_command(leads, tmp_path):
    """`--as-of` and the input options are accepted after the query command's arguments (where
    people type them) as well as before MODEL; the command's value wins when both are given;
    a bad model is still one line, however the options were placed."""
    from leadscore_fast import queries
    from leadscore_fast.model import Model

    old, _, data = leads
    m, table = Model.from_yaml(old), read_input(data).read_all()
    where = "engagement >= 20"
    late = "2030-01-01T00:00:00Z"
    want_late = f"{queries.count(m, table, where, as_of=late):,}"
    want_default = f"{queries.count(m, table, where):,}"
    assert want_late != want_default  # the reference time changes the answer here
    for args in (["query", old, data, "count", where, "--as-of", late],
                 ["query", "--as-of", late, old, data, "count", where],
                 ["query", "--as-of", "2026-01-01", old, data, "count", where, "--as-of", late]):
        r = run(*args)
        assert r.exit_code == 0, r.output
        assert r.output.strip() == want_late, args
    csv = tmp_path / "leads.txt"
    import pyarrow.csv as pacsv
    pacsv.write_csv(table.drop_columns([c for c in table.column_names
                                        if str(table.schema.field(c).type).startswith("list")]),
                    csv)
    r = run("query", old, csv, "count", where, "--input-format", "csv")
    assert r.exit_code == 0 and r.output.strip() == want_default, r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [")
    r = run("query", bad, data, "count", where, "--as-of", late)
    assert r.exit_code == 2 and "bad.yaml" in r.output and "Traceback" not in r.output
