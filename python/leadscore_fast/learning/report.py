"""The learning report: per column information value, bins and points; holdout AUC, KS and
top-decile lift of the learned model (through ``evaluate``, as any model) next to a plain
scikit-learn logistic regression (one-hot and standardised features) and
HistGradientBoostingClassifier fitted on the same training rows, and optionally a
hand-written model (``--compare``)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

__all__ = ["Report", "metrics", "baselines", "metrics_of_evaluation"]


def metrics(y: np.ndarray, score: np.ndarray) -> dict:
    """AUC, KS and top-decile lift of ``score`` against labels ``y`` (1/0)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(y, score)
    order = np.argsort(-score, kind="stable")
    top = order[: max(1, len(y) // 10)]
    return {"auc": float(roc_auc_score(y, score)), "ks": float(np.max(tpr - fpr)),
            "lift_top_decile": float(y[top].mean() / y.mean())}


def metrics_of_evaluation(ev) -> dict:
    return {"auc": ev.auc, "ks": ev.ks,
            "lift_top_decile": ev.deciles[0]["lift"] if ev.deciles else None}


def _features(table: pa.Table, columns, kinds, as_of_us):
    from leadscore_fast.learning.binning import as_numbers

    num, cat = [], []
    for c in columns:
        arr = table.column(c)
        if kinds[c] == "text":
            if pa.types.is_dictionary(arr.type):
                arr = arr.cast(arr.type.value_type)
            cat.append(np.asarray(arr.cast(pa.large_string()).fill_null("\x00NULL")
                                  .to_numpy(zero_copy_only=False), object))
        elif kinds[c] == "boolean":
            v = np.asarray(arr.cast(pa.float64()).to_numpy(zero_copy_only=False), np.float64)
            num.append(v)
        else:
            num.append(as_numbers(arr, kinds[c], as_of_us))
    N = np.column_stack(num) if num else np.empty((table.num_rows, 0))
    C = np.column_stack(cat) if cat else np.empty((table.num_rows, 0), object)
    return N, C


def baselines(table: pa.Table, columns, kinds, y, train, hold, as_of_us, seed=0,
              max_fit_rows=1_000_000) -> dict:
    """Holdout metrics of the plain logistic regression and of gradient boosting."""
    from scipy import sparse
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    N, C = _features(table, columns, kinds, as_of_us)
    N = np.where(np.isinf(N), np.nan, N)
    tr = np.flatnonzero(train)
    if len(tr) > max_fit_rows:
        tr = np.random.default_rng(seed).choice(tr, max_fit_rows, replace=False)
    ytr = y[tr]
    yho = y[hold]
    out = {}
    # plain logistic regression: median-imputed (with missing indicators), standardised
    # numbers; one-hot text (values rarer than 1 % of the training rows together)
    parts_tr, parts_ho = [], []
    if N.shape[1]:
        imp = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
        sc = StandardScaler()
        parts_tr.append(sparse.csr_matrix(sc.fit_transform(imp.fit_transform(N[tr]))))
        parts_ho.append(sparse.csr_matrix(sc.transform(imp.transform(N[hold]))))
    if C.shape[1]:
        oh = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=0.01)
        parts_tr.append(oh.fit_transform(C[tr]))
        parts_ho.append(oh.transform(C[hold]))
    if parts_tr:
        lr = LogisticRegression(C=1.0, max_iter=2000)
        lr.fit(sparse.hstack(parts_tr).tocsr(), ytr)
        out["logistic regression (one-hot, standardised)"] = metrics(
            yho, lr.decision_function(sparse.hstack(parts_ho).tocsr()))
        # gradient boosting: numbers as they are (NULL native), text as categories
        X = N
        cats = []
        if C.shape[1]:
            oe = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                max_categories=250)
            oe.fit(C[tr])
            X = np.column_stack([N, oe.transform(C)])
            cats = list(range(N.shape[1], X.shape[1]))
        hgb = HistGradientBoostingClassifier(categorical_features=cats or None,
                                             random_state=seed)
        hgb.fit(X[tr], ytr)
        out["HistGradientBoostingClassifier"] = metrics(yho, hgb.predict_proba(X[hold])[:, 1])
    return out


@dataclass
class Report:
    target: str
    rows: int
    train_rows: int
    holdout_rows: int
    conversion: float
    columns: list[dict]  # column, kind, iv, bins, points (min, max), notes
    dropped: dict  # column -> reason
    leaks: dict  # column -> reason (excluded unless allowed)
    holdout: dict = field(default_factory=dict)  # model name -> auc, ks, lift_top_decile
    scaling: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def __str__(self) -> str:
        L = [f"learned from {self.rows:,} rows ({self.train_rows:,} training, "
             f"{self.holdout_rows:,} holdout), target {self.target!r} converting "
             f"{self.conversion:.1%}, in {self.seconds:.1f} s", f"points: {self.scaling}", ""]
        if self.leaks:
            L.append("leakage guard (columns that nearly determine the target; --allow COL "
                     "keeps one):")
            for c, why in self.leaks.items():
                L.append(f"  {c}: {why}")
            L.append("")
        L.append(f"{'column':<40} {'kind':<8} {'IV':>6} {'bins':>4} {'points':>9}")
        for c in sorted(self.columns, key=lambda d: -d["iv"]):
            L.append(f"{c['column'][:40]:<40} {c['kind']:<8} {c['iv']:>6.3f} {c['bins']:>4} "
                     f"{c['points'][0]:>4}..{c['points'][1]:<4}")
        if self.dropped:
            L.append("")
            L.append("not in the model:")
            for c, why in self.dropped.items():
                L.append(f"  {c}: {why}")
        if self.holdout:
            L.append("")
            L.append(f"holdout ({self.holdout_rows:,} rows): {'AUC':>6} {'KS':>6} "
                     f"{'lift@10%':>8}")
            for name, m in self.holdout.items():
                f = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
                L.append(f"  {name[:44]:<44} {f(m.get('auc')):>6} {f(m.get('ks')):>6} "
                         f"{f(m.get('lift_top_decile')):>8}")
        return "\n".join(L)
