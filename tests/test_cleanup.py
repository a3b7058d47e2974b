"""`leadscore cleanup` / cleanup(): the dead leads against a plain numpy computation on
generated leads, the reasons and their shares, the atomic output, and the errors."""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from leadscore_fast import synthetic  # noqa: E402
from leadscore_fast.cleanup import cleanup  # noqa: E402
from leadscore_fast.cli import main  # noqa: E402
from leadscore_fast.sinks import write_output  # noqa: E402

AS_OF = "2026-11-01T00:00:00Z"
INACTIVE = "days_since(last_activity_at) > 365"


@pytest.fixture(scope="module")
def leads():
    return synthetic.generate_leads(20_000, seed=11)


def _expected(model, leads):
    scored = lf.score(model, leads, keep=["lead_id", "last_activity_at"], as_of=AS_OF)
    total = np.asarray(scored.column("total").to_numpy(zero_copy_only=False))
    ts = scored.column("last_activity_at").cast(pa.timestamp("us", "UTC"))
    us = np.asarray(ts.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=float)
    us[np.asarray(ts.is_null().to_numpy(zero_copy_only=False))] = np.nan
    from leadscore_fast.as_of import epoch_us

    days = (epoch_us(AS_OF) - us) / 86_400e6
    with np.errstate(invalid="ignore"):
        inactive = days > 365
    return scored, total < 5, inactive


def test_dead_leads_and_reasons_match_numpy(leads):
    model = lf.Model.from_yaml_string(synthetic.REFERENCE_MODEL_YAML)
    scored, low, inactive = _expected(model, leads)
    c = cleanup(model, leads, score="total", below=5, inactive=INACTIVE, key="lead_id", as_of=AS_OF)
    dead = low | inactive
    assert c.leads == len(leads)
    assert c.dead.column("lead_id").to_pylist() == scored.column("lead_id").filter(pa.array(dead)).to_pylist()
    want = np.where(low & inactive, f"total < 5; inactive: {INACTIVE}",
                    np.where(low, "total < 5", f"inactive: {INACTIVE}"))[dead]
    assert c.dead.column("reason").to_pylist() == want.tolist()
    assert c.dead.column("total").to_pylist() == scored.column("total").filter(pa.array(dead)).to_pylist()
    assert c.dead.column("tier").to_pylist() == scored.column("tier").filter(pa.array(dead)).to_pylist()
    assert c.reasons == [
        {"reason": "total < 5", "leads": int(low.sum()), "share": low.sum() / len(leads)},
        {"reason": f"inactive: {INACTIVE}", "leads": int(inactive.sum()),
         "share": inactive.sum() / len(leads)}]
    assert 0 < low.sum() < len(leads) and 0 < inactive.sum() and (low & inactive).any()
    assert c.summary()["dead"] == dead.sum()


def test_only_one_criterion_and_no_key(leads):
    model = lf.Model.from_yaml_string(synthetic.REFERENCE_MODEL_YAML)
    scored, low, _ = _expected(model, leads)
    c = cleanup(model, leads, below=5, as_of=AS_OF)
    assert c.dead.column_names[:3] == ["row", "reason", "total"]
    assert c.dead.column("row").to_pylist() == np.flatnonzero(low).tolist()
    assert set(c.dead.column("reason").to_pylist()) == {"total < 5"}


def test_cli_writes_atomically_and_reports(tmp_path, leads):
    model = tmp_path / "m.yaml"
    model.write_text(synthetic.REFERENCE_MODEL_YAML)
    data = tmp_path / "leads.parquet"
    write_output(leads, data)
    out = tmp_path / "dead.parquet"
    args = ["cleanup", str(model), str(data), "--score", "total", "--below", "5", "--inactive",
            INACTIVE, "-o", str(out), "--key", "lead_id", "--as-of", AS_OF]
    r = CliRunner().invoke(main, args + ["--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    t = pq.read_table(out)
    assert t.num_rows == s["dead"] and s["leads"] == 20_000 and s["output"] == str(out)
    assert t.column_names[:3] == ["lead_id", "reason", "total"]
    assert [p.name for p in tmp_path.iterdir() if "tmp" in p.name] == []
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0 and "dead (any reason)" in r.output and "total < 5" in r.output


@pytest.mark.parametrize("extra, message", [
    (["--score", "totl", "--below", "5"], "unknown score 'totl' (did you mean 'total'?)"),
    (["--below", "5", "--key", "lead_di"], "unknown key column 'lead_di'; did you mean 'lead_id'?"),
    (["--inactive", "days_since(last_activty_at) > 3"], "did you mean 'last_activity_at'?"),
    ([], "say what makes a lead dead"),
])
def test_cli_errors_name_the_thing(tmp_path, leads, extra, message):
    model = tmp_path / "m.yaml"
    model.write_text(synthetic.REFERENCE_MODEL_YAML)
    data = tmp_path / "leads.parquet"
    write_output(leads.slice(0, 100), data)
    out = tmp_path / "dead.parquet"
    r = CliRunner().invoke(main, ["cleanup", str(model), str(data), "-o", str(out), *extra])
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output
    assert not out.exists()
