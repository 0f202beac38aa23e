"""The README tells the truth about the bot's settings."""

from __future__ import annotations

from pathlib import Path

from tradingbot.config import setting_sources

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_documented_with_its_flag_and_variable():
    for env, flag in setting_sources().values():
        row = f"| `{flag}` | `{env}` |" if flag else f"| — | `{env}` |"
        assert row in README, f"README lacks the row for {flag or 'environment-only'} {env}"


def test_the_quick_start_has_exactly_two_commands():
    quick_start = README.split("## Quick start", 1)[1].split("##", 1)[0]
    block = quick_start.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make run", "make test"]
