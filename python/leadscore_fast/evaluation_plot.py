"""The picture of an :class:`~leadscore_fast.evaluation.Evaluation`: the gains curve (share
of conversions caught against share of leads contacted, best first) beside the conversion
rate per segment. matplotlib is an optional extra (``pip install leadscore_fast[plot]``)."""
from __future__ import annotations

import os
import tempfile

__all__ = ["save_plot"]


def save_plot(ev, path: str) -> None:
    """Write the plot to ``path`` (PNG), atomically."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        from leadscore_fast.queries import QueryError

        raise QueryError("--plot needs matplotlib: pip install leadscore_fast[plot]") from None
    segs = [s for s in ev.segments if s["segmentation"] == ev.segments[0]["segmentation"]] \
        if ev.segments else []
    fig, axes = plt.subplots(1, 2 if segs else 1, figsize=(11 if segs else 6, 4.5))
    ax = axes[0] if segs else axes
    total = max(ev.leads, 1)
    xs, ys, seen = [0.0], [0.0], 0
    for d in ev.deciles:
        seen += d["leads"]
        xs.append(seen / total)
        ys.append(d["gains"] or 0.0)
    ax.plot(xs, ys, marker="o", label=f"{ev.score} (AUC {ev.auc:.3f})" if ev.auc else ev.score)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    ax.set_xlabel("share of leads, highest score first")
    ax.set_ylabel("share of conversions caught")
    ax.set_title("gains")
    ax.legend(loc="lower right")
    if segs:
        names = ["(none)" if s["segment"] is None else s["segment"] for s in segs]
        axes[1].bar(names, [100 * (s["rate"] or 0) for s in segs])
        axes[1].set_ylabel("conversion rate (%)")
        axes[1].set_title(f"conversion by {segs[0]['segmentation']}")
    fig.tight_layout()
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".plot-", suffix=".png", dir=folder)
    os.close(fd)
    try:
        fig.savefig(tmp, format="png", dpi=110)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
