"""The one "did you mean" helper for messages about names (columns, scores, segmentations,
model keys)."""
from __future__ import annotations

__all__ = ["did_you_mean", "closest", "did_you_mean_or_known"]


def closest(name: str, candidates) -> str | None:
    """The candidate closest to ``name`` (difflib ratio >= 0.6), or None."""
    import difflib  # only when a message is written (~5 ms to import)

    found = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(name: str, candidates) -> str:
    """``"; did you mean 'x'?"`` for the closest candidate, else an empty string."""
    found = closest(name, candidates)
    return f"; did you mean {found!r}?" if found else ""


def did_you_mean_or_known(name: str, candidates) -> str:
    """``" (did you mean 'x'?)"``, else ``" (known: 'a', 'b')"``: for names picked from a
    short list (scores, segmentations)."""
    candidates = list(candidates)
    found = closest(name, candidates)
    if found:
        return f" (did you mean {found!r}?)"
    return f" (known: {', '.join(map(repr, candidates))})" if candidates else ""
