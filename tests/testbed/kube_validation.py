"""A custom resource checked as a real API server checks it against its CRD's structural schema.

On every create and update, in the API server's order: unknown fields are pruned (or, with
``fieldValidation=Strict``, which kubectl sends by default, refused with 400), defaults are applied,
then the object is validated: types (``x-kubernetes-int-or-string`` too), ``format: int64``,
``minimum``/``maximum`` (and their ``exclusive`` flags), ``minLength``/``maxLength``, ``pattern``,
``enum``, ``minItems``/``maxItems``, ``maxProperties``, ``required``, ``additionalProperties``,
``x-kubernetes-list-type`` ``set`` and ``map`` uniqueness, and every ``x-kubernetes-validations`` CEL
rule, evaluated with cel-python, ``self`` bound to the value it sits on (and ``oldSelf`` on an update
for a transition rule). Errors are worded and located as the API server words them
(``spec.initialCapital: Invalid value: 500: spec.initialCapital in body should be greater than or equal
to 1000``) and answered as one 422 naming them all.

Not covered: ``nullable``, ``x-kubernetes-embedded-resource``, CEL cost limits and the Kubernetes CEL
libraries beyond what cel-python's standard library has (``quantity()``, ``url()``, …); the TradingBot
CRD uses none of them.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import celpy

Obj = dict[str, Any]
Schema = dict[str, Any]
_CEL = celpy.Environment()


@dataclass
class Problems:
    """Validation errors, each ``<path>: <what>`` as the API server words them."""

    errors: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    """Fields the schema does not declare (pruned, or refused under strict field validation)."""

    def add(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")


def _show(value: Any) -> str:
    if isinstance(value, dict | list):
        return f'"{type(value).__name__.replace("dict", "object").replace("list", "array")}"'
    return json.dumps(value)


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def prune(value: Any, schema: Schema, path: str, problems: Problems) -> Any:
    """``value`` without the fields ``schema`` does not declare (recorded in ``problems.unknown``)."""
    if isinstance(value, dict) and schema.get("type") == "object":
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            return value
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        result = {}
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            if properties is not None and key in properties:
                result[key] = prune(item, properties[key], child, problems)
            elif isinstance(extra, dict):
                result[key] = prune(item, extra, child, problems)
            elif properties is None and extra is None:
                result[key] = item
            else:
                problems.unknown.append(child)
        return result
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [prune(item, schema["items"], f"{path}[{i}]", problems) for i, item in enumerate(value)]
    return value


def apply_defaults(value: Any, schema: Schema) -> Any:
    """``value`` with the schema's defaults filled in where properties are absent, level by level."""
    if isinstance(value, dict):
        result = dict(value)
        for key, child in (schema.get("properties") or {}).items():
            if key not in result and "default" in child:
                result[key] = copy.deepcopy(child["default"])
            if key in result:
                result[key] = apply_defaults(result[key], child)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            declared = schema.get("properties") or {}
            result = {k: v if k in declared else apply_defaults(v, extra) for k, v in result.items()}
        return result
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(item, schema["items"]) for item in value]
    return value


def _check_type(value: Any, schema: Schema, path: str, problems: Problems) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        if _type_of(value) in ("integer", "string"):
            return True
        problems.add(path, f"Invalid value: {_show(value)}: {path} in body must be of type integer,string")
        return False
    wanted = schema.get("type")
    actual = _type_of(value)
    if wanted is None or actual == wanted or (wanted == "number" and actual == "integer"):
        return True
    problems.add(path, f"Invalid value: {_show(value)}: {path} in body must be of type {wanted}: {_show(actual)}")
    return False


def _check_number(value: float, schema: Schema, path: str, problems: Problems) -> None:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None:
        if schema.get("exclusiveMinimum") and value <= low:
            problems.add(path, f"Invalid value: {_show(value)}: {path} in body should be greater than {low}")
        elif value < low:
            problems.add(
                path, f"Invalid value: {_show(value)}: {path} in body should be greater than or equal to {low}"
            )
    if high is not None:
        if schema.get("exclusiveMaximum") and value >= high:
            problems.add(path, f"Invalid value: {_show(value)}: {path} in body should be less than {high}")
        elif value > high:
            problems.add(path, f"Invalid value: {_show(value)}: {path} in body should be less than or equal to {high}")
    if schema.get("format") == "int64" and isinstance(value, int) and not -(2**63) <= value < 2**63:
        problems.add(path, f"Invalid value: {_show(value)}: {path} in body must be of type int64")


def _check_string(value: str, schema: Schema, path: str, problems: Problems) -> None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        problems.add(
            path,
            f"Invalid value: {_show(value)}: {path} in body should be at least {schema['minLength']} chars long",
        )
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        problems.add(path, f"Too long: may not be more than {schema['maxLength']} bytes")
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        problems.add(path, f"Invalid value: {_show(value)}: {path} in body should match '{schema['pattern']}'")


