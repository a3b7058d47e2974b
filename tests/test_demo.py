"""The README's demo runs end to end (small sizes): in-memory scoring, then rescoring a
seeded SQLite table in place, with the tiers read back from SQLite equal to scoring the same
leads in memory."""
from __future__ import annotations

import sqlite3

import pytest

pytest.importorskip("leadscore_fast._engine")
pytest.importorskip("adbc_driver_sqlite")
import leadscore_fast as lf  # noqa: E402
from leadscore_fast import demo, demo_db  # noqa: E402
from leadscore_fast.synthetic import REFERENCE_MODEL_YAML, generate_leads  # noqa: E402


def test_demo_runs(capsys):
    assert demo.main(["--rows", "20000", "--db-rows", "5000"]) == 0
    out = capsys.readouterr().out
    assert "Scored 20,000 leads" in out
    assert "Rescored the table in place: 5,000 leads updated" in out
    assert "Tiers read back from SQLite" in out


def test_the_seeded_table_rescores_like_memory(tmp_path):
    model = lf.Model.from_yaml_string(REFERENCE_MODEL_YAML, source="<reference>")
    leads = generate_leads(3000, seed=5)
    path = str(tmp_path / "crm.db")
    demo_db.seed(path, leads)
    lf.rescore(model, f"sqlite:///{path}", table="leads", key="lead_id")
    with sqlite3.connect(path) as con:
        got = con.execute("SELECT tier, total FROM leads ORDER BY lead_id").fetchall()
    want = lf.score(model, leads, keep=["lead_id"]).sort_by("lead_id")
    assert [t for t, _ in got] == want.column("tier").to_pylist()
    assert [v for _, v in got] == want.column("total").to_pylist()
