"""spark.py against a real local Spark session (local[2]): scores and every merged query over
1M leads read from Parquet equal a single-process run exactly."""
from __future__ import annotations

import os
import shutil
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("leadscore_fast._engine")
if os.environ.get("LEADSCORE_REQUIRE_SPARK") != "1":  # CI sets it: a missing pyspark fails
    pytest.importorskip("pyspark")
import leadscore_fast as lf  # noqa: E402
from leadscore_fast.errors import SchemaError  # noqa: E402
from leadscore_fast.synthetic import REFERENCE_MODEL_YAML, generate_leads  # noqa: E402

ROWS = 1_000_000
AS_OF = "2026-11-01T00:00:00Z"


@pytest.fixture(scope="module")
def spark():
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        if os.environ.get("LEADSCORE_REQUIRE_SPARK") == "1":
            pytest.fail("LEADSCORE_REQUIRE_SPARK=1 but there is no Java (PATH, JAVA_HOME)")
        pytest.skip("Spark needs Java (none on PATH, no JAVA_HOME)")
    from pyspark.sql import SparkSession

    # Spark's Python workers run "python3" unless told: this interpreter, with this package
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (SparkSession.builder.master("local[2]").appName("leadscore-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.session.timeZone", "UTC")
               # several partitions from one file: part order is tested against input order
               .config("spark.sql.files.maxPartitionBytes", str(8 << 20))
               .config("spark.sql.execution.arrow.maxRecordsPerBatch", "100000")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def model():
    return lf.Model.from_yaml_string(REFERENCE_MODEL_YAML)


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    p = tmp_path_factory.mktemp("spark") / "leads.parquet"
    t = generate_leads(ROWS, seed=11, null_rate=0.05)
    pq.write_table(t.drop_columns(["technologies"]), p, row_group_size=100_000)
    return str(p)


@pytest.fixture(scope="module")
def leads(path):
    return pq.read_table(path)


@pytest.fixture(scope="module")
def df(spark, path):
    return spark.read.parquet(path)


def _arrow(sdf) -> pa.Table:
    collect = getattr(sdf, "toArrow", None) or sdf._collect_as_arrow
    out = collect()
    return out if isinstance(out, pa.Table) else pa.Table.from_batches(out)


def test_score_is_lf_score(df, model, leads):
    from leadscore_fast import spark

    out = spark.score(df, model, keep=["lead_id", "country"], as_of=AS_OF)
    assert [(f.name, f.dataType.simpleString()) for f in out.schema.fields] == [
        ("fit", "double"), ("engagement", "double"), ("total", "double"), ("tier", "string"),
        ("lead_id", "bigint"), ("country", "string")]
    got = _arrow(out).sort_by("lead_id")
    want = lf.score(model, leads, keep=["lead_id", "country"], as_of=AS_OF)
    want = want.set_column(3, "tier", want.column("tier").cast(pa.string()))
    want = want.set_column(5, "country", want.column("country").cast(pa.string()))
    assert got.num_rows == ROWS
    assert got.equals(want.sort_by("lead_id"))


def test_queries_merge_into_the_single_process_answer(df, model, leads):
    from leadscore_fast import spark

    where = "total >= 40 AND tier != 'cold'"
    assert spark.count(df, model, where, as_of=AS_OF) == lf.count(model, leads, where,
                                                                    as_of=AS_OF)
    edges = [0, 20, 40, 60, 80]
    assert spark.histogram(df, model, "total", edges, as_of=AS_OF).equals(
        lf.histogram(model, leads, "total", edges, as_of=AS_OF))
    # whole-number values: ties break by input order (partition, then row)
    got = spark.top_k(df, model, 50, "round(total / 10)", per="tier", columns=["lead_id"],
                      as_of=AS_OF)
    assert got.equals(lf.top_k(model, leads, 50, "round(total / 10)", per="tier",
                               columns=["lead_id"], as_of=AS_OF))
    assert spark.summarize(df, model, label="converted", as_of=AS_OF).equals(
        lf.summarize(model, leads, label="converted", as_of=AS_OF))


def test_a_missing_column_fails_before_any_job(spark, df, model):
    from leadscore_fast import spark as lspark

    tracker = spark.sparkContext.statusTracker()
    spark.sparkContext.setJobGroup("leadscore-missing", "no job may start")
    bad = df.withColumnRenamed("industry", "industy")
    with pytest.raises(SchemaError, match="Spark DataFrame.*'industry'.*did you mean 'industy'"):
        lspark.score(bad, model)
    with pytest.raises(SchemaError, match="'industry'"):
        lspark.count(bad, model, "total > 1")
    with pytest.raises(SchemaError, match="unknown column 'lead_idd'.*did you mean 'lead_id'"):
        lspark.score(df, model, keep=["lead_idd"])
    with pytest.raises(lf.LeadscoreError, match="totl"):  # a bad query: found on the driver
        lspark.count(df, model, "totl > 1")
    assert list(tracker.getJobIdsForGroup("leadscore-missing")) == []
