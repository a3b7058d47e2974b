"""``leadscore_fast.spark.score`` against the reference model written as Spark SQL expressions
(``F.when`` columns, the rules of benchmarks/peers.py's hand-written SQL), in one local Spark
session over the same Parquet file:

    python benchmarks/spark_vs_sql.py [--rows 10000000] [--repeat 3] [--master local[2]]

Each run forces the whole result with Spark's ``noop`` writer (every row computed, nothing
written); runs are interleaved and the medians printed. Before timing, the two are checked to
agree (tier counts exactly, the sum of ``total`` to 1e-9).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import pyarrow.parquet as pq

import leadscore_fast as lf
from leadscore_fast.synthetic import REFERENCE_MODEL_YAML, generate_leads

sys.path.insert(0, os.path.dirname(__file__))
from peers import (ADJACENT_INDUSTRIES, AS_OF_US, DAY_US, DECISION_MAKERS, HOT,  # noqa: E402
                   TARGET_COUNTRIES, TARGET_INDUSTRIES, WARM)


def sql_columns(F):
    """The reference model as Spark column expressions (rules as in peers._duckdb_sql)."""
    c = F.col

    def const(cond, points):
        return F.when(cond, F.lit(points)).otherwise(F.lit(0.0))

    def rule(cond, points, cap=None):
        value = points if cap is None else F.least(points, F.lit(cap))
        return F.when(cond & points.isNotNull(), value).otherwise(F.lit(0.0))

    def add(parts):
        total = F.lit(0.0)
        for p in parts:
            total = total + p
        return F.least(F.greatest(total, F.lit(0.0)), F.lit(100.0))

    days = (F.lit(AS_OF_US) - F.unix_micros(c("last_activity_at"))).cast("double") / DAY_US
    fit = add([
        const(c("industry").isin(*TARGET_INDUSTRIES), 20.0),
        const(c("industry").isin(*ADJACENT_INDUSTRIES), 8.0),
        const(c("company_size").between(50, 5000), 15.0),
        const(c("company_size") > 5000, 10.0),
        const(c("job_title").isin(*DECISION_MAKERS), 20.0),
        rule(c("annual_revenue") > 0, c("annual_revenue") / 2000000.0, 15.0),
        const(c("country").isin(*TARGET_COUNTRIES), 5.0),
        const(c("email_domain_free"), -15.0),
    ])
    eng = add([
        rule(F.lit(True), (5 * c("pricing_visits").cast("bigint")).cast("double"), 25.0),
        rule(c("web_visits") >= 3, (2 * c("web_visits").cast("bigint")).cast("double"), 20.0),
        rule(F.lit(True), 1.5 * c("email_opens"), 15.0),
        const(c("webinar_attended"), 15.0),
        rule(F.lit(True), 30.0 * F.pow(F.lit(0.5), days / 14.0)),
        const(days > 180, -10.0),
        const((c("pricing_visits") == 0) & (c("web_visits") < 2), -10.0),
        const(c("unsubscribed"), -40.0),
    ])
    total = 0.6 * c("fit") + 0.4 * c("engagement")
    tier = (F.when(c("total") >= HOT, "hot").when(c("total") >= WARM, "warm")
            .otherwise("cold"))
    return fit, eng, total, tier


def _floor(df, ours):
    """The Arrow exchange alone: the same input columns to the workers and an output of the
    same schema back (zeros and a constant tier), no scoring."""
    import pyarrow as pa

    from leadscore_fast.spark import _compiled

    cm, _schema = _compiled(df, REFERENCE_MODEL_YAML_MODEL)
    names = ours.schema.names

    def run(batches):
        for b in batches:
            n = b.num_rows
            zeros = pa.array(np.zeros(n))
            yield pa.RecordBatch.from_arrays(
                [zeros, zeros, zeros, pa.repeat(pa.scalar("cold"), n),
                 b.column(b.schema.get_field_index("lead_id"))], names=names)

    return df.select(*dict.fromkeys(cm.inputs + ["lead_id"])).mapInArrow(run, ours.schema)


REFERENCE_MODEL_YAML_MODEL = lf.Model.from_yaml_string(REFERENCE_MODEL_YAML)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--batch-rows", type=int, default=100_000,
                    help="spark.sql.execution.arrow.maxRecordsPerBatch")
    ap.add_argument("--data", default="benchmarks/.data")
    ap.add_argument("--partition-mb", type=int, default=80,
                    help="spark.sql.files.maxPartitionBytes (10M rows: ~300 MB, 4 partitions)")
    args = ap.parse_args()

    os.makedirs(args.data, exist_ok=True)
    path = os.path.join(args.data, f"spark-leads-{args.rows}.parquet")
    if not os.path.exists(path):
        step = 1_000_000
        writer = None
        for i in range(0, args.rows, step):
            t = generate_leads(min(step, args.rows - i), seed=100 + i // step)
            t = t.drop_columns(["technologies"])
            writer = writer or pq.ParquetWriter(path + ".tmp", t.schema)
            writer.write_table(t, row_group_size=250_000)
        writer.close()
        os.rename(path + ".tmp", path)

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    from leadscore_fast import spark as lspark

    spark = (SparkSession.builder.master(args.master).config("spark.ui.enabled", "false")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(args.batch_rows))
             .config("spark.sql.files.maxPartitionBytes", str(args.partition_mb << 20))
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    model = REFERENCE_MODEL_YAML_MODEL
    df = spark.read.parquet(path)
    fit, eng, total, tier = sql_columns(F)
    sql = (df.select("lead_id", fit.alias("fit"), eng.alias("engagement"))
           .withColumn("total", total).withColumn("tier", tier))
    ours = lspark.score(df, model, keep=["lead_id"])

    def agg(frame):
        rows = frame.groupBy("tier").agg(F.count("*").alias("n"), F.sum("total").alias("s"))
        return {r["tier"]: (r["n"], r["s"]) for r in rows.collect()}

    a, b = agg(ours), agg(sql)
    assert {k: v[0] for k, v in a.items()} == {k: v[0] for k, v in b.items()}, (a, b)
    for k in a:
        assert abs(a[k][1] - b[k][1]) <= 1e-9 * abs(b[k][1]), (k, a[k], b[k])

    floor = _floor(df, ours)
    frames = {"leadscore_fast.spark.score": ours, "Spark SQL expressions": sql,
              "mapInArrow, no scoring": floor}
    times = {name: [] for name in frames}
    for r in range(args.repeat):
        names = list(frames) if r % 2 == 0 else list(frames)[::-1]
        for name in names:
            t0 = time.perf_counter()
            frames[name].write.format("noop").mode("overwrite").save()
            times[name].append(time.perf_counter() - t0)
    print(f"\n{args.rows:,} rows, {args.master}, {df.rdd.getNumPartitions()} partitions, "
          f"Arrow batches of {args.batch_rows:,}", flush=True)
    for name, ts in times.items():
        print(f"  {name:28s} median {statistics.median(ts):7.2f} s  runs "
              + " ".join(f"{t:.2f}" for t in ts))
    ratio = statistics.median(times["Spark SQL expressions"]) / statistics.median(
        times["leadscore_fast.spark.score"])
    print(f"  SQL time / leadscore time: {ratio:.2f}x")
    spark.stop()


if __name__ == "__main__":
    main()
