"""The demo's second half: rescoring an embedded database in place.

Seeds a SQLite file with synthetic leads (declared column types BOOLEAN, TIMESTAMP, DATE, as
an application would create the table), rescores it with ``lf.rescore`` (scores and tiers
written back into the table, all or nothing) and prints the tiers read back from SQLite.
"""
from __future__ import annotations

import os
import sqlite3
import tempfile
import time

from rich.console import Console
from rich.table import Table

_DDL = """CREATE TABLE leads (
  lead_id INTEGER PRIMARY KEY, industry TEXT, company_size INTEGER, country TEXT,
  job_title TEXT, email_domain_free BOOLEAN, unsubscribed BOOLEAN, pricing_visits INTEGER,
  web_visits INTEGER, email_opens INTEGER, webinar_attended BOOLEAN, annual_revenue REAL,
  last_activity_at TIMESTAMP, created_at DATE, converted BOOLEAN)"""


def seed(path: str, leads) -> float:
    """Create ``leads`` in a new SQLite file at ``path`` (ADBC bulk ingest); seconds taken."""
    import adbc_driver_sqlite.dbapi as adbc
    import pyarrow as pa

    started = time.perf_counter()
    with sqlite3.connect(path) as con:
        con.execute(_DDL)
    columns = [n for n in leads.column_names if n != "technologies"]  # no lists in SQLite
    # ISO-8601 text for timestamps, as SQLite's own functions write them
    table = leads.select(columns)
    i = table.schema.get_field_index("last_activity_at")
    table = table.set_column(i, "last_activity_at", table.column(i).cast(pa.string()))
    with adbc.connect(path) as con, con.cursor() as cur:
        cur.adbc_ingest("leads", table, mode="append")
        con.commit()
    return time.perf_counter() - started


def run(console: Console, model, leads, threads=None) -> None:
    import leadscore_fast as lf

    with tempfile.TemporaryDirectory(prefix="leadscore-demo-") as tmp:
        path = os.path.join(tmp, "crm.db")
        t_seed = seed(path, leads)
        console.print(f"[bold]Seeded[/] SQLite table 'leads' with {leads.num_rows:,} rows "
                      f"in {t_seed:.2f}s ({path})")
        result = lf.rescore(model, f"sqlite:///{path}", table="leads", key="lead_id",
                            threads=threads)
        console.print(f"[bold]Rescored[/] the table in place: {result.updated:,} leads "
                      f"updated in {result.seconds:.2f}s "
                      f"({result.rows / max(result.seconds, 1e-9):,.0f} rows/s, "
                      "read, score and write-back in one transaction)")
        with sqlite3.connect(path) as con:
            rows = con.execute("SELECT tier, count(*), avg(total), avg(converted) FROM leads "
                               "GROUP BY tier ORDER BY avg(total) DESC").fetchall()
        t = Table(title="Tiers read back from SQLite", title_justify="left")
        for h, j in (("tier", "left"), ("leads", "right"), ("mean total", "right"),
                     ("conversion", "right")):
            t.add_column(h, justify=j)
        for tier, n, mean, conv in rows:
            t.add_row(str(tier), f"{n:,}", f"{mean:.2f}", f"{conv:.1%}")
        console.print(t)
