"""The bot's environment variables: every name, its default and its rules, written once.

The bot's settings (``tradingbot.config``) are built from these variables, and the operator renders
only these names into a bot's pod (``tradingbot_operator.builders``); a test fails if either side
reads or writes a name this module does not define, or if the TradingBot CRD's defaults and ranges
disagree with them. Defaults are the bot's own; ``None`` means unset. Bounds follow JSON Schema:
``minimum``/``maximum`` are inclusive, the ``exclusive_`` ones are not. Secrets come only from the
environment (a flag would show in ``ps``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

TICKER_PATTERN = r"^[A-Z]{1,5}(\.[A-Z]{1,2})?$"
"""An upper-case US ticker, optionally with a share-class suffix (``BRK.B``)."""
MAX_SYMBOLS = 16
"""Underlyings one bot trades at most (each is a stream of the one shared agent)."""

Type = Literal["string", "integer", "number", "boolean", "list"]
"""A value's type, in JSON Schema's words; ``list`` is comma-separated strings in the environment."""
Source = Literal["spec", "operator", "secret", "local"]
"""Who sets a variable in a pod: a TradingBot field (``spec``), the operator from the pod's layout
(``operator``), a Secret the TradingBot names (``secret``), or nobody: it is for running the bot by hand
(``local``)."""


@dataclass(frozen=True)
class Variable:
    """One environment variable of the bot."""

    name: str
    type: Type
    source: Source
    default: object = None
    spec: str | None = None
    """Where a TradingBot sets it: a dotted path under ``spec`` (``source == "spec"`` only)."""
    minimum: float | None = None
    exclusive_minimum: float | None = None
    maximum: float | None = None
    exclusive_maximum: float | None = None
    pattern: str | None = None
    min_length: int | None = None
    choices: tuple[str, ...] | None = None

    def constraints(self) -> dict[str, Any]:
        """The bounds as pydantic's ``Field`` takes them (``ge``, ``gt``, ``le``, ``lt``, ``pattern``, …); a
        list's ``pattern`` is each item's, so it is left to the list's own validator."""
        named = (
            ("ge", self.minimum),
            ("gt", self.exclusive_minimum),
            ("le", self.maximum),
            ("lt", self.exclusive_maximum),
            ("pattern", None if self.type == "list" else self.pattern),
            ("min_length", self.min_length),
        )
        return {key: value for key, value in named if value is not None}


def _spec(name: str, type: Type, default: object, spec: str, **rules: Any) -> Variable:  # noqa: ANN401
    return Variable(name, type, "spec", default, spec, **rules)


def _operator(name: str, type: Type, default: object = None, **rules: Any) -> Variable:  # noqa: ANN401
    return Variable(name, type, "operator", default, **rules)


def _local(name: str, type: Type, default: object = None, **rules: Any) -> Variable:  # noqa: ANN401
    return Variable(name, type, "local", default, **rules)


