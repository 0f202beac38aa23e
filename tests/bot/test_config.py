"""Settings: environment variables, flags over variables, clear errors."""

from __future__ import annotations

import pytest

from tradingbot.config import Settings, SettingsError, load_settings, setting_sources


def test_defaults_match_the_seed_configuration():
    settings = load_settings({})
    assert settings.symbols == ("SPY", "QQQ") and settings.initial_capital == 100_000
    assert settings.source == "sim" and settings.policy == "random" and settings.log_level == "INFO"
    assert settings.max_steps == 0


def test_environment_variables_are_read():
    settings = load_settings(
        {
            "SYMBOLS": " AAPL ,MSFT",
            "INITIAL_CAPITAL": "25000",
            "LOG_LEVEL": "debug",
            "SEED": "9",
            "POLICY": "HOLD",
            "MAX_STEPS": "10",
        }
    )
    assert settings.symbols == ("AAPL", "MSFT") and settings.initial_capital == 25_000
    assert settings.log_level == "DEBUG" and settings.seed == 9 and settings.policy == "hold"
    assert settings.max_steps == 10


def test_flags_override_environment_variables():
    settings = load_settings(
        {"SYMBOLS": "AAPL", "INITIAL_CAPITAL": "25000"}, {"symbols": "SPY", "initial_capital": None}
    )
    assert settings.symbols == ("SPY",) and settings.initial_capital == 25_000


def test_blank_variables_fall_back_to_defaults():
    assert load_settings({"SYMBOLS": "  "}).symbols == ("SPY", "QQQ")


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({"INITIAL_CAPITAL": "-5"}, "INITIAL_CAPITAL / --capital"),
        ({"INITIAL_CAPITAL": "nan"}, "INITIAL_CAPITAL / --capital"),
        ({"SYMBOLS": "spy,QQQ"}, "SYMBOLS / --symbols"),
        ({"SYMBOLS": "SPY,SPY"}, "SYMBOLS / --symbols"),
        ({"SYMBOLS": ","}, "SYMBOLS / --symbols"),
        ({"POLICY": "yolo"}, "POLICY / --policy"),
        ({"MARKET_SOURCE": "bloomberg"}, "MARKET_SOURCE / --source"),
        ({"MAX_STEPS": "ten"}, "MAX_STEPS / --max-steps"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL / --log-level"),
        ({"EXPIRY_CUTOFF_MINUTES": "400"}, "EXPIRY_CUTOFF_MINUTES / --expiry-cutoff"),
    ],
)
def test_invalid_values_name_the_variable_and_the_flag(environ, names):
    with pytest.raises(SettingsError, match=names):
        load_settings(environ)


def test_settings_are_immutable():
    settings = load_settings({})
    with pytest.raises(ValueError, match="frozen"):
        settings.seed = 3  # type: ignore[misc]


def test_every_setting_has_a_unique_variable_and_flag():
    sources = setting_sources()
    assert set(sources) == set(Settings.model_fields)
    assert len({env for env, _ in sources.values()}) == len(sources)
    assert len({flag for _, flag in sources.values()}) == len(sources)
    for name in ("SYMBOLS", "INITIAL_CAPITAL", "LOG_LEVEL"):
        assert name in {env for env, _ in sources.values()}
