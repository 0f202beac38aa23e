"""The bot's settings: one typed, frozen object, parsed once from environment variables and flags.

Every setting has an environment variable — its name, default and bounds come from the contract with
the Kubernetes operator (:mod:`tradingbot_contract.env`), which renders them into the bot's pod — and a
``tradingbot run`` flag; a flag overrides its variable, which overrides the default. A test checks the
README's settings table against the same fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tradingbot.market.massive.constants import Feed, stream_urls
from tradingbot.redaction import url_password
from tradingbot_contract import env

SYMBOL_PATTERN = re.compile(env.TICKER_PATTERN)


class SettingsError(ValueError):
    """Settings that cannot be used; the message names the variable or flag and what to fix."""


def _setting(variable: env.Variable, flag: str | None, help: str, **extra: Any) -> Any:  # noqa: ANN401
    """A field for ``variable`` (its name, default and bounds from the contract) and its flag (pydantic's
    ``Field`` is typed ``Any``)."""
    return Field(
        variable.default,
        description=help,
        json_schema_extra={"env": variable.name, "flag": flag or ""},
        **variable.constraints(),
        **extra,
    )


def _secret(variable: env.Variable, help: str) -> Any:  # noqa: ANN401
    """A secret: read only from its environment variable (no flag: flags show in ``ps``), never printed."""
    return _setting(variable, None, help)


class Settings(BaseModel):
    """Everything ``tradingbot run`` needs to know. Money in USD, durations in seconds unless named."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbols: tuple[str, ...] = _setting(
        env.SYMBOLS, "--symbols", "comma-separated underlyings traded over one shared portfolio"
    )
    initial_capital: Annotated[float, Field(allow_inf_nan=False)] = _setting(
        env.INITIAL_CAPITAL, "--capital", "starting cash of the paper account, USD"
    )
    source: Literal["sim", "massive", "replay"] = _setting(
        env.MARKET_SOURCE,
        "--source",
        "market data: sim (the built-in seeded simulator), massive (Massive real-time data; needs "
        "MASSIVE_API_KEY) or replay (a --record file, see REPLAY_FILE)",
    )
    massive_feed: Feed = _setting(
        env.MASSIVE_FEED, "--feed", "Massive WebSocket feed: realtime or delayed (15 minutes)"
    )
    massive_ws_url: str | None = _setting(
        env.MASSIVE_WS_URL,
        "--massive-ws-url",
        "Massive WebSocket base URL, /stocks and /options appended (unset: the feed's host)",
    )
    massive_rest_url: str = _setting(env.MASSIVE_REST_URL, "--massive-rest-url", "Massive REST base URL")
    chain_refresh_s: float = _setting(
        env.CHAIN_REFRESH,
        "--chain-refresh",
        "seconds between option chain snapshots (Greeks, IV, contracts)",
        allow_inf_nan=False,
    )
    record_file: Path | None = _setting(
        env.RECORD, "--record", "write the raw Massive session here (gzip JSON lines) for --source replay"
    )
    replay_file: Path | None = _setting(env.REPLAY_FILE, "--replay-file", "the recording --source replay plays")
    replay_speed: float = _setting(
        env.REPLAY_SPEED,
        "--speed",
        "replay at this multiple of recorded time (0: as fast as possible)",
        allow_inf_nan=False,
    )
    replay_step_s: float = _setting(
        env.REPLAY_STEP, "--replay-step", "recorded seconds between two decisions of a replay", allow_inf_nan=False
    )
    market_preset: Literal["realistic", "trending", "small-edge"] = _setting(
        env.MARKET_PRESET,
        "--market-preset",
        "simulator market: realistic (calibrated to real index and single-name options), small-edge (the same "
        "with a small edge: rich options foretell higher returns) or trending (persistent trends: a planted, "
        "learnable edge for demos and tests)",
    )
    seed: int = _setting(env.SEED, "--seed", "seed of the simulator and of the random policy")
    policy: Literal["ppo", "random", "hold"] = _setting(
        env.POLICY,
        "--policy",
        "who chooses actions: ppo (the learning CLSTM-PPO agent), or a baseline: random (seeded uniform "
        "choice among valid actions) or hold (never trades)",
    )
    max_steps: int = _setting(env.MAX_STEPS, "--max-steps", "exit after this many steps; 0 runs until stopped")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = _setting(
        env.LOG_LEVEL, "--log-level", "logging level; DEBUG also logs every fill"
    )
    log_interval_s: float = _setting(
        env.LOG_INTERVAL, "--log-interval", "seconds between progress lines", allow_inf_nan=False
    )
    step_interval_s: float | None = _setting(
        env.STEP_INTERVAL,
        "--step-interval",
        "seconds between two decisions; unset: 60 on Massive data, 0 (as fast as it goes) on the simulator and replays",
        allow_inf_nan=False,
    )
    steps_per_day: int = _setting(
        env.STEPS_PER_DAY, "--steps-per-day", "simulator steps per 390-minute trading session"
    )
    commission_per_contract: float = _setting(
        env.COMMISSION_PER_CONTRACT, "--commission", "broker commission per option contract, USD", allow_inf_nan=False
    )
    regulatory_fee_per_contract: float = _setting(
        env.REGULATORY_FEE_PER_CONTRACT,
        "--regulatory-fee",
        "regulatory and clearing fees per option contract, USD",
        allow_inf_nan=False,
    )
    contracts_per_trade: int = _setting(
        env.CONTRACTS_PER_TRADE,
        "--contracts-per-trade",
        "contracts one buy takes at most; the risk budget sizes each buy below this",
    )
    max_contracts_per_position: int = _setting(
        env.MAX_CONTRACTS_PER_POSITION, "--max-contracts", "most contracts held in any one option"
    )
    max_open_positions: int = _setting(env.MAX_OPEN_POSITIONS, "--max-positions", "most distinct options held at once")
    expiry_cutoff_minutes: float = _setting(
        env.EXPIRY_CUTOFF_MINUTES,
        "--expiry-cutoff",
        "sell positions expiring today at the bid this many minutes before the 16:00 close; 0 holds them "
        "to cash settlement at intrinsic value",
        allow_inf_nan=False,
    )
    max_data_age_s: float = _setting(
        env.MAX_DATA_AGE,
        "--max-data-age",
        "data that arrived more than this many seconds ago (or is stamped that old) makes an underlying untradable",
        allow_inf_nan=False,
    )
    future_tolerance_s: float = _setting(
        env.FUTURE_TOLERANCE,
        "--future-tolerance",
        "data stamped more than this many seconds ahead of this machine's clock is refused (counted, logged)",
        allow_inf_nan=False,
    )
    option_spread_abs: float = _setting(
        env.OPTION_SPREAD_ABS,
        "--option-spread-abs",
        "widest option spread traded on or marked at: this many USD plus OPTION_SPREAD_REL of the mid",
        allow_inf_nan=False,
    )
    option_spread_rel: float = _setting(
        env.OPTION_SPREAD_REL,
        "--option-spread-rel",
        "the part of the widest option spread that grows with the mid (0.04: 4 %)",
        allow_inf_nan=False,
    )
    stock_spread_abs: float = _setting(
        env.STOCK_SPREAD_ABS,
        "--stock-spread-abs",
        "widest underlying spread trusted for marks, entries and settlement: this many USD plus STOCK_SPREAD_REL "
        "of the mid",
        allow_inf_nan=False,
    )
    stock_spread_rel: float = _setting(
        env.STOCK_SPREAD_REL,
        "--stock-spread-rel",
        "the part of the widest underlying spread that grows with the mid (0.002: 0.2 %)",
        allow_inf_nan=False,
    )
    max_drawdown_pct: float = _setting(
        env.MAX_DRAWDOWN_PERCENT,
        "--max-drawdown",
        "drawdown protection: entries stop for DRAWDOWN_COOLDOWN_SESSIONS once equity is this many percent below "
        "its high over the last DRAWDOWN_LOOKBACK_SESSIONS sessions (100: never)",
        allow_inf_nan=False,
    )
    risk_trade_pct: float = _setting(
        env.RISK_TRADE_PERCENT, "--risk-trade", "premium one buy may commit, percent of equity", allow_inf_nan=False
    )
    risk_position_pct: float = _setting(
        env.RISK_POSITION_PERCENT,
        "--risk-position",
        "premium at risk in one option (its marked value), percent of equity",
        allow_inf_nan=False,
    )
    risk_underlying_pct: float = _setting(
        env.RISK_UNDERLYING_PERCENT,
        "--risk-underlying",
        "premium at risk in one underlying's options, percent of equity",
        allow_inf_nan=False,
    )
    risk_total_pct: float = _setting(
        env.RISK_TOTAL_PERCENT,
        "--risk-total",
        "premium at risk in the whole account, percent of equity",
        allow_inf_nan=False,
    )
    capital_floor_pct: float = _setting(
        env.CAPITAL_FLOOR_PERCENT,
        "--capital-floor",
        "no buy takes cash below this percent of the initial capital (equity never falls below cash; 0: off)",
        allow_inf_nan=False,
    )
    daily_loss_pct: float = _setting(
        env.DAILY_LOSS_PERCENT,
        "--daily-loss",
        "entries stop until the next session once equity is this many percent below the last close (100: never)",
        allow_inf_nan=False,
    )
    drawdown_lookback_sessions: int = _setting(
        env.DRAWDOWN_LOOKBACK_SESSIONS, "--drawdown-lookback", "sessions whose highest equity the drawdown is from"
    )
    drawdown_cooldown_sessions: int = _setting(
        env.DRAWDOWN_COOLDOWN_SESSIONS,
        "--drawdown-cooldown",
        "whole sessions without entries after the drawdown protection trips; then it lifts",
    )
    suspend: bool = _setting(
        env.SUSPEND, "--suspend", "open no new positions (open ones are still managed); see CONTROL_DIR"
    )
    control_dir: Path | None = _setting(
        env.CONTROL_DIR,
        "--control-dir",
        "directory polled every few seconds for a SUSPEND file (true/false) that overrides SUSPEND while present",
    )
    log_dir: Path | None = _setting(
        env.LOG_DIR, "--log-dir", "also write the log to bot.log here (rotated at 10 MB, 5 files kept)"
    )

    http_host: str = _setting(env.HTTP_HOST, "--host", "address the HTTP server binds")
    http_port: int = _setting(
        env.HTTP_PORT, "--port", "port of /health, /ready, /status and /metrics (0: any free port, logged)"
    )
    health_stall_s: float = _setting(
        env.HEALTH_STALL_AFTER,
        "--health-stall-after",
        "/health fails when no step completed for this many seconds (at least three step intervals are always allowed)",
        allow_inf_nan=False,
    )
    update_frequency: int = _setting(
        env.UPDATE_FREQUENCY, "--update-frequency", "steps of fresh experience per PPO update"
    )
    save_frequency: int = _setting(env.SAVE_FREQUENCY, "--save-frequency", "steps between checkpoints")
    checkpoint_dir: Path = _setting(
        env.CHECKPOINT_DIR,
        "--checkpoint-dir",
        "directory of checkpoints, resumed from at start (the /checkpoints volume)",
    )
    journal: str | None = _setting(
        env.JOURNAL,
        "--journal",
        "the trade journal, the account's book of record: a SQLite file, a postgresql:// URL (give it in the "
        "environment: it holds a password) or memory (nothing kept); unset: journal.sqlite in the checkpoint "
        "directory",
    )
    checkpoint_keep: int = _setting(env.CHECKPOINT_KEEP, "--checkpoint-keep", "newest checkpoints kept")
    model_dir: Path | None = _setting(
        env.MODEL_DIR, "--model-dir", "read-only directory whose newest checkpoint seeds a bot without checkpoints"
    )
    device: Literal["cpu", "cuda", "auto"] = _setting(
        env.DEVICE, "--device", "where the agent runs: cpu, cuda, or auto (CUDA if present)"
    )
    gpu_count: int = _setting(
        env.GPU_COUNT,
        "--gpu-count",
        "GPUs reserved for this bot (the operator sets it): DEVICE=auto without a visible one is reported, "
        "not silently run on the CPU",
    )
    feature_hidden: int = _setting(env.FEATURE_HIDDEN, "--feature-hidden", "feature LSTM size")
    mlp_hidden: int = _setting(env.MLP_HIDDEN, "--mlp-hidden", "size of the MLP between the LSTMs")
    policy_hidden: int = _setting(env.POLICY_HIDDEN, "--policy-hidden", "policy LSTM size")
    window: int = _setting(env.SEQUENCE_WINDOW, "--window", "steps per training sequence (truncated BPTT)")
    learning_rate: float = _setting(env.LEARNING_RATE, "--learning-rate", "Adam's step size", allow_inf_nan=False)
    gamma: float = _setting(env.GAMMA, "--gamma", "discount per step", allow_inf_nan=False)
    gae_lambda: float = _setting(env.GAE_LAMBDA, "--gae-lambda", "GAE's lambda", allow_inf_nan=False)
    clip_range: float = _setting(env.CLIP_RANGE, "--clip-range", "PPO's ratio clip", allow_inf_nan=False)
    ppo_epochs: int = _setting(env.PPO_EPOCHS, "--ppo-epochs", "passes over each fresh rollout")
    ppo_minibatches: int = _setting(env.PPO_MINIBATCHES, "--ppo-minibatches", "minibatches per pass")
    value_coef: float = _setting(env.VALUE_COEF, "--value-coef", "weight of the value loss", allow_inf_nan=False)
    entropy_coef: float = _setting(
        env.ENTROPY_COEF, "--entropy-coef", "weight of the entropy bonus", allow_inf_nan=False
    )
    max_grad_norm: float = _setting(
        env.MAX_GRAD_NORM, "--max-grad-norm", "gradients are clipped to this global norm", allow_inf_nan=False
    )
    target_kl: float = _setting(
        env.TARGET_KL,
        "--target-kl",
        "a rollout's epochs stop once the mean approximate KL exceeds this (0: never)",
        allow_inf_nan=False,
    )
    hold_prior: float = _setting(
        env.HOLD_PRIOR,
        "--hold-prior",
        "probability with which a fresh network (nothing to resume) holds; 0: uniform over the 31 actions",
        allow_inf_nan=False,
    )
    bot_name: str = _setting(env.BOT_NAME, "--bot-name", "this bot's name (the TradingBot's name)")
    s3_bucket: str | None = _setting(
        env.S3_BUCKET, "--s3-bucket", "mirror checkpoints to this S3 bucket (unset: local only)"
    )
    s3_endpoint_url: str | None = _setting(
        env.S3_ENDPOINT_URL, "--s3-endpoint", "S3 endpoint URL for S3-compatible stores (unset: AWS)"
    )
    s3_prefix: str | None = _setting(env.S3_PREFIX, "--s3-prefix", "key prefix in the bucket (unset: the bot name)")
    s3_region: str = _setting(env.S3_REGION, "--s3-region", "S3 region")
    s3_access_key: SecretStr | None = _secret(env.S3_ACCESS_KEY, "S3 access key id (environment only)")
    s3_secret_key: SecretStr | None = _secret(env.S3_SECRET_KEY, "S3 secret access key (environment only)")
    massive_api_key: SecretStr | None = _secret(env.MASSIVE_API_KEY, "Massive API key (environment only)")

    @model_validator(mode="after")
    def _source_needs(self) -> Settings:
        if self.source == "massive" and not (self.massive_api_key and self.massive_api_key.get_secret_value()):
            raise ValueError("--source massive needs the API key in MASSIVE_API_KEY")
        if self.source == "replay" and self.replay_file is None:
            raise ValueError("--source replay needs --replay-file/REPLAY_FILE")
        if self.record_file is not None and self.source != "massive":
            raise ValueError("--record/RECORD records a Massive session: use it with --source massive")
        return self

    def secret_values(self) -> list[str]:
        """Every credential the settings hold, for redaction: the value of each secret setting (the
        contract's ``secret`` variables), and of one that is a URL (the journal), its password."""
        values = []
        for name in secret_settings():
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                values.append(value.get_secret_value())
            elif isinstance(value, str):
                values.append(url_password(value) or "")
        return [value for value in values if value]

    def massive_urls(self) -> tuple[str, str]:
        """The stocks and options WebSocket URLs."""
        return stream_urls(self.massive_feed, self.massive_ws_url)

    @property
    def seconds_between_steps(self) -> float:
        """Seconds the loop waits between two steps: the setting, else 60 on Massive data and 0 otherwise."""
        if self.step_interval_s is not None:
            return self.step_interval_s
        return 60.0 if self.source == "massive" else 0.0

    @field_validator("symbols", mode="before")
    @classmethod
    def _split_symbols(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("symbols")
    @classmethod
    def _check_symbols(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one symbol is required, e.g. SPY,QQQ")
        if len(value) > env.MAX_SYMBOLS:
            raise ValueError(f"at most {env.MAX_SYMBOLS} symbols, got {len(value)}")
        bad = [s for s in value if not SYMBOL_PATTERN.match(s)]
        if bad:
            raise ValueError(f"not upper-case tickers: {', '.join(bad)} (expected e.g. SPY or BRK.B)")
        if len(set(value)) != len(value):
            raise ValueError(f"duplicate symbols in {','.join(value)}")
        return value

    @field_validator("log_level", "policy", "source", "market_preset", "device", "massive_feed", mode="before")
    @classmethod
    def _normalise_case(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str):
            return value.strip().upper() if info.field_name == "log_level" else value.strip().lower()
        return value


def secret_settings() -> tuple[str, ...]:
    """The settings whose variable the contract marks secret (its source is ``secret``): credentials, and
    the journal, whose URL may hold a password."""
    variables = env.by_name()
    return tuple(name for name, (variable, _) in setting_sources().items() if variables[variable].source == "secret")


def setting_sources() -> dict[str, tuple[str, str]]:
    """Each setting's (environment variable, flag); the flag is empty for environment-only secrets."""
    sources = {}
    for name, field in Settings.model_fields.items():
        extra = field.json_schema_extra
        assert isinstance(extra, dict)
        sources[name] = (str(extra["env"]), str(extra["flag"]))
    return sources


def load_settings(environ: Mapping[str, str], overrides: Mapping[str, object] | None = None) -> Settings:
    """Settings from ``environ`` (variables) and ``overrides`` (flags, by field name; ``None`` = not given)."""
    raw: dict[str, object] = {}
    sources = setting_sources()
    for name, (variable, flag) in sources.items():
        value = (overrides or {}).get(name) if flag else None
        if value is None and environ.get(variable, "").strip():
            value = environ[variable]
        if value is not None:
            raw[name] = value
    try:
        return Settings.model_validate(raw)
    except ValidationError as error:
        problems = []
        for problem in error.errors():
            if not problem["loc"]:  # a rule across settings: its message names them
                problems.append(str(problem["msg"]).removeprefix("Value error, "))
                continue
            field = str(problem["loc"][0])
            variable, flag = sources.get(field, (field, ""))
            given = "(hidden)" if field in secret_settings() else repr(raw.get(field))
            problems.append(f"{variable}{' / ' + flag if flag else ''}: {problem['msg']} (got {given})")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from None
