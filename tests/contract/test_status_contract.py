"""The ``/status`` document, checked both ways: the bot writes the contract's version and every field the
operator reads; the operator reads nothing else and refuses a version it does not know."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tiny import TINY_ENV
from tradingbot.build import build_trader
from tradingbot.config import load_settings
from tradingbot.service.status import status_document
from tradingbot.snapshot import snapshot
from tradingbot_contract import status as contract
from tradingbot_operator.botstatus import UnknownSchemaError, parse_status


class Recording(dict[str, Any]):
    """A JSON object that remembers which keys were read, by path."""

    def __init__(self, value: dict[str, Any], path: tuple[str, ...], reads: set[tuple[str, ...]]) -> None:
        super().__init__({k: _record(v, (*path, k), reads) for k, v in value.items()})
        self._path, self._reads = path, reads

    def get(self, key: str, default: Any = None) -> Any:
        self._reads.add((*self._path, key))
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self._reads.add((*self._path, key))
        return super().__getitem__(key)


def _record(value: Any, path: tuple[str, ...], reads: set[tuple[str, ...]]) -> Any:
    return Recording(value, path, reads) if isinstance(value, dict) else value


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real ``/status`` body of a learning bot after 30 steps, through JSON as the operator gets it."""
    root: Path = tmp_path_factory.mktemp("bot")
    settings = load_settings(
        {
            "SYMBOLS": "SPY",
            "CHECKPOINT_DIR": str(root / "checkpoints"),
            "MODEL_DIR": str(root / "models"),
            "JOURNAL": "memory",
            "UPDATE_FREQUENCY": "10",
            **TINY_ENV,
        }
    )
    trader = build_trader(settings)
    for _ in range(30):
        trader.tick()
    return dict(json.loads(json.dumps(status_document(settings, snapshot(trader), [0], 1767225600.0))))


def test_the_bot_writes_the_schema_version_first_and_every_field_the_operator_reads(document):
    assert next(iter(document)) == contract.SCHEMA_KEY and document[contract.SCHEMA_KEY] == contract.SCHEMA_VERSION
    for path in contract.OPERATOR_READS:
        value: Any = document
        for key in path:
            assert isinstance(value, dict) and key in value, f"the bot's /status lacks {'.'.join(path)}"
            value = value[key]


def test_the_operator_reads_exactly_the_contracts_fields(document):
    reads: set[tuple[str, ...]] = set()
    parse_status(_record(document, (), reads))
    sections = {path[:1] for path in contract.OPERATOR_READS}
    assert reads - sections == {(contract.SCHEMA_KEY,), *contract.OPERATOR_READS}


@pytest.mark.parametrize("version", [None, 0, contract.SCHEMA_VERSION + 1, "1"])
def test_the_operator_refuses_a_document_of_another_version(document, version):
    changed = {k: v for k, v in document.items() if k != contract.SCHEMA_KEY}
    if version is not None:
        changed[contract.SCHEMA_KEY] = version
    with pytest.raises(UnknownSchemaError, match=f"this operator reads {contract.SCHEMA_VERSION}"):
        parse_status(changed)