SYMBOLS = _spec("SYMBOLS", "list", ("SPY", "QQQ"), "symbols", pattern=TICKER_PATTERN)
INITIAL_CAPITAL = _spec("INITIAL_CAPITAL", "number", 100_000.0, "initialCapital", minimum=1000, maximum=1_000_000_000)
MARKET_SOURCE = _spec("MARKET_SOURCE", "string", "sim", "marketData.source", choices=("sim", "massive", "replay"))
MASSIVE_FEED = _spec("MASSIVE_FEED", "string", "realtime", "marketData.feed", choices=("realtime", "delayed"))
MASSIVE_WS_URL = _spec("MASSIVE_WS_URL", "string", None, "marketData.websocketUrl", pattern=r"^wss?://\S+$")
MASSIVE_REST_URL = _spec(
    "MASSIVE_REST_URL", "string", "https://api.massive.com", "marketData.restUrl", pattern=r"^https?://\S+$"
)
CHAIN_REFRESH = _spec("CHAIN_REFRESH", "number", 60.0, "marketData.chainRefreshSeconds", exclusive_minimum=0)
RECORD = _local("RECORD", "string")
REPLAY_FILE = _spec("REPLAY_FILE", "string", None, "marketData.replayFile")
REPLAY_SPEED = _local("REPLAY_SPEED", "number", 0.0, minimum=0)
REPLAY_STEP = _spec("REPLAY_STEP", "number", 60.0, "marketData.replayStepSeconds", exclusive_minimum=0)
MARKET_PRESET = _spec(
    "MARKET_PRESET",
    "string",
    "realistic",
    "marketData.simulatorPreset",
    choices=("realistic", "trending", "small-edge"),
)
SEED = _spec("SEED", "integer", 0, "marketData.seed", minimum=0, maximum=2**32 - 1)
POLICY = _spec("POLICY", "string", "ppo", "policy", choices=("ppo", "random", "hold"))
MAX_STEPS = _local("MAX_STEPS", "integer", 0, minimum=0)
LOG_LEVEL = _spec("LOG_LEVEL", "string", "INFO", "logLevel", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
LOG_INTERVAL = _local("LOG_INTERVAL", "number", 5.0, exclusive_minimum=0)
STEP_INTERVAL = _spec("STEP_INTERVAL", "number", None, "marketData.decisionIntervalSeconds", minimum=0, maximum=3600)
"""Unset: 60 s on Massive data (one decision a minute), 0 on the simulator and replays (as fast as they go)."""
STEPS_PER_DAY = _spec("STEPS_PER_DAY", "integer", 390, "marketData.stepsPerDay", minimum=1, maximum=23_400)
COMMISSION_PER_CONTRACT = _spec("COMMISSION_PER_CONTRACT", "number", 0.65, "trading.commissionPerContract", minimum=0)
REGULATORY_FEE_PER_CONTRACT = _spec(
    "REGULATORY_FEE_PER_CONTRACT", "number", 0.05, "trading.regulatoryFeePerContract", minimum=0
)
CONTRACTS_PER_TRADE = _spec("CONTRACTS_PER_TRADE", "integer", 10, "trading.contractsPerTrade", minimum=1)
MAX_CONTRACTS_PER_POSITION = _spec(
    "MAX_CONTRACTS_PER_POSITION", "integer", 10, "risk.maxContractsPerPosition", minimum=1
)
MAX_OPEN_POSITIONS = _spec("MAX_OPEN_POSITIONS", "integer", 20, "risk.maxOpenPositions", minimum=1)
EXPIRY_CUTOFF_MINUTES = _spec(
    "EXPIRY_CUTOFF_MINUTES", "number", 45.0, "risk.expiryCutoffMinutes", minimum=0, exclusive_maximum=390
)
MAX_DATA_AGE = _spec("MAX_DATA_AGE", "number", 120.0, "dataQuality.maxDataAgeSeconds", exclusive_minimum=0)
FUTURE_TOLERANCE = _spec(
    "FUTURE_TOLERANCE", "number", 5.0, "dataQuality.futureToleranceSeconds", minimum=0, maximum=300
)
OPTION_SPREAD_ABS = _spec("OPTION_SPREAD_ABS", "number", 0.20, "dataQuality.optionSpread.absolute", minimum=0)
OPTION_SPREAD_REL = _spec(
    "OPTION_SPREAD_REL", "number", 0.04, "dataQuality.optionSpread.relative", minimum=0, maximum=1
)
STOCK_SPREAD_ABS = _spec("STOCK_SPREAD_ABS", "number", 0.05, "dataQuality.stockSpread.absolute", minimum=0)
STOCK_SPREAD_REL = _spec("STOCK_SPREAD_REL", "number", 0.002, "dataQuality.stockSpread.relative", minimum=0, maximum=1)
MAX_DRAWDOWN_PERCENT = _spec(
    "MAX_DRAWDOWN_PERCENT", "number", 10.0, "risk.maxDrawdownPercent", exclusive_minimum=0, maximum=100
)
RISK_TRADE_PERCENT = _spec("RISK_TRADE_PERCENT", "number", 2.0, "risk.tradePercent", exclusive_minimum=0, maximum=100)
RISK_POSITION_PERCENT = _spec(
    "RISK_POSITION_PERCENT", "number", 2.0, "risk.positionPercent", exclusive_minimum=0, maximum=100
)
RISK_UNDERLYING_PERCENT = _spec(
    "RISK_UNDERLYING_PERCENT", "number", 4.0, "risk.underlyingPercent", exclusive_minimum=0, maximum=100
)
RISK_TOTAL_PERCENT = _spec("RISK_TOTAL_PERCENT", "number", 6.0, "risk.totalPercent", exclusive_minimum=0, maximum=100)
CAPITAL_FLOOR_PERCENT = _spec(
    "CAPITAL_FLOOR_PERCENT", "number", 80.0, "risk.capitalFloorPercent", minimum=0, exclusive_maximum=100
)
DAILY_LOSS_PERCENT = _spec(
    "DAILY_LOSS_PERCENT", "number", 2.0, "risk.dailyLossPercent", exclusive_minimum=0, maximum=100
)
DRAWDOWN_LOOKBACK_SESSIONS = _spec(
    "DRAWDOWN_LOOKBACK_SESSIONS", "integer", 5, "risk.drawdownLookbackSessions", minimum=1, maximum=250
)
DRAWDOWN_COOLDOWN_SESSIONS = _spec(
    "DRAWDOWN_COOLDOWN_SESSIONS", "integer", 2, "risk.drawdownCooldownSessions", minimum=1, maximum=250
)
SUSPEND = _spec("SUSPEND", "boolean", False, "suspend")
CONTROL_DIR = _operator("CONTROL_DIR", "string")
LOG_DIR = _operator("LOG_DIR", "string")
HTTP_HOST = _operator("HTTP_HOST", "string", "0.0.0.0")  # noqa: S104 - in a pod the probes and Prometheus connect from outside
HTTP_PORT = _operator("HTTP_PORT", "integer", 8000, minimum=0, maximum=65535)
HEALTH_STALL_AFTER = _local("HEALTH_STALL_AFTER", "number", 60.0, exclusive_minimum=0)
UPDATE_FREQUENCY = _spec("UPDATE_FREQUENCY", "integer", 100, "updateFrequency", minimum=1, maximum=10_000)
SAVE_FREQUENCY = _spec("SAVE_FREQUENCY", "integer", 1000, "saveFrequency", minimum=1, maximum=10_000_000)
CHECKPOINT_DIR = _operator("CHECKPOINT_DIR", "string", Path("checkpoints"))
JOURNAL = Variable("JOURNAL", "string", "secret", min_length=1)
"""A ``postgresql://`` URL with its password: from a Secret; unset, SQLite in ``CHECKPOINT_DIR``."""
CHECKPOINT_KEEP = _spec("CHECKPOINT_KEEP", "integer", 5, "storage.checkpoints.keep", minimum=1, maximum=1000)
MODEL_DIR = _operator("MODEL_DIR", "string")
DEVICE = _operator("DEVICE", "string", "cpu", choices=("cpu", "cuda", "auto"))
GPU_COUNT = _operator("GPU_COUNT", "integer", 0, minimum=0, maximum=8)
FEATURE_HIDDEN = _spec("FEATURE_HIDDEN", "integer", 128, "agent.featureHidden", minimum=1, maximum=4096)
MLP_HIDDEN = _spec("MLP_HIDDEN", "integer", 128, "agent.mlpHidden", minimum=1, maximum=4096)
POLICY_HIDDEN = _spec("POLICY_HIDDEN", "integer", 256, "agent.policyHidden", minimum=1, maximum=4096)
SEQUENCE_WINDOW = _spec("SEQUENCE_WINDOW", "integer", 30, "agent.sequenceWindow", minimum=1, maximum=1000)
LEARNING_RATE = _spec("LEARNING_RATE", "number", 3e-4, "learning.learningRate", exclusive_minimum=0, maximum=1)
GAMMA = _spec("GAMMA", "number", 0.99, "learning.gamma", minimum=0, maximum=1)
GAE_LAMBDA = _spec("GAE_LAMBDA", "number", 0.95, "learning.gaeLambda", minimum=0, maximum=1)
CLIP_RANGE = _spec("CLIP_RANGE", "number", 0.2, "learning.clipRange", exclusive_minimum=0, maximum=1)
PPO_EPOCHS = _spec("PPO_EPOCHS", "integer", 4, "learning.epochs", minimum=1, maximum=100)
PPO_MINIBATCHES = _spec("PPO_MINIBATCHES", "integer", 4, "learning.minibatches", minimum=1, maximum=1024)
VALUE_COEF = _spec("VALUE_COEF", "number", 0.5, "learning.valueCoef", minimum=0, maximum=100)
ENTROPY_COEF = _spec("ENTROPY_COEF", "number", 0.001, "learning.entropyCoef", minimum=0, maximum=1)
MAX_GRAD_NORM = _spec("MAX_GRAD_NORM", "number", 0.5, "learning.maxGradNorm", exclusive_minimum=0, maximum=100)
TARGET_KL = _spec("TARGET_KL", "number", 0.03, "learning.targetKL", minimum=0, maximum=10)
"""0: the epochs never stop early."""
HOLD_PRIOR = _spec("HOLD_PRIOR", "number", 0.99, "learning.holdPrior", minimum=0, exclusive_maximum=1)
"""The probability with which a fresh network (no checkpoint, no initial weights) holds; 0: uniform."""
BOT_NAME = _operator("BOT_NAME", "string", "tradingbot", pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
S3_BUCKET = _spec("S3_BUCKET", "string", None, "s3.bucket", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
S3_ENDPOINT_URL = _spec("S3_ENDPOINT_URL", "string", None, "s3.endpoint", pattern=r"^https?://\S+$")
S3_PREFIX = _spec("S3_PREFIX", "string", None, "s3.prefix", pattern=r"^[^\s]{0,512}$")
S3_REGION = _spec("S3_REGION", "string", "us-east-1", "s3.region", min_length=1)
S3_ACCESS_KEY = Variable("S3_ACCESS_KEY", "string", "secret")
S3_SECRET_KEY = Variable("S3_SECRET_KEY", "string", "secret")
MASSIVE_API_KEY = Variable("MASSIVE_API_KEY", "string", "secret")

PLATFORM_VARIABLES = ("CUDA_VISIBLE_DEVICES",)
"""Set by the container runtime (the GPU device plugin), never by the operator; the bot reads it only to
explain a GPU it cannot see."""

NUMERIC_LIBRARY_VARIABLES: dict[str, str] = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
"""Set by the operator in every pod and read by OpenMP, OpenBLAS and MKL, not by the bot: one trading
thread gains nothing from their pools (measured: a 16-symbol bot made 138 steps/s with OpenBLAS threads
against 151 with one, and used 1.5 cores instead of 1)."""

VARIABLES: tuple[Variable, ...] = (
    SYMBOLS,
    INITIAL_CAPITAL,
    MARKET_SOURCE,
    MASSIVE_FEED,
    MASSIVE_WS_URL,
    MASSIVE_REST_URL,
    CHAIN_REFRESH,
    RECORD,
    REPLAY_FILE,
    REPLAY_SPEED,
    REPLAY_STEP,
    MARKET_PRESET,
    SEED,
    POLICY,
    MAX_STEPS,
    LOG_LEVEL,
    LOG_INTERVAL,
    STEP_INTERVAL,
    STEPS_PER_DAY,
    COMMISSION_PER_CONTRACT,
    REGULATORY_FEE_PER_CONTRACT,
    CONTRACTS_PER_TRADE,
    MAX_CONTRACTS_PER_POSITION,
    MAX_OPEN_POSITIONS,
    EXPIRY_CUTOFF_MINUTES,
    MAX_DATA_AGE,
    FUTURE_TOLERANCE,
    OPTION_SPREAD_ABS,
    OPTION_SPREAD_REL,
    STOCK_SPREAD_ABS,
    STOCK_SPREAD_REL,
    MAX_DRAWDOWN_PERCENT,
    RISK_TRADE_PERCENT,
    RISK_POSITION_PERCENT,
    RISK_UNDERLYING_PERCENT,
    RISK_TOTAL_PERCENT,
    CAPITAL_FLOOR_PERCENT,
    DAILY_LOSS_PERCENT,
    DRAWDOWN_LOOKBACK_SESSIONS,
    DRAWDOWN_COOLDOWN_SESSIONS,
    SUSPEND,
    CONTROL_DIR,
    LOG_DIR,
    HTTP_HOST,
    HTTP_PORT,
    HEALTH_STALL_AFTER,
    UPDATE_FREQUENCY,
    SAVE_FREQUENCY,
    CHECKPOINT_DIR,
    JOURNAL,
    CHECKPOINT_KEEP,
    MODEL_DIR,
    DEVICE,
    GPU_COUNT,
    FEATURE_HIDDEN,
    MLP_HIDDEN,
    POLICY_HIDDEN,
    SEQUENCE_WINDOW,
    LEARNING_RATE,
    GAMMA,
    GAE_LAMBDA,
    CLIP_RANGE,
    PPO_EPOCHS,
    PPO_MINIBATCHES,
    VALUE_COEF,
    ENTROPY_COEF,
    MAX_GRAD_NORM,
    TARGET_KL,
    HOLD_PRIOR,
    BOT_NAME,
    S3_BUCKET,
    S3_ENDPOINT_URL,
    S3_PREFIX,
    S3_REGION,
    S3_ACCESS_KEY,
    S3_SECRET_KEY,
    MASSIVE_API_KEY,
)
"""Every variable the bot reads, in the order of its settings."""


def by_name() -> dict[str, Variable]:
    """The variables by name."""
    return {variable.name: variable for variable in VARIABLES}
