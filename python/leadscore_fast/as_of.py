"""The reference time of ``days_since()``: the one place that parses and resolves ``as_of``.

Precedence: an explicit ``as_of`` (argument or ``--as-of``) > the model's ``as_of`` > the
time of scoring (UTC). Naive values are UTC. The engine takes epoch microseconds, exact
(integer arithmetic, no float rounding).
"""
from __future__ import annotations

import datetime as _dt

__all__ = ["iso_utc", "epoch_us", "resolve_as_of", "pinned"]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def _parse(value, what: str) -> _dt.datetime:
    """A datetime (UTC-aware) from a datetime, a date or an ISO-8601 string; ValueError."""
    if isinstance(value, str):
        try:
            value = _dt.datetime.fromisoformat(value.strip().replace("z", "Z"))
        except ValueError:
            raise ValueError(f"{what} {value!r} is not an ISO-8601 date or timestamp "
                             "(e.g. 2026-11-01T00:00:00Z)") from None
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        value = _dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, _dt.datetime):
        raise ValueError(f"{what} must be an ISO-8601 timestamp, got {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    return value


def iso_utc(value, what: str = "timestamp") -> str:
    """Normalise a datetime/date/ISO-8601 string to 'YYYY-MM-DDTHH:MM:SS[.ffffff]Z' (UTC).
    Raises ValueError with a readable message."""
    value = _parse(value, what).astimezone(_dt.timezone.utc).replace(tzinfo=None)
    text = value.isoformat(timespec="microseconds" if value.microsecond else "seconds")
    return text + "Z"


def epoch_us(value, what: str = "as_of") -> int:
    """Epoch microseconds (UTC) of ``value``, or of now when None; ModelError when bad."""
    if value is None:
        value = _dt.datetime.now(_dt.timezone.utc)
    try:
        delta = _parse(value, what) - _EPOCH
    except ValueError as e:
        from leadscore_fast.errors import ModelError

        raise ModelError(str(e)) from None
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def resolve_as_of(as_of, program=None) -> int:
    """Epoch microseconds (UTC) from: explicit as_of > Program.as_of > now."""
    return epoch_us(as_of if as_of is not None else getattr(program, "as_of", None))


def pinned(as_of, *models):
    """The as_of for every run of one multi-pass job: the explicit one, else each model's
    own (None), else one "now" shared by all the runs, so that "now" cannot move between
    them."""
    if as_of is not None or all(m.as_of is not None for m in models):
        return as_of
    return _dt.datetime.now(_dt.timezone.utc)
