"""Volumes only grow: the plan for a live claim expands it, adopts a hand-expanded one, and refuses a
shrink or a class change without asking the API server for what it would refuse."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tradingbot_operator import builders
from tradingbot_operator.builders import Owner
from tradingbot_operator.spec import parse_spec
from tradingbot_operator.storage import APPLIED_SIZE, expansion_blocker, plan_claim

OWNER = Owner("spy", "trading", "uid-1")


def claim(size: str = "50Gi", storage_class: str | None = None) -> dict[str, Any]:
    storage: dict[str, Any] = {"checkpoints": {"size": size}}
    if storage_class is not None:
        storage["storageClassName"] = storage_class
    spec = parse_spec(OWNER.name, {"symbols": ["SPY"], "storage": storage})
    return builders.persistent_volume_claim(OWNER, spec, "checkpoints")


def live(size: str, applied: str | None, storage_class: str = "standard") -> dict[str, Any]:
    obj = copy.deepcopy(claim(size))
    obj["spec"].update(storageClassName=storage_class, volumeMode="Filesystem", volumeName="pv-1")
    if applied is not None:
        obj["metadata"]["annotations"] = {APPLIED_SIZE: applied}
    obj["status"] = {"phase": "Bound", "capacity": {"storage": size}}
    return obj


def size_of(manifest: dict[str, Any]) -> str:
    return str(manifest["spec"]["resources"]["requests"]["storage"])


def test_a_new_claim_is_created_as_the_spec_says_and_remembers_its_size():
    plan = plan_claim(claim("50Gi"), None)
    assert plan.refusal is None and size_of(plan.manifest) == "50Gi"
    assert plan.manifest["metadata"]["annotations"][APPLIED_SIZE] == "50Gi"


def test_a_larger_spec_expands_the_live_claim_keeping_what_the_server_set():
    plan = plan_claim(claim("100Gi"), live("50Gi", "50Gi"))
    assert plan.expands and plan.refusal is None and size_of(plan.manifest) == "100Gi"
    assert plan.manifest["spec"]["volumeName"] == "pv-1" and plan.manifest["spec"]["storageClassName"] == "standard"


def test_a_claim_expanded_by_hand_is_adopted_not_shrunk():
    plan = plan_claim(claim("50Gi"), live("100Gi", "50Gi"))
    assert plan.refusal is None and not plan.expands
    assert size_of(plan.manifest) == "100Gi" and "kept" in str(plan.adopted)


def test_a_lowered_spec_is_refused_and_keeps_the_size_it_last_applied():
    plan = plan_claim(claim("20Gi"), live("50Gi", "50Gi"))
    assert plan.refusal is not None and plan.refusal.reason == "ShrinkRefused"
    assert "never shrunk" in plan.refusal.message and "at least 50Gi" in plan.refusal.message
    assert size_of(plan.manifest) == "50Gi" and plan.manifest["metadata"]["annotations"][APPLIED_SIZE] == "50Gi"


def test_a_class_change_on_a_live_claim_is_refused():
    plan = plan_claim(claim("50Gi", storage_class="fast"), live("50Gi", "50Gi", storage_class="standard"))
    assert plan.refusal is not None and plan.refusal.reason == "StorageClassChangeRefused"
    assert plan.manifest["spec"]["storageClassName"] == "standard"


def test_no_class_in_the_spec_accepts_the_class_the_server_defaulted():
    assert plan_claim(claim("50Gi"), live("50Gi", "50Gi", storage_class="standard")).refusal is None


@pytest.mark.parametrize(("spec_size", "live_size"), [("1Gi", "1024Mi"), ("1024Mi", "1Gi")])
def test_sizes_compare_as_quantities(spec_size, live_size):
    plan = plan_claim(claim(spec_size), live(live_size, spec_size))
    assert not plan.expands and plan.refusal is None and plan.adopted is None


def test_a_class_without_expansion_refuses_growth_before_the_api_server_does():
    no_expansion = {"metadata": {"name": "standard"}, "allowVolumeExpansion": False}
    blocker = expansion_blocker(no_expansion, "spy-checkpoints", "100Gi")
    assert blocker is not None and "allowVolumeExpansion" in blocker
    plan = plan_claim(claim("100Gi"), live("50Gi", "50Gi"), blocker)
    assert plan.refusal is not None and plan.refusal.reason == "ExpansionNotSupported"
    assert size_of(plan.manifest) == "50Gi" and plan.manifest["metadata"]["annotations"][APPLIED_SIZE] == "50Gi"
    assert expansion_blocker({"metadata": {"name": "x"}, "allowVolumeExpansion": True}, "c", "1Gi") is None
    assert expansion_blocker(None, "c", "1Gi") is None  # unreadable: the API server decides
