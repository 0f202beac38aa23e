"""The CRD: a valid structural schema, defaults that match the operator's model, samples that pass,
and a corpus of invalid TradingBots each rejected with a clear message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

import kube_validation
from tradingbot_operator.spec import InvalidSpecError, TradingBotSpec, parse_spec

ROOT = Path(__file__).resolve().parents[2]

KUBERNETES = "1.32.0"


def bot(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "tradingbot.dev/v1alpha1",
        "kind": "TradingBot",
        "metadata": {"name": "bot"},
        "spec": {"symbols": ["SPY"], **spec},
    }


def test_crd_is_a_valid_kubernetes_object(crd):
    assert kubernetes_validate.validate(crd, KUBERNETES, strict=True)
    assert crd["spec"]["names"]["shortNames"] == ["tb"] and crd["spec"]["scope"] == "Namespaced"
    (version,) = crd["spec"]["versions"]
    assert version["name"] == "v1alpha1" and version["subresources"] == {"status": {}}
    columns = {c["name"]: c.get("priority", 0) for c in version["additionalPrinterColumns"]}
    assert {k for k, p in columns.items() if p == 0} == {"Symbols", "Capital", "Ready", "Value", "Win Rate", "Age"}
    assert {"Reason", "Message", "Trades", "Checkpoint", "GPU"} <= {k for k, p in columns.items() if p == 1}


def _defaults(schema: dict[str, Any]) -> dict[str, Any]:
    """The object the CRD's defaulting produces from ``{}`` for ``schema``."""
    out: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        if "default" in prop:
            value = prop["default"]
            if prop.get("type") == "object":
                value = {**_defaults(prop), **value}
            out[name] = value
    return out


def test_crd_defaults_are_the_operator_defaults(cr_schema):
    spec_schema = cr_schema["properties"]["spec"]
    from_crd = _defaults(spec_schema)
    model = TradingBotSpec.model_validate({"symbols": ["SPY"]}).model_dump(by_alias=True, exclude_none=True)
    for key, value in from_crd.items():
        assert key in model, key
        expected = model[key]
        if isinstance(value, dict):  # every default the CRD sets inside an object is the model's too
            for inner, inner_value in value.items():
                got = expected[inner]
                if isinstance(inner_value, dict):
                    assert {k: got[k] for k in inner_value} == inner_value, (key, inner)
                else:
                    assert got == inner_value, (key, inner)
        else:
            assert expected == value, key


def test_every_sample_passes_the_schema_and_the_operator(samples, cr_schema):
    assert {"minimal.yaml", "options-bot.yaml", "scaling-spy.yaml", "scaling-qqq.yaml", "scaling-aapl.yaml"} <= set(
        samples
    )
    for sample in samples.values():
        admit(sample)
        parse_spec(sample["metadata"]["name"], sample["spec"])
    seed = samples["options-bot.yaml"]["spec"]
    assert seed["symbols"] == ["SPY", "QQQ"] and seed["initialCapital"] == 100_000 and seed["gpu"]["count"] == 1
    scaling = sorted(s["spec"]["symbols"][0] for n, s in samples.items() if n.startswith("scaling-"))
    assert scaling == ["AAPL", "QQQ", "SPY"]


