"""The CRD: a valid structural schema, defaults that match the operator's model, samples that pass,
and a corpus of invalid TradingBots each rejected with a clear message."""

from __future__ import annotations

from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from tradingbot_operator.spec import InvalidSpecError, TradingBotSpec, parse_spec

KUBERNETES = "1.32.0"


def schema_errors(schema: dict[str, Any], obj: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft4Validator(schema)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]


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
    for name, sample in samples.items():
        assert schema_errors(cr_schema, sample) == [], name
        parse_spec(sample["metadata"]["name"], sample["spec"])
    seed = samples["options-bot.yaml"]["spec"]
    assert seed["symbols"] == ["SPY", "QQQ"] and seed["initialCapital"] == 100_000 and seed["gpu"]["count"] == 1
    scaling = sorted(s["spec"]["symbols"][0] for n, s in samples.items() if n.startswith("scaling-"))
    assert scaling == ["AAPL", "QQQ", "SPY"]


# (spec changes, the schema catches it (False: CEL or list semantics jsonschema cannot check), message part)
INVALID = [
    ({"symbols": ["spy"]}, True, "symbols[0]"),
    ({"symbols": []}, True, "symbols"),
    ({"symbols": ["SPY", "SPY"]}, False, "SPY more than once"),
    ({"symbols": ["TOOLONG"]}, True, "symbols[0]"),
    ({"initialCapital": 500}, True, "initialCapital"),
    ({"initialCapital": "100000"}, True, "initialCapital"),
    ({"suspend": "yes"}, True, "suspend"),
    ({"updateFrequency": 0}, True, "updateFrequency"),
    ({"updateFrequency": 20000}, True, "updateFrequency"),
    ({"saveFrequency": -1}, True, "saveFrequency"),
    ({"logLevel": "TRACE"}, True, "logLevel"),
    ({"gpu": {"count": 9}}, True, "gpu.count"),
    ({"storage": {"checkpoints": {"size": "50GB"}}}, True, "storage.checkpoints.size"),
    ({"storage": {"retentionPolicy": "Keep"}}, True, "storage.retentionPolicy"),
    ({"marketData": {"source": "ibkr"}}, True, "marketData.source"),
    ({"marketData": {"source": "massive"}}, False, "credentialsSecretRef is required when source is massive"),
    ({"marketData": {"source": "replay"}}, False, "replayFile is required when source is replay"),
    ({"marketData": {"feed": "sip"}}, True, "marketData.feed"),
    ({"marketData": {"decisionIntervalSeconds": -1}}, True, "marketData.decisionIntervalSeconds"),
    ({"s3": {"bucket": "My_Bucket"}}, True, "s3.bucket"),
    ({"s3": {"bucket": "bots", "endpoint": "ftp://x"}}, True, "s3.endpoint"),
    ({"risk": {"maxDrawdownPercent": 0}}, True, "risk.maxDrawdownPercent"),
    ({"monitoring": {"serviceMonitor": "Yes"}}, True, "monitoring.serviceMonitor"),
    (
        {"resources": {"requests": {"cpu": "8", "memory": "1Gi"}, "limits": {"cpu": "4", "memory": "8Gi"}}},
        False,
        "requests.cpu (8) exceeds limits.cpu (4)",
    ),
    (
        {"resources": {"requests": {"cpu": "1", "memory": "16Gi"}, "limits": {"cpu": "4", "memory": "8Gi"}}},
        False,
        "requests.memory (16Gi) exceeds limits.memory (8Gi)",
    ),
]


@pytest.mark.parametrize(("changes", "schema_catches", "message"), INVALID, ids=[m for _, _, m in INVALID])
def test_invalid_bots_are_rejected_with_a_clear_message(cr_schema, changes, schema_catches, message):
    obj = bot(**changes)
    errors = schema_errors(cr_schema, obj)
    assert bool(errors) == schema_catches, errors
    with pytest.raises(InvalidSpecError) as caught:
        parse_spec("bot", obj["spec"])
    assert message in str(caught.value)


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
