"""The TradingBot spec as a validated, typed model.

The CRD's schema rejects most mistakes at ``kubectl apply``; this model re-checks everything (an old
CRD enforces less) and adds the rules a schema cannot express, such as requests not exceeding limits.
Types are strict: ``"100000"`` is not a number and ``"yes"`` is not a boolean. The bot's settings take
their defaults and bounds from the contract (:mod:`tradingbot_contract.env`), as the CRD does; a test
holds the three together.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from tradingbot_contract import env

IMAGE_REPOSITORY = "ghcr.io/tradingbot-dev/tradingbot-bot"
"""Where the release workflow publishes the bot image: ``<version>`` (CPU) and ``<version>-cuda``."""
NAME_PATTERN = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
MAX_NAME_LENGTH = 52  # children are named <name>-checkpoints (12 more), under the 63-character label limit

Ticker = Annotated[str, StringConstraints(pattern=env.TICKER_PATTERN)]
Size = Annotated[str, StringConstraints(pattern=r"^[0-9]+(Ki|Mi|Gi|Ti)$")]
SecretKey = Annotated[str, StringConstraints(min_length=1, pattern=r"^[-._a-zA-Z0-9]+$")]
SecretName = Annotated[
    str, StringConstraints(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$")
]
ObjectName = SecretName
"""A DNS subdomain: the name of a ServiceAccount, Secret or PriorityClass."""
LabelKey = Annotated[
    str,
    StringConstraints(
        max_length=316,
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$",
    ),
]
LabelValue = Annotated[str, StringConstraints(max_length=63, pattern=r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")]
RESERVED_LABEL_PREFIXES = ("app.kubernetes.io/", "tradingbot.dev/")
"""Pod labels the operator owns: selectors, discovery and the NetworkPolicy rely on them."""

_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
_SUFFIX = {
    None: Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
}


class InvalidSpecError(ValueError):
    """The spec cannot be reconciled; the message says what to fix."""


def quantity(value: str | int) -> Decimal:
    """A Kubernetes quantity (``500m``, ``4Gi``, ``2``) as a number of base units (cores or bytes)."""
    match = _QUANTITY.match(str(value))
    if match is None:
        raise ValueError(f"{value!r} is not a Kubernetes quantity such as 500m, 2 or 4Gi")
    try:
        return Decimal(match.group(1)) * _SUFFIX[match.group(2)]
    except InvalidOperation as error:  # pragma: no cover - the pattern admits only decimals
        raise ValueError(f"{value!r} is not a Kubernetes quantity") from error


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, strict=True)


def _setting(variable: env.Variable, required: bool = False) -> Any:  # noqa: ANN401 - pydantic's Field is Any
    """A field that sets the bot's ``variable``: its default and bounds from the contract, its alias the
    last part of the variable's spec path."""
    assert variable.spec is not None, f"{variable.name} is not set from a TradingBot"
    default = ... if required else variable.default
    return Field(default, alias=variable.spec.rsplit(".", 1)[-1], **variable.constraints())


def _group(model: type[BaseModel], alias: str | None = None) -> Any:  # noqa: ANN401 - pydantic's Field
    """An object field defaulting to ``model`` with all its defaults (the CRD's ``default: {}``)."""
    return Field(default_factory=lambda: model.model_validate({}), alias=alias)


class Gpu(_Model):
    count: int = Field(0, ge=0, le=8)
    node_selector: dict[str, str] = Field(default_factory=dict, alias="nodeSelector")


class CpuMemory(_Model):
    cpu: str | int
    memory: str | int


class Resources(_Model):
    requests: CpuMemory = CpuMemory(cpu="2", memory="4Gi")
    limits: CpuMemory = CpuMemory(cpu="4", memory="8Gi")

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        for field in ("cpu", "memory"):
            request, limit = getattr(self.requests, field), getattr(self.limits, field)
            try:
                too_much = quantity(request) > quantity(limit)
            except ValueError as error:
                raise ValueError(f"{field}: {error}") from None
            if too_much:
                raise ValueError(f"requests.{field} ({request}) exceeds limits.{field} ({limit})")
        return self


class Volume(_Model):
    size: Size
    storage_class_name: str | None = Field(None, alias="storageClassName", min_length=1)


class CheckpointVolume(Volume):
    keep: int = _setting(env.CHECKPOINT_KEEP)


