"""Settings: environment variables, flags over variables, clear errors."""

from __future__ import annotations

import pytest

from tradingbot.config import Settings, SettingsError, load_settings, setting_sources


def test_defaults_match_the_seed_configuration():
    settings = load_settings({})
    assert settings.symbols == ("SPY", "QQQ") and settings.initial_capital == 100_000
    assert settings.source == "sim" and settings.policy == "ppo" and settings.log_level == "INFO"
    assert settings.max_steps == 0
    assert settings.update_frequency == 100 and settings.save_frequency == 1000


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
        ({"UPDATE_FREQUENCY": "20000"}, "UPDATE_FREQUENCY / --update-frequency"),
        ({"SAVE_FREQUENCY": "0"}, "SAVE_FREQUENCY / --save-frequency"),
        ({"DEVICE": "tpu"}, "DEVICE / --device"),
        ({"BOT_NAME": "Not_A_Name"}, "BOT_NAME / --bot-name"),
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
    flags = [flag for _, flag in sources.values() if flag]
    assert len(set(flags)) == len(flags) == len(sources) - 3  # the S3 keys and the Massive key have no flag
    for name in ("SYMBOLS", "INITIAL_CAPITAL", "LOG_LEVEL"):
        assert name in {env for env, _ in sources.values()}


def test_s3_keys_come_only_from_the_environment_and_never_print():
    settings = load_settings(
        {"S3_ACCESS_KEY": "AKIAEXAMPLEKEY", "S3_SECRET_KEY": "sup3r/s3cret"},
        {"s3_access_key": "from-a-flag", "s3_secret_key": "from-a-flag"},
    )
    assert settings.s3_access_key is not None and settings.s3_access_key.get_secret_value() == "AKIAEXAMPLEKEY"
    assert settings.s3_secret_key is not None and settings.s3_secret_key.get_secret_value() == "sup3r/s3cret"
    assert "sup3r" not in repr(settings) and "AKIAEXAMPLEKEY" not in str(settings)
    assert setting_sources()["s3_secret_key"] == ("S3_SECRET_KEY", "")


def test_learning_settings_are_read():
    settings = load_settings(
        {
            "UPDATE_FREQUENCY": "50",
            "SAVE_FREQUENCY": "500",
            "CHECKPOINT_DIR": "/checkpoints",
            "MODEL_DIR": "/models",
            "DEVICE": "AUTO",
            "POLICY_HIDDEN": "512",
        }
    )
    assert (settings.update_frequency, settings.save_frequency) == (50, 500)
    assert str(settings.checkpoint_dir) == "/checkpoints" and str(settings.model_dir) == "/models"
    assert settings.device == "auto" and settings.policy_hidden == 512
