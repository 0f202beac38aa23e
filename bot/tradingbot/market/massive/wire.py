"""Massive's WebSocket frames, decoded straight from bytes into the shared market types.

A frame is a JSON array of events. The fast path decodes the whole array in one msgspec call into the
cluster's tagged union (``ev`` picks the type, wire names map to fields, constraints reject negative
prices and sizes). Only a frame that fails as a whole takes the slow path, which decodes event by event
so that one bad event costs only itself: unknown event types, invalid events (a missing field, a
negative or non-finite price) and malformed frames (not JSON, not UTF-8, not an array) are counted and
skipped.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from tradingbot.market.types import (
    MinuteAggregate,
    OptionQuote,
    OptionTrade,
    SecondAggregate,
    Status,
    StockQuote,
    StockTrade,
)

Cluster = Literal["stocks", "options"]
StockEvent = StockQuote | StockTrade | SecondAggregate | MinuteAggregate | Status
OptionEvent = OptionQuote | OptionTrade | SecondAggregate | MinuteAggregate | Status
Event = StockEvent | OptionEvent
KNOWN_EVENTS = frozenset({"Q", "T", "A", "AM", "status"})


@dataclass
class DecodeStats:
    """What decoding dropped, by reason (counts since start)."""

    malformed_frames: int = 0
    unknown_events: int = 0
    invalid_events: int = 0
    unknown_types: dict[str, int] = field(default_factory=dict)


class FrameDecoder:
    """Decodes the frames of one cluster; keeps :class:`DecodeStats` of what it skipped."""

    def __init__(self, cluster: Cluster) -> None:
        union: Any = StockEvent if cluster == "stocks" else OptionEvent
        self.cluster = cluster
        self.stats = DecodeStats()
        self._frame = msgspec.json.Decoder(list[union])
        self._event_type = union
        self._raw = msgspec.json.Decoder(list[msgspec.Raw])
        self._one = msgspec.json.Decoder(union)

    def decode(self, frame: bytes | str) -> list[Event]:
        """The valid events of ``frame``, in order."""
        try:
            events: list[Event] = self._frame.decode(frame)
        except (msgspec.DecodeError, UnicodeError):  # msgspec < 0.23 raised UnicodeDecodeError for bad UTF-8
            if not _is_utf8(frame):
                self.stats.malformed_frames += 1
                return []
            return self._salvage(frame)
        return events

    def _salvage(self, frame: bytes | str) -> list[Event]:
        try:
            raws = self._raw.decode(frame)
        except msgspec.DecodeError:
            return self._salvage_lenient(frame)
        events: list[Event] = []
        for raw in raws:
            try:
                events.append(self._one.decode(raw))
            except msgspec.DecodeError:
                self._reject(_event_name(raw))
        return events

    def _salvage_lenient(self, frame: bytes | str) -> list[Event]:
        """A frame strict JSON refuses (e.g. a ``NaN`` literal): parse leniently, keep the valid events."""
        try:
            items = json.loads(frame)
        except ValueError:
            self.stats.malformed_frames += 1
            return []
        if not isinstance(items, list):
            self.stats.malformed_frames += 1
            return []
        events: list[Event] = []
        for item in items:
            ev = item.get("ev") if isinstance(item, dict) else None
            if not isinstance(ev, str) or ev not in KNOWN_EVENTS or _has_non_finite(item):
                self._reject(ev if isinstance(ev, str) else None)
                continue
            try:
                events.append(msgspec.convert(item, self._event_type))
            except msgspec.ValidationError:
                self._reject(ev)
        return events

    def _reject(self, ev: str | None) -> None:
        if ev is not None and ev not in KNOWN_EVENTS:
            self.stats.unknown_events += 1
            if len(self.stats.unknown_types) < 32:  # bounded: a hostile stream cannot grow it
                self.stats.unknown_types[ev] = self.stats.unknown_types.get(ev, 0) + 1
        else:
            self.stats.invalid_events += 1


def _is_utf8(frame: bytes | str) -> bool:
    """Whether a frame is valid UTF-8 text (a ``str`` holding surrogate escapes of raw bytes is not)."""
    try:
        if isinstance(frame, bytes):
            frame.decode("utf-8")
        else:
            frame.encode("utf-8")
    except UnicodeError:
        return False
    return True


def _event_name(raw: msgspec.Raw) -> str | None:
    try:
        item = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    ev = item.get("ev") if isinstance(item, dict) else None
    return ev if isinstance(ev, str) else None


def _has_non_finite(item: dict[str, Any]) -> bool:
    return any(isinstance(v, float) and not math.isfinite(v) for v in item.values())