class Storage(_Model):
    retention_policy: Literal["Retain", "Delete"] = Field("Retain", alias="retentionPolicy")
    storage_class_name: str | None = Field(None, alias="storageClassName", min_length=1)
    models: Volume = Field(default_factory=lambda: Volume.model_validate({"size": "10Gi"}))
    checkpoints: CheckpointVolume = Field(default_factory=lambda: CheckpointVolume.model_validate({"size": "50Gi"}))
    logs: Volume = Field(default_factory=lambda: Volume.model_validate({"size": "20Gi"}))

    @model_validator(mode="before")
    @classmethod
    def _default_sizes(cls, data: Any) -> Any:  # noqa: ANN401 - pydantic hands over raw input
        """A volume given without ``size`` keeps its default size (as the CRD's defaulting does)."""
        if isinstance(data, dict):
            data = dict(data)
            for volume, size in (("models", "10Gi"), ("checkpoints", "50Gi"), ("logs", "20Gi")):
                if isinstance(data.get(volume), dict):
                    data[volume] = {"size": size, **data[volume]}
        return data

    def class_of(self, volume: Volume) -> str | None:
        """The storage class of ``volume``: its own, else the shared one, else the cluster default (None)."""
        return volume.storage_class_name or self.storage_class_name


class Toleration(_Model):
    key: LabelKey | None = None
    operator: Literal["Exists", "Equal"] = "Equal"
    value: LabelValue | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = Field(None, alias="tolerationSeconds")

    @model_validator(mode="after")
    def _consistent(self) -> Toleration:
        if self.operator == "Exists" and self.value:
            raise ValueError("a toleration with operator Exists takes no value")
        if self.key is None and self.operator != "Exists":
            raise ValueError("a toleration without a key must use operator Exists")
        if self.toleration_seconds is not None and self.effect != "NoExecute":
            raise ValueError("tolerationSeconds applies only to effect NoExecute")
        return self

    def manifest(self) -> dict[str, Any]:
        """The toleration as the pod spec takes it."""
        return self.model_dump(by_alias=True, exclude_none=True)


class LocalObjectReference(_Model):
    name: ObjectName


class LabelSelector(_Model):
    match_labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, alias="matchLabels")


class PrometheusPeer(_Model):
    namespace_selector: LabelSelector = Field(
        default_factory=lambda: LabelSelector.model_validate(
            {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
        ),
        alias="namespaceSelector",
    )
    pod_selector: LabelSelector = Field(
        default_factory=lambda: LabelSelector.model_validate({"matchLabels": {"app.kubernetes.io/name": "prometheus"}}),
        alias="podSelector",
    )


class NetworkPolicySpec(_Model):
    enabled: bool = True
    prometheus: PrometheusPeer = _group(PrometheusPeer)


class SecretKeyRef(_Model):
    name: SecretName
    key: SecretKey = "MASSIVE_API_KEY"


class MarketData(_Model):
    source: Literal["sim", "massive", "replay"] = _setting(env.MARKET_SOURCE)
    feed: Literal["realtime", "delayed"] = _setting(env.MASSIVE_FEED)
    decision_interval_seconds: float | None = _setting(env.STEP_INTERVAL)
    """Unset: the bot's own (60 s on Massive data, none on the simulator and replays)."""
    websocket_url: str | None = _setting(env.MASSIVE_WS_URL)
    rest_url: str = _setting(env.MASSIVE_REST_URL)
    chain_refresh_seconds: float = _setting(env.CHAIN_REFRESH)
    replay_file: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][-_.A-Za-z0-9/]*$", max_length=255)] | None = (
        _setting(env.REPLAY_FILE)
    )
    replay_step_seconds: float = _setting(env.REPLAY_STEP)
    simulator_preset: Literal["realistic", "trending", "small-edge"] = _setting(env.MARKET_PRESET)
    steps_per_day: int = _setting(env.STEPS_PER_DAY)
    seed: int = _setting(env.SEED)
    credentials_secret_ref: SecretKeyRef | None = Field(None, alias="credentialsSecretRef")

    @model_validator(mode="after")
    def _credentials_for_massive(self) -> MarketData:
        if self.source == "massive" and self.credentials_secret_ref is None:
            raise ValueError("credentialsSecretRef is required when source is massive")
        if self.source == "replay" and self.replay_file is None:
            raise ValueError("replayFile is required when source is replay")
        if self.replay_file is not None and ".." in self.replay_file.split("/"):
            raise ValueError("replayFile must stay inside the models volume (no '..')")
        return self


class S3Credentials(_Model):
    name: SecretName
    access_key_id_key: SecretKey = Field("S3_ACCESS_KEY", alias="accessKeyIdKey")
    secret_access_key_key: SecretKey = Field("S3_SECRET_KEY", alias="secretAccessKeyKey")


