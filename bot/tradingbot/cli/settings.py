"""The settings as flags of the commands that take them (``run``, ``pretrain``, ``evaluate``), the settings
those flags and the environment make, and the journal the reading commands (``trades``, ``report``) read."""

from __future__ import annotations

import argparse
import os
import sys

from tradingbot.config import Settings, SettingsError, load_settings, setting_sources
from tradingbot_contract import env

GROUPS = {
    "": "the bot (TradingBot spec)",
    "marketData": "market data (spec.marketData)",
    "dataQuality": "data it refuses (spec.dataQuality)",
    "trading": "trading (spec.trading)",
    "risk": "risk budget (spec.risk)",
    "agent": "the agent's network (spec.agent)",
    "learning": "learning (spec.learning)",
    "storage": "storage (spec.storage)",
    "s3": "S3 mirror (spec.s3; its keys only from the environment)",
    "secret": "the journal (spec.journal)",
    "operator": "the pod's layout (the operator sets these)",
    "local": "running by hand",
}
"""The help's sections, as the TradingBot spec groups the settings (the contract's ``spec`` paths)."""


def _group(variable: env.Variable) -> str:
    """The help section of ``variable``: its spec group, else who sets it."""
    if variable.spec is None:
        return variable.source
    return variable.spec.split(".")[0] if "." in variable.spec else ""


def add_setting_flags(command: argparse.ArgumentParser) -> None:
    """Every setting's flag (``--preset`` too, for ``--market-preset``), in sections as the TradingBot spec
    groups them; secrets come only from the environment."""
    variables = env.by_name()
    sections = {key: command.add_argument_group(title) for key, title in GROUPS.items()}
    for name, (variable, flag) in setting_sources().items():
        if not flag:
            continue
        field = Settings.model_fields[name]
        default = field.default
        shown = ",".join(default) if isinstance(default, tuple) else "unset" if default is None else default
        sections[_group(variables[variable])].add_argument(
            flag,
            *(("--preset",) if name == "market_preset" else ()),
            dest=name,
            default=None,
            metavar=variable,
            help=f"{field.description} [env {variable}, default {shown}]".replace("%", "%%"),  # argparse formats help
        )


def settings_of(args: argparse.Namespace) -> Settings | None:
    """The settings from the environment and ``args``' flags; ``None`` after printing why they are refused."""
    try:
        return load_settings(os.environ, vars(args))
    except SettingsError as error:
        print(f"tradingbot: {error}", file=sys.stderr)
        return None


def journal_of(args: argparse.Namespace, command: str) -> str | None:
    """The journal ``--journal`` or ``JOURNAL`` names; ``None`` after telling ``tradingbot command`` needs one."""
    target: str | None = args.journal or os.environ.get(env.JOURNAL.name)
    if not target:
        print(f"tradingbot {command}: name the journal with --journal or JOURNAL", file=sys.stderr)
    return target or None