def _check_array(value: list[Any], schema: Schema, path: str, problems: Problems) -> None:
    if "minItems" in schema and len(value) < schema["minItems"]:
        problems.add(
            path, f"Invalid value: {len(value)}: {path} in body should have at least {schema['minItems']} items"
        )
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        problems.add(path, f"Too many: {len(value)}: must have at most {schema['maxItems']} items")
    list_type = schema.get("x-kubernetes-list-type")
    if list_type not in ("set", "map"):
        return
    keys = schema.get("x-kubernetes-list-map-keys", [])
    seen: list[Any] = []
    for index, item in enumerate(value):
        key = {k: item.get(k) for k in keys} if list_type == "map" and isinstance(item, dict) else item
        if key in seen:
            problems.add(f"{path}[{index}]", f"Duplicate value: {_show(key)}")
        seen.append(key)


def _check_object(value: Obj, schema: Schema, path: str, problems: Problems) -> None:
    for name in schema.get("required", []):
        if name not in value:
            problems.add(f"{path}.{name}" if path else name, "Required value")
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        problems.add(path, f"Too many: {len(value)}: must have at most {schema['maxProperties']} items")


def _children(value: Any, schema: Schema, path: str) -> Iterator[tuple[Any, Schema, str]]:
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            if key in properties:
                yield item, properties[key], child
            elif isinstance(extra, dict):
                yield item, extra, child
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield item, schema["items"], f"{path}[{index}]"


def _rules(value: Any, old: Any, schema: Schema, path: str, problems: Problems) -> None:
    for rule in schema.get("x-kubernetes-validations", []):
        transition = "oldSelf" in rule["rule"]
        if transition and old is None:
            continue  # a transition rule applies only to an update of a value that existed
        activation = {"self": celpy.json_to_cel(value)}
        if transition:
            activation["oldSelf"] = celpy.json_to_cel(old)
        try:
            passed = _CEL.program(_CEL.compile(rule["rule"])).evaluate(activation)
        except celpy.CELEvalError as error:
            passed = error
        if isinstance(passed, celpy.CELEvalError):
            problems.add(path, f"Invalid value: {_show(value)}: rule evaluation failed: {passed}")
            continue
        if not bool(passed):
            message = rule.get("message") or f"failed rule: {rule['rule']}"
            problems.add(path, f"Invalid value: {_show(value)}: {message}")


def validate(value: Any, old: Any, schema: Schema, path: str, problems: Problems) -> None:
    """Every check of ``schema`` on ``value`` (``old``: the stored value on an update, for transition rules)."""
    if not _check_type(value, schema, path, problems):
        return
    if "enum" in schema and value not in schema["enum"]:
        supported = ", ".join(_show(v) for v in schema["enum"])
        problems.add(path, f"Unsupported value: {_show(value)}: supported values: {supported}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        _check_number(value, schema, path, problems)
    elif isinstance(value, str):
        _check_string(value, schema, path, problems)
    elif isinstance(value, list):
        _check_array(value, schema, path, problems)
    elif isinstance(value, dict):
        _check_object(value, schema, path, problems)
    before = len(problems.errors)
    for item, child, child_path in _children(value, schema, path):
        key = child_path.rsplit(".", 1)[-1] if isinstance(value, dict) else None
        old_item = old.get(key) if isinstance(old, dict) and key is not None else None
        validate(item, old_item, child, child_path, problems)
    if len(problems.errors) == before:  # CEL rules run on values whose own schema holds
        _rules(value, old, schema, path, problems)


@dataclass(frozen=True)
class Rejection(Exception):  # noqa: N818 - named as the API server's answer
    """A write refused: the HTTP code, the Status reason and its message, and for an invalid object the
    Status ``details`` (kind, name and one cause per error, which kubectl lists)."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] | None = None


def admit(obj: Obj, old: Obj | None, schema: Schema, kind: str, group: str, strict: bool) -> Obj:
    """The object to store: pruned, defaulted and validated against ``schema`` (the CRD version's
    ``openAPIV3Schema``), or :class:`Rejection` as the API server answers."""
    problems = Problems()
    name = (obj.get("metadata") or {}).get("name", "")
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    pruned = prune(body, schema, "", problems)
    if problems.unknown and strict:
        unknown = ", ".join(f'unknown field "{u}"' for u in problems.unknown)
        raise Rejection(400, "BadRequest", f"{kind} cannot be handled as a {kind}: strict decoding error: {unknown}")
    defaulted = apply_defaults(pruned, schema)
    old_body = None if old is None else {k: v for k, v in old.items() if k not in ("apiVersion", "kind", "metadata")}
    meta_schema = (schema.get("properties") or {}).get("metadata") or {}
    validate({"name": name}, None, meta_schema, "metadata", problems)
    top = {k: v for k, v in schema.items() if k != "x-kubernetes-validations"}
    top["properties"] = {k: v for k, v in (schema.get("properties") or {}).items() if k != "metadata"}
    validate(defaulted, old_body, top, "", problems)
    if problems.errors:
        listed = ", ".join(problems.errors)
        causes = [
            {"reason": "FieldValueInvalid", "field": error.split(": ", 1)[0], "message": error.split(": ", 1)[1]}
            for error in problems.errors
        ]
        details = {"name": name, "group": group, "kind": kind, "causes": causes}
        raise Rejection(422, "Invalid", f'{kind}.{group} "{name}" is invalid: [{listed}]', details)
    return {**{k: v for k, v in obj.items() if k in ("apiVersion", "kind", "metadata")}, **defaulted}