class S3(_Model):
    bucket: str = _setting(env.S3_BUCKET, required=True)
    endpoint: str | None = _setting(env.S3_ENDPOINT_URL)
    prefix: str | None = _setting(env.S3_PREFIX)
    """Unset: ``<namespace>/<name>``."""
    region: str = _setting(env.S3_REGION)
    credentials_secret_ref: S3Credentials | None = Field(None, alias="credentialsSecretRef")


class JournalSecretRef(_Model):
    name: SecretName
    key: SecretKey = "JOURNAL"


class Journal(_Model):
    postgres_secret_ref: JournalSecretRef | None = Field(None, alias="postgresSecretRef")
    """A Secret holding a ``postgresql://`` URL; unset, the journal is a SQLite file on the checkpoints volume."""


class Trading(_Model):
    """Order size and what each contract costs (USD per contract, each side)."""

    contracts_per_trade: int = _setting(env.CONTRACTS_PER_TRADE)
    commission_per_contract: float = _setting(env.COMMISSION_PER_CONTRACT)
    regulatory_fee_per_contract: float = _setting(env.REGULATORY_FEE_PER_CONTRACT)


class Risk(_Model):
    """Limits the bot's action mask enforces: no action they forbid can be chosen."""

    trade_percent: float = _setting(env.RISK_TRADE_PERCENT)
    position_percent: float = _setting(env.RISK_POSITION_PERCENT)
    underlying_percent: float = _setting(env.RISK_UNDERLYING_PERCENT)
    total_percent: float = _setting(env.RISK_TOTAL_PERCENT)
    capital_floor_percent: float = _setting(env.CAPITAL_FLOOR_PERCENT)
    daily_loss_percent: float = _setting(env.DAILY_LOSS_PERCENT)
    max_drawdown_percent: float = _setting(env.MAX_DRAWDOWN_PERCENT)
    drawdown_lookback_sessions: int = _setting(env.DRAWDOWN_LOOKBACK_SESSIONS)
    drawdown_cooldown_sessions: int = _setting(env.DRAWDOWN_COOLDOWN_SESSIONS)
    max_contracts_per_position: int = _setting(env.MAX_CONTRACTS_PER_POSITION)
    max_open_positions: int = _setting(env.MAX_OPEN_POSITIONS)
    expiry_cutoff_minutes: float = _setting(env.EXPIRY_CUTOFF_MINUTES)


class OptionSpread(_Model):
    absolute: float = _setting(env.OPTION_SPREAD_ABS)
    relative: float = _setting(env.OPTION_SPREAD_REL)


class StockSpread(_Model):
    absolute: float = _setting(env.STOCK_SPREAD_ABS)
    relative: float = _setting(env.STOCK_SPREAD_REL)


class DataQuality(_Model):
    """When the bot refuses market data: too old (by arrival), stamped in the future, or too wide."""

    max_data_age_seconds: float = _setting(env.MAX_DATA_AGE)
    future_tolerance_seconds: float = _setting(env.FUTURE_TOLERANCE)
    option_spread: OptionSpread = _group(OptionSpread, "optionSpread")
    stock_spread: StockSpread = _group(StockSpread, "stockSpread")


class Agent(_Model):
    """The CLSTM-PPO network's sizes (a change starts a new model: old checkpoints no longer fit)."""

    feature_hidden: int = _setting(env.FEATURE_HIDDEN)
    mlp_hidden: int = _setting(env.MLP_HIDDEN)
    policy_hidden: int = _setting(env.POLICY_HIDDEN)
    sequence_window: int = _setting(env.SEQUENCE_WINDOW)


class Learning(_Model):
    """PPO's hyper-parameters and the fresh network's hold prior (they apply from the next start)."""

    learning_rate: float = _setting(env.LEARNING_RATE)
    gamma: float = _setting(env.GAMMA)
    gae_lambda: float = _setting(env.GAE_LAMBDA)
    clip_range: float = _setting(env.CLIP_RANGE)
    epochs: int = _setting(env.PPO_EPOCHS)
    minibatches: int = _setting(env.PPO_MINIBATCHES)
    value_coef: float = _setting(env.VALUE_COEF)
    entropy_coef: float = _setting(env.ENTROPY_COEF)
    max_grad_norm: float = _setting(env.MAX_GRAD_NORM)
    target_kl: float = _setting(env.TARGET_KL)
    hold_prior: float = _setting(env.HOLD_PRIOR)


