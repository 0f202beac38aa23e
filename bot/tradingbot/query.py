"""Query-string parameters as the HTTP servers here read them (the bot's ``/trades``, the local Massive
server's REST paging): a bounded integer, or a clear message for a 400."""

from __future__ import annotations


def bounded_integer(text: str, name: str, low: int, high: int) -> int:
    """``text`` as an integer in ``[low, high]``; ``ValueError`` naming ``name`` and what was wrong."""
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {text[:40]!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must lie in [{low}, {high}], got {value}")
    return value