def admit(obj: dict[str, Any], old: dict[str, Any] | None = None, strict: bool = True) -> dict[str, Any]:
    """What the test API server stores for ``obj`` (pruned, defaulted, validated against the CRD)."""
    crd = yaml.safe_load((ROOT / "crds" / "tradingbots.yaml").read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return kube_validation.admit(obj, old, schema, "TradingBot", "tradingbot.dev", strict)


def named(name: str) -> dict[str, Any]:
    return {**bot(), "metadata": {"name": name}}


# (the TradingBot, the API server refuses it (False: only the operator's model can), what the error says)
INVALID: list[tuple[dict[str, Any], bool, str]] = [
    (bot(symbols=["spy"]), True, 'spec.symbols[0]: Invalid value: "spy": spec.symbols[0] in body should match'),
    (bot(symbols=[]), True, "spec.symbols: Invalid value: 0: spec.symbols in body should have at least 1 items"),
    (bot(symbols=[f"S{c}" for c in "ABCDEFGHIJKLMNOPQ"]), True, "spec.symbols: Too many: 17: must have at most 16"),
    (bot(symbols=["SPY", "SPY"]), True, 'spec.symbols[1]: Duplicate value: "SPY"'),
    (bot(symbols=["TOOLONG"]), True, "spec.symbols[0]"),
    (bot(symbols="SPY"), True, "spec.symbols in body must be of type array"),
    ({**bot(), "spec": {"initialCapital": 5000}}, True, "spec.symbols: Required value"),
    ({**bot(), "spec": None}, True, "spec in body must be of type object"),
    (bot(initialCapital=500), True, "spec.initialCapital in body should be greater than or equal to 1000"),
    (bot(initialCapital="100000"), True, "spec.initialCapital in body must be of type number"),
    (bot(initialCapital=2e9), True, "spec.initialCapital in body should be less than or equal to 1000000000"),
    (bot(updateFrequency=0), True, "spec.updateFrequency in body should be greater than or equal to 1"),
    (bot(updateFrequency=20000), True, "spec.updateFrequency in body should be less than or equal to 10000"),
    (bot(updateFrequency=1.5), True, "spec.updateFrequency in body must be of type integer"),
    (bot(saveFrequency=-1), True, "spec.saveFrequency"),
    (bot(suspend="yes"), True, "spec.suspend in body must be of type boolean"),
    (bot(logLevel="TRACE"), True, 'spec.logLevel: Unsupported value: "TRACE"'),
    (bot(policy="greedy"), True, "spec.policy: Unsupported value"),
    (bot(gpu={"count": 9}), True, "spec.gpu.count in body should be less than or equal to 8"),
    (bot(gpu={"count": -1}), True, "spec.gpu.count"),
    (bot(storage={"checkpoints": {"size": "50GB"}}), True, "spec.storage.checkpoints.size in body should match"),
    (bot(storage={"retentionPolicy": "Keep"}), True, "spec.storage.retentionPolicy: Unsupported value"),
    (bot(storage={"checkpoints": {"keep": 0}}), True, "spec.storage.checkpoints.keep"),
    (bot(storage={"storageClassName": ""}), True, "spec.storage.storageClassName in body should be at least 1 chars"),
    (bot(marketData={"source": "ibkr"}), True, "spec.marketData.source: Unsupported value"),
    (
        bot(marketData={"source": "massive"}),
        True,
        "marketData.credentialsSecretRef is required when marketData.source is massive",
    ),
    (bot(marketData={"source": "replay"}), True, "marketData.replayFile is required when marketData.source is replay"),
    (bot(marketData={"feed": "sip"}), True, "spec.marketData.feed: Unsupported value"),
    (bot(marketData={"decisionIntervalSeconds": -1}), True, "spec.marketData.decisionIntervalSeconds"),
    (bot(marketData={"decisionIntervalSeconds": 3601}), True, "spec.marketData.decisionIntervalSeconds"),
    (bot(marketData={"websocketUrl": "http://x"}), True, "spec.marketData.websocketUrl in body should match"),
    (
        bot(marketData={"chainRefreshSeconds": 0}),
        True,
        "spec.marketData.chainRefreshSeconds in body should be greater than 0",
    ),
    (bot(marketData={"seed": 2**32}), True, "spec.marketData.seed"),
    (
        bot(marketData={"source": "replay", "replayFile": "../x"}),
        True,
        "spec.marketData.replayFile in body should match",
    ),
    (
        bot(marketData={"source": "replay", "replayFile": "a/../../etc"}),
        False,
        "replayFile must stay inside the models volume",
    ),
    (bot(s3={"region": "eu-west-1"}), True, "spec.s3.bucket: Required value"),
    (bot(s3={"bucket": "My_Bucket"}), True, "spec.s3.bucket in body should match"),
    (bot(s3={"bucket": "bots", "endpoint": "ftp://x"}), True, "spec.s3.endpoint in body should match"),
    (bot(risk={"maxDrawdownPercent": 0}), True, "spec.risk.maxDrawdownPercent in body should be greater than 0"),
    (bot(risk={"maxDrawdownPercent": 101}), True, "spec.risk.maxDrawdownPercent"),
    (bot(risk={"maxOpenPositions": 0}), True, "spec.risk.maxOpenPositions"),
    (bot(risk={"expiryCutoffMinutes": 390}), True, "spec.risk.expiryCutoffMinutes in body should be less than 390"),
    (bot(dataQuality={"optionSpread": {"relative": 1.5}}), True, "spec.dataQuality.optionSpread.relative"),
    (bot(dataQuality={"futureToleranceSeconds": 301}), True, "spec.dataQuality.futureToleranceSeconds"),
    (bot(trading={"commissionPerContract": -0.01}), True, "spec.trading.commissionPerContract"),
    (bot(agent={"policyHidden": 0}), True, "spec.agent.policyHidden"),
    (bot(agent={"sequenceWindow": 1001}), True, "spec.agent.sequenceWindow"),
    (bot(monitoring={"serviceMonitor": "Yes"}), True, "spec.monitoring.serviceMonitor: Unsupported value"),
    (bot(networkPolicy={"enabled": "true"}), True, "spec.networkPolicy.enabled in body must be of type boolean"),
    (bot(tolerations=[{"operator": "Exists", "value": "x"}]), True, "a toleration with operator Exists takes no value"),
    (
        bot(tolerations=[{"operator": "Equal", "value": "x"}]),
        True,
        "a toleration without a key must use operator Exists",
    ),
    (
        bot(tolerations=[{"key": "a", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}]),
        True,
        "tolerationSeconds applies only to effect NoExecute",
    ),
    (bot(podLabels={"app.kubernetes.io/name": "x"}), True, "podLabels may not set app.kubernetes.io/"),
    (bot(imagePullSecrets=[{"name": "a"}, {"name": "a"}]), True, "spec.imagePullSecrets[1]: Duplicate value"),
    (bot(nodeSelector={"zone": "z" * 64}), True, "spec.nodeSelector.zone: Too long: may not be more than 63"),
    (named("Bot"), True, "metadata.name in body should match"),
    (named("a" * 53), True, "metadata.name: Too long: may not be more than 52"),
    (
        bot(resources={"requests": {"cpu": "8", "memory": "1Gi"}, "limits": {"cpu": "4", "memory": "8Gi"}}),
        False,
        "requests.cpu (8) exceeds limits.cpu (4)",
    ),
    (
        bot(resources={"requests": {"cpu": "1", "memory": "16Gi"}, "limits": {"cpu": "4", "memory": "8Gi"}}),
        False,
        "requests.memory (16Gi) exceeds limits.memory (8Gi)",
    ),
]


def test_there_are_at_least_forty_cases_the_api_server_refuses():
    assert sum(refused for _, refused, _ in INVALID) >= 40


@pytest.mark.parametrize(("obj", "refused", "message"), INVALID, ids=[m[:60] for _, _, m in INVALID])
def test_invalid_bots_are_rejected_with_a_clear_message(obj, refused, message):
    if refused:
        with pytest.raises(kube_validation.Rejection) as rejection:
            admit(obj)
        assert rejection.value.code == 422 and message in rejection.value.message, rejection.value.message
    else:
        admit(obj)  # only the operator can tell: the schema lets it through
    if not isinstance(obj["spec"], dict):
        return  # the operator only ever sees a spec the API server stored
    with pytest.raises(InvalidSpecError) as caught:  # the operator's own model refuses it too
        parse_spec(obj["metadata"]["name"], obj["spec"])
    if not refused:
        assert message in str(caught.value)


def test_an_unknown_field_is_refused_under_strict_field_validation_and_pruned_otherwise():
    with pytest.raises(kube_validation.Rejection) as rejection:
        admit(bot(initalCapital=5000))  # a typo
    assert rejection.value.code == 400 and 'unknown field "spec.initalCapital"' in rejection.value.message
    assert "initalCapital" not in admit(bot(initalCapital=5000), strict=False)["spec"]


def test_the_api_server_fills_in_the_bots_defaults():
    stored = admit(bot())["spec"]
    model = TradingBotSpec.model_validate({"symbols": ["SPY"]}).model_dump(by_alias=True, exclude_none=True)
    for key in ("initialCapital", "risk", "dataQuality", "trading", "agent", "marketData", "policy"):
        assert stored[key] == model[key], key


def test_an_update_that_breaks_a_rule_is_refused():
    old = admit(bot(marketData={"source": "massive", "credentialsSecretRef": {"name": "m"}}))
    broken = {**old, "spec": {**old["spec"], "marketData": {"source": "massive"}}}
    with pytest.raises(kube_validation.Rejection, match="credentialsSecretRef is required"):
        admit(broken, old)


def test_cross_field_rules_are_declared_as_cel(cr_schema):
    market = cr_schema["properties"]["spec"]["properties"]["marketData"]
    massive, replay = market["x-kubernetes-validations"]
    assert "massive" in massive["rule"] and "credentialsSecretRef" in massive["message"]
    assert "replay" in replay["rule"] and "replayFile" in replay["message"]


@pytest.mark.parametrize("name", ["Bot", "a" * 53, "1bot", "bot-"])
def test_names_that_cannot_name_children_are_rejected(name):
    with pytest.raises(InvalidSpecError, match=r"metadata\.name"):
        parse_spec(name, {"symbols": ["SPY"]})


def test_a_replay_reads_only_inside_the_models_volume():
    with pytest.raises(InvalidSpecError, match="inside the models volume"):
        parse_spec("bot", {"symbols": ["SPY"], "marketData": {"source": "replay", "replayFile": "a/../../etc"}})
