"""The environment contract, checked both ways: the bot reads exactly the contract's variables with its
defaults, bounds and choices; the operator writes only contract names, every one a TradingBot sets
comes through a pod unchanged, and the CRD states the bot's own defaults and rules."""

from __future__ import annotations

import ast
import math
import sys
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

from tradingbot.config import Settings, load_settings, setting_sources
from tradingbot_contract import env
from tradingbot_operator import builders
from tradingbot_operator.spec import TradingBotSpec, parse_spec

ROOT = Path(__file__).resolve().parents[2]
OWNER = builders.Owner("options-bot", "trading", "uid-1")
SPEC_VARIABLES = [v for v in env.VARIABLES if v.source == "spec"]

# a valid value other than the default for every variable a TradingBot sets, in the spec's own form
NON_DEFAULT: dict[str, Any] = {
    "SYMBOLS": ["AAPL", "BRK.B"],
    "MASSIVE_WS_URL": "wss://proxy.example/massive",
    "MASSIVE_REST_URL": "https://proxy.example/rest",
    "REPLAY_FILE": "sessions/monday.jsonl.gz",
    "S3_BUCKET": "bots",
    "S3_ENDPOINT_URL": "https://s3.example.com",
    "S3_PREFIX": "team/bot",
    "S3_REGION": "eu-west-1",
    "STEP_INTERVAL": 30.0,
}


def _non_default(variable: env.Variable) -> Any:
    if variable.name in NON_DEFAULT:
        return NON_DEFAULT[variable.name]
    if variable.choices is not None:
        return next(c for c in variable.choices if c != variable.default)
    if variable.type == "boolean":
        return not variable.default
    assert isinstance(variable.default, int | float), variable.name
    value = 2 * variable.default if variable.default else 1
    upper = variable.maximum if variable.maximum is not None else variable.exclusive_maximum
    if upper is not None and value >= upper:
        value = (variable.default + upper) / 2
    return float(value) if variable.type == "number" else int(value)


