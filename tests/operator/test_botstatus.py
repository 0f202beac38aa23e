"""Live figures from a bot's /status: tolerant of anything, rounded so that status does not churn."""

from __future__ import annotations

from typing import Any

import pytest

from tradingbot_contract.status import SCHEMA_KEY, SCHEMA_VERSION
from tradingbot_operator.botstatus import UnknownSchemaError, parse_status


def versioned(document: dict[str, Any]) -> dict[str, Any]:
    return {SCHEMA_KEY: SCHEMA_VERSION, **document}


def test_figures_are_read_and_rounded():
    live = parse_status(
        versioned(
            {
                "portfolio": {"value": 101234.5678, "win_rate": 0.53333, "trades": 12},
                "checkpoints": {"last_saved_unix": 1767225600.4},
                "trading": {"risk_halted": False, "entry_block": None},
            }
        )
    )
    assert live.status_fields() == {
        "portfolioValue": "101234.57",
        "winRate": "53.3%",
        "trades": 12,
        "lastCheckpointTime": "2026-01-01T00:00:00Z",
    }
    assert live.risk_halted is False


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"portfolio": "x"},
        {"portfolio": {"value": float("nan")}},
        {"portfolio": {"value": "1", "trades": -1, "win_rate": True}},
        {"trading": {"risk_halted": "yes"}},
    ],
)
def test_garbage_leaves_figures_unknown(document):
    live = parse_status(versioned(document))
    assert live.status_fields() == {} and live.risk_halted is None


@pytest.mark.parametrize("document", [None, [], "x", {}, {"portfolio": {"value": 1.0}}])
def test_a_document_without_the_schema_version_is_refused(document):
    with pytest.raises(UnknownSchemaError):
        parse_status(document)


def test_the_device_and_its_problem_are_read():
    live = parse_status(versioned({"device": {"using": "cpu", "problem": "1 GPU(s) reserved but none is visible"}}))
    assert live.device == "cpu" and live.device_problem == "1 GPU(s) reserved but none is visible"
    assert parse_status(versioned({"device": {"using": 3, "problem": ["x"]}})).device is None
