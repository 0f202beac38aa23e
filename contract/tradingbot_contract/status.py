"""The ``/status`` document's version and the fields the operator reads from it.

The bot writes ``schemaVersion`` first; the operator reads a document only when it knows its version,
and then only the fields below (anything else in it is for people). A change that moves or retypes one
of them bumps the version.
"""

from __future__ import annotations

SCHEMA_VERSION = 1
SCHEMA_KEY = "schemaVersion"
OPERATOR_READS: tuple[tuple[str, ...], ...] = (
    ("portfolio", "value"),
    ("portfolio", "win_rate"),
    ("portfolio", "trades"),
    ("checkpoints", "last_saved_unix"),
    ("trading", "risk_halted"),
    ("trading", "entry_block"),
    ("trading", "halt_limit"),
    ("device", "using"),
    ("device", "problem"),
)
"""The paths (key by key) the operator's live-status reader takes from the document."""
