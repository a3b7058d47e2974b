"""lf.learn on the public data sets in ../shared/data (skipped when absent): the learned points
model reaches at least the plain logistic regression's holdout AUC, and the leakage guard
flags X Education's sales-filled columns."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("sklearn")

from leadscore_fast.learning import learn  # noqa: E402

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
if not os.path.isdir(DATA):
    DATA = os.environ.get("LEADSCORE_DATA", "/work/shared/data")
X_EDU = os.path.join(DATA, "x_education_leads.csv")
BANK = os.path.join(DATA, "bank_marketing_full.csv")

LR = "logistic regression (one-hot, standardised)"
OURS = "learned points (this model)"


@pytest.mark.skipif(not os.path.exists(X_EDU), reason="x_education_leads.csv not present")
def test_x_education():
    r = learn(X_EDU, "Converted", null_values=["Select"], seed=0)
    rep = r.report
    assert rep.rows == 9240 and round(rep.conversion * 9240) == 3561
    assert {"Tags", "Lead Quality"} <= set(rep.leaks)
    assert "Tags" not in r.coefficients and "Lead Quality" not in r.coefficients
    h = rep.holdout
    assert h[OURS]["auc"] >= h[LR]["auc"] - 0.002, h
    assert h[OURS]["auc"] >= 0.89, h
    assert 'IS NULL' in r.yaml  # 'Select' read as NULL has its own bin
    import leadscore_fast as lf

    ev = lf.evaluate(r.model, lf.source(X_EDU, null_values=["Select"]), "Converted", r.total)
    rate = {s["segment"]: s["rate"] for s in ev.segments if s["segmentation"] == "tier"}
    assert rate["cold"] < rate["warm"] < rate["hot"], rate


@pytest.mark.skipif(not os.path.exists(BANK), reason="bank_marketing_full.csv not present")
def test_bank_marketing_without_duration():
    r = learn(BANK, "y", exclude=["duration"], seed=0)
    h = r.report.holdout
    assert r.report.rows == 45211
    assert h[OURS]["auc"] >= h[LR]["auc"] - 0.002, h
    assert h[OURS]["auc"] >= 0.76, h
