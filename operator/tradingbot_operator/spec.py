"""The TradingBot spec as a validated, typed model.

The CRD's schema rejects most mistakes at ``kubectl apply``; this model re-checks everything (a test
API server or an old CRD enforces nothing) and adds the rules a schema cannot express, such as requests
not exceeding limits. Defaults here equal the CRD's defaults.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

IMAGE_REPOSITORY = "ghcr.io/tradingbot-dev/tradingbot-bot"
"""Where the release workflow publishes the bot image: ``<version>`` (CPU) and ``<version>-cuda``."""
NAME_PATTERN = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
MAX_NAME_LENGTH = 52  # children are named <name>-checkpoints (12 more), under the 63-character label limit

Ticker = Annotated[str, StringConstraints(pattern=r"^[A-Z]{1,5}$")]
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
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


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


class Storage(_Model):
    retention_policy: Literal["Retain", "Delete"] = Field("Retain", alias="retentionPolicy")
    storage_class_name: str | None = Field(None, alias="storageClassName", min_length=1)
    models: Volume = Field(default_factory=lambda: Volume.model_validate({"size": "10Gi"}))
    checkpoints: Volume = Field(default_factory=lambda: Volume.model_validate({"size": "50Gi"}))
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
    prometheus: PrometheusPeer = Field(default_factory=lambda: PrometheusPeer.model_validate({}))


class SecretKeyRef(_Model):
    name: SecretName
    key: SecretKey = "MASSIVE_API_KEY"


class MarketData(_Model):
    source: Literal["sim", "massive", "replay"] = "sim"
    feed: Literal["realtime", "delayed"] = "realtime"
    decision_interval_seconds: int = Field(60, ge=1, le=3600, alias="decisionIntervalSeconds")
    replay_file: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][-_.A-Za-z0-9/]*$", max_length=255)] | None = (
        Field(None, alias="replayFile")
    )
    simulator_preset: Literal["realistic", "trending"] = Field("realistic", alias="simulatorPreset")
    seed: int = Field(0, ge=0, le=2**32 - 1)
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
    bucket: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    endpoint: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")] | None = None
    prefix: str | None = Field(None, max_length=512)
    region: str = Field("us-east-1", min_length=1)
    credentials_secret_ref: S3Credentials | None = Field(None, alias="credentialsSecretRef")


class JournalSecretRef(_Model):
    name: SecretName
    key: SecretKey = "JOURNAL"


class Journal(_Model):
    postgres_secret_ref: JournalSecretRef | None = Field(None, alias="postgresSecretRef")
    """A Secret holding a ``postgresql://`` URL; unset, the journal is a SQLite file on the checkpoints volume."""


class Risk(_Model):
    max_drawdown_percent: int = Field(25, ge=1, le=100, alias="maxDrawdownPercent")


class Monitoring(_Model):
    service_monitor: Literal["Auto", "Enabled", "Disabled"] = Field("Auto", alias="serviceMonitor")
    labels: dict[str, str] = Field(default_factory=dict)


class TradingBotSpec(_Model):
    """``TradingBot.spec``: money in whole dollars, frequencies in bot steps."""

    symbols: tuple[Ticker, ...] = Field(min_length=1, max_length=16)
    initial_capital: int = Field(100_000, ge=1000, le=1_000_000_000, alias="initialCapital")
    update_frequency: int = Field(100, ge=1, le=10_000, alias="updateFrequency")
    save_frequency: int = Field(1000, ge=1, le=10_000_000, alias="saveFrequency")
    suspend: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", alias="logLevel")
    image: str | None = Field(None, min_length=1)
    """Unset: the release's image, its ``-cuda`` tag when GPUs are requested."""
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field("IfNotPresent", alias="imagePullPolicy")
    gpu: Gpu = Field(default_factory=lambda: Gpu.model_validate({}))
    resources: Resources = Field(default_factory=lambda: Resources.model_validate({}))
    storage: Storage = Field(default_factory=lambda: Storage.model_validate({}))
    market_data: MarketData = Field(default_factory=lambda: MarketData.model_validate({}), alias="marketData")
    s3: S3 | None = None
    journal: Journal = Field(default_factory=lambda: Journal.model_validate({}))
    risk: Risk = Field(default_factory=lambda: Risk.model_validate({}))
    monitoring: Monitoring = Field(default_factory=lambda: Monitoring.model_validate({}))
    service_account_name: ObjectName | None = Field(None, alias="serviceAccountName")
    image_pull_secrets: tuple[LocalObjectReference, ...] = Field((), alias="imagePullSecrets", max_length=16)
    node_selector: dict[LabelKey, LabelValue] = Field(default_factory=dict, alias="nodeSelector")
    tolerations: tuple[Toleration, ...] = Field((), max_length=32)
    affinity: dict[str, Any] | None = None
    priority_class_name: ObjectName | None = Field(None, alias="priorityClassName")
    pod_annotations: dict[LabelKey, str] = Field(default_factory=dict, alias="podAnnotations")
    pod_labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, alias="podLabels")
    network_policy: NetworkPolicySpec = Field(
        default_factory=lambda: NetworkPolicySpec.model_validate({}), alias="networkPolicy"
    )

    @model_validator(mode="after")
    def _cross_field_rules(self) -> TradingBotSpec:
        duplicates = sorted({s for s in self.symbols if self.symbols.count(s) > 1})
        if duplicates:
            raise ValueError(f"symbols lists {', '.join(duplicates)} more than once")
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