def _put(document: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        document = document.setdefault(part, {})
    document[last] = value


def _every_setting_changed() -> dict[str, Any]:
    """A TradingBot spec that sets every variable a spec can set, each to a value other than its default."""
    spec: dict[str, Any] = {}
    for variable in SPEC_VARIABLES:
        assert variable.spec is not None
        if variable.name == "MARKET_SOURCE":
            continue  # replay, below: the source that needs REPLAY_FILE
        _put(spec, variable.spec, _non_default(variable))
    spec["marketData"]["source"] = "replay"
    spec["marketData"]["credentialsSecretRef"] = {"name": "massive"}
    spec["s3"]["credentialsSecretRef"] = {"name": "s3"}
    spec["journal"] = {"postgresSecretRef": {"name": "journal"}}
    spec["gpu"] = {"count": 1}
    return spec


def _pod_environment(spec: TradingBotSpec) -> tuple[dict[str, str], set[str]]:
    """The ConfigMap's variables and the names of those that come from Secrets."""
    return builders.config_map(OWNER, spec)["data"], {e["name"] for e in builders.secret_environment(spec)}


# -- the bot ------------------------------------------------------------------------------------


def test_the_bot_reads_exactly_the_contracts_variables_in_its_order():
    assert [variable for variable, _ in setting_sources().values()] == [v.name for v in env.VARIABLES]


def _bounds(field: Any) -> dict[str, Any]:
    found = {}
    for item in field.metadata:
        for key in ("ge", "gt", "le", "lt", "pattern", "min_length"):
            value = getattr(item, key, None)
            if value is not None:
                found[key] = value
    return found


def _choices(annotation: Any) -> set[str] | None:
    for arg in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(arg) is typing.Literal:
            return set(typing.get_args(arg))
    return None


def test_the_bots_defaults_bounds_and_choices_are_the_contracts():
    for (name, (variable_name, flag)), variable in zip(setting_sources().items(), env.VARIABLES, strict=True):
        field = Settings.model_fields[name]
        assert field.default == variable.default, variable_name
        assert _bounds(field) == variable.constraints(), variable_name
        assert _choices(field.annotation) == (set(variable.choices) if variable.choices else None), variable_name
        if not flag:  # environment only: a credential, which a pod gets from a Secret
            assert variable.source == "secret", variable_name


def _environment_reads(path: Path) -> list[str]:
    """The names in every ``os.environ.get(…)``, ``os.environ[…]`` and ``os.getenv(…)`` of a module."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        target = None
        if isinstance(node, ast.Call) and node.args:
            function = ast.unparse(node.func)
            if function in ("os.environ.get", "os.getenv", "environ.get"):
                target = node.args[0]
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) in ("os.environ", "environ"):
            target = node.slice
        if target is None:
            continue
        if isinstance(target, ast.Constant):
            names.append(str(target.value))
        elif isinstance(target, ast.Attribute) and target.attr == "name":
            names.append(getattr(env, ast.unparse(target.value).split(".")[-1]).name)
        else:
            names.append(ast.unparse(target))  # a variable: only config.load_settings may read by variable
    return names


def test_the_bot_reads_no_environment_variable_outside_the_contract():
    allowed = {v.name for v in env.VARIABLES} | set(env.PLATFORM_VARIABLES)
    for path in sorted((ROOT / "bot" / "tradingbot").rglob("*.py")):
        for name in _environment_reads(path):
            if path.name == "config.py" and name == "variable":
                continue  # load_settings: the names of setting_sources(), checked above
            assert name in allowed, f"{path.relative_to(ROOT)} reads {name}, which the contract does not define"


def test_the_contract_imports_only_the_standard_library():
    for path in (ROOT / "contract" / "tradingbot_contract").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            for module in modules:
                top = module.split(".")[0]
                assert top in sys.stdlib_module_names or top == "tradingbot_contract", f"{path.name} imports {module}"


# -- the operator -------------------------------------------------------------------------------


def test_the_operator_writes_only_contract_names_each_from_its_source():
    spec = parse_spec(OWNER.name, _every_setting_changed())
    data, from_secrets = _pod_environment(spec)
    by_source = {
        source: {v.name for v in env.VARIABLES if v.source == source} for source in typing.get_args(env.Source)
    }
    assert set(data) == by_source["spec"] | by_source["operator"] | set(env.NUMERIC_LIBRARY_VARIABLES)
    assert from_secrets == by_source["secret"]
    minimal, minimal_secrets = _pod_environment(parse_spec(OWNER.name, {"symbols": ["SPY"]}))
    assert by_source["operator"] <= set(minimal) and not minimal_secrets
    assert not by_source["local"] & (set(data) | set(minimal))


@pytest.mark.parametrize("variable", SPEC_VARIABLES, ids=lambda v: v.name)
def test_every_setting_a_tradingbot_sets_reaches_the_bot_unchanged(variable):
    spec = parse_spec(OWNER.name, _every_setting_changed())
    data, from_secrets = _pod_environment(spec)
    environment = {**data, **{name: "secret-value" for name in from_secrets}}
    environment["JOURNAL"] = "postgresql://bot@db.example/books"
    settings = load_settings(environment)
    field = next(name for name, (variable_name, _) in setting_sources().items() if variable_name == variable.name)
    got = getattr(settings, field)
    wanted = _non_default(variable) if variable.name != "MARKET_SOURCE" else "replay"
    if variable.name == "REPLAY_FILE":
        wanted = f"/models/{wanted}"
    if isinstance(got, tuple):
        got = list(got)
    if isinstance(got, Path):
        got = str(got)
    if isinstance(wanted, float):
        assert math.isclose(got, wanted), variable.name
    else:
        assert got == wanted, variable.name


def test_the_operators_model_defaults_are_the_contracts():
    dumped = TradingBotSpec.model_validate({"symbols": ["SPY"], "s3": {"bucket": "bots"}}).model_dump(by_alias=True)
    for variable in SPEC_VARIABLES:
        if variable.name in ("SYMBOLS", "S3_BUCKET"):
            continue  # required: no default
        value: Any = dumped
        for part in str(variable.spec).split("."):
            value = value[part]
        assert value == variable.default, variable.name


# -- the CRD ------------------------------------------------------------------------------------

CRD_TYPES = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean", "list": "array"}


def _crd_property(path: str) -> dict[str, Any]:
    crd = yaml.safe_load((ROOT / "crds" / "tradingbots.yaml").read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    for part in path.split("."):
        schema = schema["properties"][part]
    return schema


@pytest.mark.parametrize("variable", SPEC_VARIABLES, ids=lambda v: v.name)
def test_the_crd_states_the_bots_default_and_rules(variable):
    schema = _crd_property(str(variable.spec))
    assert schema["type"] == CRD_TYPES[variable.type]
    if variable.default is None or variable.name == "SYMBOLS":  # SYMBOLS: required in a TradingBot
        assert "default" not in schema
    else:
        assert schema["default"] == variable.default
    lower = variable.minimum if variable.minimum is not None else variable.exclusive_minimum
    upper = variable.maximum if variable.maximum is not None else variable.exclusive_maximum
    assert schema.get("minimum") == lower and schema.get("maximum") == upper
    assert schema.get("exclusiveMinimum", False) == (variable.exclusive_minimum is not None)
    assert schema.get("exclusiveMaximum", False) == (variable.exclusive_maximum is not None)
    assert schema.get("enum") == (list(variable.choices) if variable.choices else None)
    pattern = schema["items"].get("pattern") if variable.type == "list" else schema.get("pattern")
    if variable is not env.REPLAY_FILE:  # the spec names a file inside the models volume, the bot gets /models/…
        assert pattern == variable.pattern
        assert schema.get("minLength") == variable.min_length
    if variable.type == "list":
        assert schema["maxItems"] == env.MAX_SYMBOLS and schema["minItems"] == 1
