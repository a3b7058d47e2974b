"""dask.py on a real distributed.LocalCluster (two worker processes): scores and every merged
query equal a single-process run exactly."""
from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("leadscore_fast._engine")
pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
import leadscore_fast as lf  # noqa: E402
from leadscore_fast.errors import SchemaError  # noqa: E402
from leadscore_fast.synthetic import REFERENCE_MODEL_YAML, generate_leads  # noqa: E402

ROWS = 300_000
AS_OF = "2026-11-01T00:00:00Z"


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=":0", silence_logs=50)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def model():
    return lf.Model.from_yaml_string(REFERENCE_MODEL_YAML)


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    d = tmp_path_factory.mktemp("dask") / "leads"
    d.mkdir()
    t = generate_leads(ROWS, seed=5, null_rate=0.05).drop_columns(["technologies"])
    for i in range(4):  # four files: four partitions
        pq.write_table(t.slice(i * ROWS // 4, ROWS // 4), d / f"part-{i}.parquet")
    return str(d)


@pytest.fixture(scope="module")
def leads(path):
    return pq.read_table(path)


@pytest.fixture(scope="module")
def ddf(client, path):
    import dask.dataframe as dd

    return dd.read_parquet(path, dtype_backend="pyarrow")


def test_score_is_lf_score(ddf, model, leads, client):
    import pandas as pd

    from leadscore_fast import dask as ldask

    out = ldask.score(ddf, model, keep=["lead_id"], as_of=AS_OF)
    assert out.npartitions == ddf.npartitions
    assert [str(t) for t in out.dtypes] == ["double[pyarrow]"] * 3 + ["string[pyarrow]",
                                                                      "int64[pyarrow]"]
    got = pa.Table.from_pandas(out.compute(), preserve_index=False)
    want = lf.score(model, leads, keep=["lead_id"], as_of=AS_OF)
    want = want.set_column(3, "tier", want.column("tier").cast(pa.string()))
    assert got.equals(want)
    assert isinstance(out.compute(), pd.DataFrame)


def test_queries_merge_into_the_single_process_answer(ddf, model, leads):
    from leadscore_fast import dask as ldask

    where = "total >= 40 AND tier != 'cold'"
    assert ldask.count(ddf, model, where, as_of=AS_OF) == lf.count(model, leads, where,
                                                                     as_of=AS_OF)
    edges = [0, 20, 40, 60, 80]
    assert ldask.histogram(ddf, model, "total", edges, as_of=AS_OF).equals(
        lf.histogram(model, leads, "total", edges, as_of=AS_OF))
    got = ldask.top_k(ddf, model, 50, "round(total / 10)", per="tier", columns=["lead_id"],
                      as_of=AS_OF)
    assert got.equals(lf.top_k(model, leads, 50, "round(total / 10)", per="tier",
                               columns=["lead_id"], as_of=AS_OF))
    assert ldask.summarize(ddf, model, label="converted", as_of=AS_OF).equals(
        lf.summarize(model, leads, label="converted", as_of=AS_OF))


def test_a_missing_column_fails_before_any_task(ddf, model):
    from leadscore_fast import dask as ldask

    bad = ddf.rename(columns={"industry": "industy"})
    with pytest.raises(SchemaError, match="Dask DataFrame.*'industry'.*did you mean 'industy'"):
        ldask.score(bad, model)
    with pytest.raises(SchemaError, match="unknown column 'lead_idd'.*did you mean 'lead_id'"):
        ldask.score(ddf, model, keep=["lead_idd"])
    with pytest.raises(lf.LeadscoreError, match="totl"):  # a bad query: found on the client
        ldask.count(ddf, model, "totl > 1")


def test_cli_engine_dask_mirrors_the_local_engine(tmp_path, leads):
    # last in this module: the command starts (and closes) a cluster and client of its own
    from click.testing import CliRunner

    from leadscore_fast.cli import main

    src = tmp_path / "in"
    for i, region in enumerate(("EU", "NA")):
        (src / f"region={region}").mkdir(parents=True)
        for j in range(2):
            pq.write_table(leads.slice(i * 20_000 + j * 10_000, 10_000),
                           src / f"region={region}" / f"part-{j}.parquet")
    model = tmp_path / "ref.yaml"
    model.write_text(REFERENCE_MODEL_YAML)
    args = ["score", str(model), str(src), "--keep", "lead_id", "--keep", "region",
            "--as-of", AS_OF]
    local = CliRunner().invoke(main, args + ["-o", str(tmp_path / "local"), "-q"])
    assert local.exit_code == 0, local.output
    r = CliRunner().invoke(main, args + ["-o", str(tmp_path / "out"), "--engine", "dask",
                                         "--workers", "2", "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["rows"] == 40_000 and summary["engine"] == "dask, 2 worker processes"
    assert sum(s["leads"] for s in summary["segments"]["tier"]) == 40_000
    files = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*"))
    assert files == sorted(str(p.relative_to(tmp_path / "local"))
                           for p in (tmp_path / "local").rglob("*"))
    for f in (tmp_path / "local").rglob("*.parquet"):
        assert pq.read_table(tmp_path / "out" / f.relative_to(tmp_path / "local")).equals(
            pq.read_table(f)), f
    # a file output is refused: dask writes a dataset directory
    bad = CliRunner().invoke(main, args + ["-o", str(tmp_path / "x.parquet"), "--engine",
                                           "dask"])
    assert bad.exit_code == 2 and "into a directory" in bad.output
