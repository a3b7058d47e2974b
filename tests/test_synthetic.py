"""The synthetic lead generator: schema, determinism, null rates, and a usable reference model."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import yaml

from leadscore_fast.synthetic import (INDUSTRIES, JOB_TITLES, REFERENCE_AS_OF,
                                      REFERENCE_MODEL_YAML, generate_leads)

SCHEMA = pa.schema([
    ("lead_id", pa.int64()),
    ("industry", pa.dictionary(pa.int32(), pa.string())),
    ("company_size", pa.int32()),
    ("country", pa.dictionary(pa.int32(), pa.string())),
    ("job_title", pa.dictionary(pa.int32(), pa.string())),
    ("email_domain_free", pa.bool_()),
    ("unsubscribed", pa.bool_()),
    ("pricing_visits", pa.int16()),
    ("web_visits", pa.int32()),
    ("email_opens", pa.int32()),
    ("webinar_attended", pa.bool_()),
    ("annual_revenue", pa.float64()),
    ("last_activity_at", pa.timestamp("us", tz="UTC")),
    ("created_at", pa.date32()),
    ("technologies", pa.list_(pa.string())),
    ("converted", pa.bool_()),
])
NEVER_NULL = {"lead_id", "converted"}


def test_schema_and_size():
    t = generate_leads(5_000, seed=1)
    assert t.schema == SCHEMA
    assert t.num_rows == 5_000
    assert t.column("lead_id").to_pylist() == list(range(1, 5_001))
    assert generate_leads(0).schema == SCHEMA and generate_leads(0).num_rows == 0


def test_same_seed_same_table_different_seed_different_table():
    a, b = generate_leads(3_000, seed=5), generate_leads(3_000, seed=5)
    assert a.equals(b)
    assert not a.equals(generate_leads(3_000, seed=6))


def test_batch_rows_changes_chunking_not_data():
    n = (1 << 20) + 10  # crosses the internal generation block
    whole = generate_leads(n, seed=2)
    chunked = generate_leads(n, seed=2, batch_rows=100_000)
    assert max(b.num_rows for b in chunked.to_batches()) <= 100_000
    assert whole.equals(chunked)


@pytest.mark.parametrize("rate", [0.0, 0.05, 0.3])
def test_null_rates(rate):
    t = generate_leads(40_000, seed=3, null_rate=rate)
    for name in t.column_names:
        frac = t.column(name).null_count / t.num_rows
        if name in NEVER_NULL:
            assert frac == 0, name
        else:
            assert abs(frac - rate) < 0.01, (name, frac)


def test_value_domains():
    t = generate_leads(50_000, seed=4)
    industries = set(pc.unique(t.column("industry").cast(pa.string())).drop_null().to_pylist())
    assert industries == set(INDUSTRIES) and len(INDUSTRIES) == 20
    titles = set(JOB_TITLES)
    assert {"VP Marketing", "CTO", "Head of Growth"} <= titles and len(titles) == 30
    assert {"software", "fintech"} <= industries
    assert 10 <= len(pc.unique(t.column("country")).drop_null()) <= 20
    assert pc.min(t.column("company_size")).as_py() >= 1
    assert pc.min(t.column("pricing_visits")).as_py() >= 0
    as_of = np.datetime64(REFERENCE_AS_OF.rstrip("Z"), "us")
    last = t.column("last_activity_at").to_numpy().astype("datetime64[us]")
    assert (last[~np.isnat(last)] <= as_of).all()


def test_conversion_follows_good_signals():
    t = generate_leads(200_000, seed=5, null_rate=0.0)
    conv = t.column("converted").to_numpy(zero_copy_only=False)
    assert 0.02 < conv.mean() < 0.2
    pricing = t.column("pricing_visits").to_numpy()
    unsub = t.column("unsubscribed").to_numpy(zero_copy_only=False)
    assert conv[pricing >= 3].mean() > 1.5 * conv[pricing == 0].mean()
    assert conv[unsub].mean() < 0.5 * conv[~unsub].mean()


def test_reference_model_shape():
    m = yaml.safe_load(REFERENCE_MODEL_YAML)
    rules = [r for s in m["scores"].values() for r in s.get("rules", [])]
    assert len(rules) == 16
    assert set(m["scores"]) == {"fit", "engagement", "total"}
    assert [c["name"] for c in m["segments"]["tier"]] == ["hot", "warm", "cold"]
    text = REFERENCE_MODEL_YAML.upper()
    assert "LIKE" not in text and "HAS_ANY" not in text and "TECHNOLOGIES" not in text
    assert m["as_of"] == REFERENCE_AS_OF


def test_reference_model_loads():
    model_mod = pytest.importorskip("leadscore_fast.model")
    model_mod.Model.from_yaml_string(REFERENCE_MODEL_YAML)


def test_high_cardinality_columns_are_additive():
    from leadscore_fast.synthetic import HIGH_CARDINALITY, email_domains, utm_campaigns

    n = (1 << 20) + 5_000  # two generation blocks
    plain = generate_leads(n, seed=9)
    wide = generate_leads(n, seed=9, high_cardinality=True, batch_rows=300_000)
    assert wide.schema.names == SCHEMA.names + ["email_domain", "utm_campaign"]
    assert wide.drop_columns(["email_domain", "utm_campaign"]).equals(plain)
    assert wide.equals(generate_leads(n, seed=9, high_cardinality=True))
    assert len(set(email_domains())) == len(set(utm_campaigns())) == HIGH_CARDINALITY
    for name in ("email_domain", "utm_campaign"):
        col = wide.column(name)
        assert col.type == pa.string()
        assert abs(col.null_count / n - 0.05) < 0.01
        assert pc.count_distinct(col).as_py() > 50_000, name
    top = pc.value_counts(wide.column("email_domain")).to_pylist()
    assert max(v["counts"] for v in top) > n // 100  # a power-law head (free-mail domains)
    zero = generate_leads(10_000, seed=9, null_rate=0.0, high_cardinality=True)
    assert zero.column("email_domain").null_count == 0
