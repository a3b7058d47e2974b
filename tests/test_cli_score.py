"""`leadscore score` as a bulk job: directories and globs in, the same layout out, atomic
directory outputs, compression, CSV options, JSON summary, rows/s without the compiles."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from leadscore_fast.cli import main  # noqa: E402
from leadscore_fast.synthetic import REFERENCE_MODEL_YAML, generate_leads  # noqa: E402


@pytest.fixture(scope="module")
def leads():
    return generate_leads(4000, seed=3).drop_columns(["technologies"])


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "ref.yaml"
    path.write_text(REFERENCE_MODEL_YAML)
    return path


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _hive(leads, root: Path) -> Path:
    for i, region in enumerate(("EU", "NA")):
        d = root / f"region={region}"
        d.mkdir(parents=True)
        for j in range(2):
            part = leads.slice(i * 2000 + j * 1000, 1000)
            pq.write_table(part, d / f"part-{j}.parquet")
    return root


def test_directory_in_directory_out_with_the_same_partitions(leads, model, tmp_path):
    src = _hive(leads, tmp_path / "in")
    out = tmp_path / "out"
    r = run("score", model, src, "-o", out, "--keep", "lead_id", "--keep", "region")
    assert r.exit_code == 0, r.output
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*.parquet"))
    assert files == ["region=EU/part-0.parquet", "region=EU/part-1.parquet",
                     "region=NA/part-0.parquet", "region=NA/part-1.parquet"]
    got = lf.source(out).read_all()
    want = lf.score(model, leads, keep=["lead_id"])
    assert got.column("lead_id").to_pylist() == want.column("lead_id").to_pylist()
    assert got.column("total").to_pylist() == want.column("total").to_pylist()
    assert got.column("region").to_pylist() == ["EU"] * 2000 + ["NA"] * 2000
    # the output directory holds no partition key inside the files
    assert "region" not in pq.read_schema(out / "region=EU" / "part-0.parquet").names


def test_a_failed_directory_run_keeps_the_previous_output(leads, model, tmp_path):
    src = _hive(leads, tmp_path / "in")
    out = tmp_path / "out"
    assert run("score", model, src, "-o", out).exit_code == 0
    before = {p: p.read_bytes() for p in out.rglob("*.parquet")}
    # the last file is corrupt: the run fails part-way
    (src / "region=NA" / "part-1.parquet").write_bytes(b"PAR1 not really")
    r = run("score", model, src, "-o", out)
    assert r.exit_code == 2 and "part-1.parquet" in r.stderr
    assert {p: p.read_bytes() for p in out.rglob("*.parquet")} == before
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_glob_into_one_file_with_compression_and_big_row_groups(leads, model, tmp_path):
    src = _hive(leads, tmp_path / "in")
    out = tmp_path / "all.parquet"
    r = run("score", model, str(src / "*" / "*.parquet"), "-o", out, "--compression", "zstd")
    assert r.exit_code == 0, r.output
    meta = pq.ParquetFile(out).metadata
    assert meta.num_rows == 4000 and meta.num_row_groups == 1
    assert meta.row_group(0).column(0).compression == "ZSTD"
    schema = pq.read_schema(out)
    assert pa.types.is_dictionary(schema.field("tier").type)


def test_json_summary_for_scripts(leads, model, tmp_path):
    src = tmp_path / "l.parquet"
    pq.write_table(leads, src, row_group_size=1000)
    r = run("score", model, src, "-o", tmp_path / "o.parquet", "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["rows"] == 4000 and s["rows_per_second"] > 0
    assert {x["segment"] for x in s["segments"]["tier"]} <= {"hot", "warm", "cold", None}
    assert sum(x["leads"] for x in s["segments"]["tier"]) == 4000
    assert s["scores"]["total"]["non_null"] == 4000
    assert s["first_batch_seconds"] <= s["seconds"]


def test_csv_export_with_semicolons_and_select(tmp_path):
    data = tmp_path / "export.csv"
    data.write_text("Lead Origin;Occupation;visits\nAPI;Select;3\nForm;Student;\n")
    model = tmp_path / "m.yaml"
    model.write_text("name: m\nscores:\n  fit:\n    rules:\n"
                     "      - {name: api, when: \"\\\"Lead Origin\\\" = 'API'\", points: 10}\n"
                     "      - {name: unknown job, when: Occupation IS NULL, points: -5}\n")
    out = tmp_path / "o.csv"
    r = run("score", model, data, "-o", out, "--null-values", "Select", "--keep", "Occupation")
    assert r.exit_code == 0, r.output
    assert out.read_text().splitlines() == ['"fit","Occupation"', "5,", '0,"Student"']


def test_header_only_csv_scores_zero_rows(model, tmp_path):
    header = ",".join(generate_leads(1).drop_columns(["technologies"]).column_names)
    data = tmp_path / "empty.csv"
    data.write_text(header + "\n")
    r = run("score", model, data, "-o", tmp_path / "o.parquet")
    assert r.exit_code == 0, r.output
    assert "scored 0 rows" in r.stderr
    assert pq.read_metadata(tmp_path / "o.parquet").num_rows == 0


def test_input_format_override(leads, model, tmp_path):
    data = tmp_path / "leads.dat"
    pq.write_table(leads, data)
    r = run("score", model, data, "-o", tmp_path / "o.arrow")
    assert r.exit_code == 2 and "unsupported file type" in r.stderr
    r = run("score", model, data, "-o", tmp_path / "o.arrow", "--input-format", "parquet")
    assert r.exit_code == 0, r.output
    # the old spelling still works on commands without a report, with a note on stderr
    r = run("score", model, data, "-o", tmp_path / "o2.arrow", "--format", "parquet", "-q")
    assert r.exit_code == 0, r.output
    assert "now spelled --input-format" in r.stderr and (tmp_path / "o2.arrow").exists()
    r = run("score", model, data, "-o", tmp_path / "o3.arrow", "--format", "parquet",
            "--input-format", "csv")
    assert r.exit_code == 2 and "old spelling of --input-format" in r.stderr


def _summary_in_a_child(tmp_path, model_text: str, table: pa.Table, module: str):
    """`leadscore score --json` run in a fresh process on the Python path: (its summary,
    whether it imported ``module``)."""
    import subprocess
    import sys

    model = tmp_path / "m.yaml"
    model.write_text(model_text)
    data = tmp_path / "in.parquet"
    pq.write_table(table, data)
    code = ("import sys, json; from leadscore_fast.cli import main\n"
            f"sys.argv = ['leadscore', 'score', {str(model)!r}, {str(data)!r}, '-o', "
            f"{str(tmp_path / 'out.parquet')!r}, '--json']\n"
            "try: main()\nexcept SystemExit as e: assert not e.code, e.code\n"
            f"print('IMPORTED', {module!r} in sys.modules, file=sys.stderr)\n")
    env = dict(os.environ, LEADSCORE_BULK_NATIVE="0")  # the Python path's summary
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout), "IMPORTED True" in r.stderr


def test_the_summary_neither_imports_pandas_nor_miscounts_nulls(tmp_path):
    """The end-of-run summary once went through ``Array.to_numpy``, which imports pandas: 0.4 s
    of every CLI run. It now folds batches over their buffers; a derived score's NULL still
    counts as 0 and a lead no segment case matched still counts as NULL."""
    s, pandas = _summary_in_a_child(
        tmp_path, "name: m\nscores:\n  s:\n    expr: x\nsegments:\n  band:\n"
        "    - {when: s >= 2, name: high}\n    - {when: s >= 1, name: low}\n",
        pa.table({"x": pa.array([1.0, None, 3.0, 2.0], pa.float64())}), "pandas")
    assert not pandas
    assert s["scores"]["s"] == {"min": 0.0, "mean": 1.5, "max": 3.0, "non_null": 4}
    assert {d["segment"]: d["leads"] for d in s["segments"]["band"]} == \
        {"high": 2, "low": 1, None: 1}


def test_a_summary_without_nulls_does_not_import_pyarrow_compute(tmp_path):
    """Scores and segments with no NULLs are summed and counted over their buffers (importing
    pyarrow.compute costs a CLI run ~40 ms); the figures are Arrow's."""
    x = pa.array([1.0, 5.0, 3.0, 2.0, 8.0, -4.0], pa.float64())
    s, compute = _summary_in_a_child(
        tmp_path, "name: m\nscores:\n  s:\n    expr: x * 0.5\nsegments:\n  band:\n"
        "    - {when: s >= 2, name: high}\n    - {when: true, name: low}\n",
        pa.table({"x": x}), "pyarrow.compute")
    assert not compute
    half = [v / 2 for v in x.to_pylist()]
    assert s["scores"]["s"] == {"min": min(half), "mean": sum(half) / 6, "max": max(half),
                                "non_null": 6}
    assert {d["segment"]: d["leads"] for d in s["segments"]["band"]} == {"high": 2, "low": 4}