class Monitoring(_Model):
    service_monitor: Literal["Auto", "Enabled", "Disabled"] = Field("Auto", alias="serviceMonitor")
    labels: dict[str, str] = Field(default_factory=dict)


class TradingBotSpec(_Model):
    """``TradingBot.spec``: money in whole dollars, frequencies in bot steps."""

    symbols: tuple[Ticker, ...] = Field(min_length=1, max_length=env.MAX_SYMBOLS, strict=False)
    initial_capital: float = _setting(env.INITIAL_CAPITAL)
    update_frequency: int = _setting(env.UPDATE_FREQUENCY)
    save_frequency: int = _setting(env.SAVE_FREQUENCY)
    suspend: bool = _setting(env.SUSPEND)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = _setting(env.LOG_LEVEL)
    policy: Literal["ppo", "random", "hold"] = _setting(env.POLICY)
    """``ppo`` learns; ``random`` and ``hold`` are baselines to compare it with."""
    image: str | None = Field(None, min_length=1)
    """Unset: the release's image, its ``-cuda`` tag when GPUs are requested."""
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field("IfNotPresent", alias="imagePullPolicy")
    gpu: Gpu = _group(Gpu)
    resources: Resources = _group(Resources)
    storage: Storage = _group(Storage)
    market_data: MarketData = _group(MarketData, "marketData")
    trading: Trading = _group(Trading)
    risk: Risk = _group(Risk)
    data_quality: DataQuality = _group(DataQuality, "dataQuality")
    agent: Agent = _group(Agent)
    learning: Learning = _group(Learning)
    s3: S3 | None = None
    journal: Journal = _group(Journal)
    monitoring: Monitoring = _group(Monitoring)
    service_account_name: ObjectName | None = Field(None, alias="serviceAccountName")
    image_pull_secrets: tuple[LocalObjectReference, ...] = Field(
        (), alias="imagePullSecrets", max_length=16, strict=False
    )
    node_selector: dict[LabelKey, LabelValue] = Field(default_factory=dict, alias="nodeSelector")
    tolerations: tuple[Toleration, ...] = Field((), max_length=32, strict=False)
    affinity: dict[str, Any] | None = None
    priority_class_name: ObjectName | None = Field(None, alias="priorityClassName")
    pod_annotations: dict[LabelKey, str] = Field(default_factory=dict, alias="podAnnotations")
    pod_labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, alias="podLabels")
    network_policy: NetworkPolicySpec = _group(NetworkPolicySpec, "networkPolicy")

    @model_validator(mode="after")
    def _cross_field_rules(self) -> TradingBotSpec:
        duplicates = sorted({s for s in self.symbols if self.symbols.count(s) > 1})
        if duplicates:
            raise ValueError(f"symbols lists {', '.join(duplicates)} more than once")
        secrets = [s.name for s in self.image_pull_secrets]
        repeated = sorted({name for name in secrets if secrets.count(name) > 1})
        if repeated:
            raise ValueError(f"imagePullSecrets lists {', '.join(repeated)} more than once")
        reserved = sorted(k for k in self.pod_labels if k.startswith(RESERVED_LABEL_PREFIXES))
        if reserved:
            raise ValueError(
                f"podLabels may not set {', '.join(reserved)}: "
                "the operator owns the app.kubernetes.io/ and tradingbot.dev/ labels"
            )
        return self

    def bot_image(self, version: str) -> str:
        """The image the bot runs: ``image``, else the release's own (``-cuda`` with GPUs)."""
        if self.image is not None:
            return self.image
        return f"{IMAGE_REPOSITORY}:{version}{'-cuda' if self.gpu.count > 0 else ''}"


def _location(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def parse_spec(name: str, spec: dict[str, Any]) -> TradingBotSpec:
    """Validate the TradingBot ``name`` and its ``spec``; raise :class:`InvalidSpecError` saying what to fix."""
    if len(name) > MAX_NAME_LENGTH or not NAME_PATTERN.match(name):
        raise InvalidSpecError(
            f"metadata.name {name!r} must be a DNS label of at most {MAX_NAME_LENGTH} characters "
            "(lower-case letters, digits and '-', starting with a letter)"
        )
    try:
        parsed = TradingBotSpec.model_validate(spec)
    except ValidationError as error:
        problems = []
        for item in error.errors(include_url=False):
            where = _location(tuple(item["loc"]))
            message = item["msg"].removeprefix("Value error, ")
            problems.append(f"spec.{where}: {message}" if where else f"spec: {message}")
        raise InvalidSpecError("; ".join(problems)) from None
    return parsed
