"""Conditions: the Kubernetes convention, and a Ready that summarises the others."""

from __future__ import annotations

from tradingbot_operator.conditions import TYPES, Observed, desired, merge


def by_type(conditions):
    return {c["type"]: c for c in conditions}


def test_every_condition_is_set_on_the_first_visit():
    conditions = merge(None, desired(Observed()), 1, "2026-01-01T00:00:00Z")
    assert [c["type"] for c in conditions] == list(TYPES)
    for condition in conditions:
        assert set(condition) == {"type", "status", "reason", "message", "lastTransitionTime", "observedGeneration"}
        assert condition["status"] in ("True", "False", "Unknown") and condition["reason"].isalnum()


def test_last_transition_time_changes_only_when_the_status_flips():
    first = merge(None, desired(Observed(ready_replicas=0)), 1, "T1")
    reworded = merge(first, desired(Observed(ready_replicas=0, apply_error="boom")), 2, "T2")
    assert (
        by_type(reworded)["Ready"]["reason"] == "ApplyFailed"
        and by_type(reworded)["Ready"]["lastTransitionTime"] == "T1"
    )
    assert by_type(reworded)["Reconciled"]["lastTransitionTime"] == "T2"  # True → False
    assert by_type(reworded)["Reconciled"]["observedGeneration"] == 2
    ready = merge(reworded, desired(Observed(ready_replicas=1)), 2, "T3")
    assert by_type(ready)["Ready"]["status"] == "True" and by_type(ready)["Ready"]["lastTransitionTime"] == "T3"
    assert by_type(ready)["Available"]["lastTransitionTime"] == "T3"
    assert by_type(ready)["Suspended"]["lastTransitionTime"] == "T1"


def test_ready_summarises_invalid_spec_unavailability_suspension_and_halts():
    def ready(**observed):
        return by_type(merge(None, desired(Observed(**observed)), 1, "T"))["Ready"]

    assert (ready(invalid_spec="spec.symbols: bad")["status"], ready(invalid_spec="x")["reason"]) == (
        "False",
        "InvalidSpec",
    )
    assert ready(invalid_spec="spec.symbols: bad")["message"] == "spec.symbols: bad"
    assert ready()["status"] == "Unknown"
    assert ready(ready_replicas=0)["reason"] == "DeploymentUnavailable"
    assert ready(ready_replicas=1)["reason"] == "Running"
    assert ready(ready_replicas=1, suspended=True)["reason"] == "Suspended"
    block = "drawdown protection: equity fell 10% below its 5-session high; no new entries until session 9"
    halted = ready(ready_replicas=1, risk_halted=True, entry_block=block, halt_limit="drawdown protection")
    assert (halted["status"], halted["reason"]) == ("True", "RiskHalted") and "session 9" in halted["message"]

    def halt(**observed):
        return by_type(merge(None, desired(Observed(ready_replicas=1, risk_halted=True, **observed)), 1, "T"))["Halted"]

    assert (halt(halt_limit="drawdown protection")["status"], halt()["reason"]) == ("True", "RiskLimitReached")
    assert halt(halt_limit="drawdown protection")["reason"] == "DrawdownProtection"
    assert halt(halt_limit="daily loss limit", entry_block=block)["reason"] == "DailyLossLimit"
    assert halt(entry_block=block)["message"] == block


def test_device_ready_says_whether_the_agent_runs_where_the_pod_asked():
    def device(**observed):
        return by_type(merge(None, desired(Observed(ready_replicas=1, **observed)), 1, "T"))["DeviceReady"]

    assert device()["status"] == "Unknown"
    assert (device(device="cpu")["status"], device(device="cpu")["reason"]) == ("True", "RunningOnCPU")
    assert device(device="cuda")["reason"] == "RunningOnGPU"
    missing = device(device="cpu", device_problem="1 GPU(s) reserved but none is visible")
    assert (missing["status"], missing["reason"]) == ("False", "GPUNotVisible") and "none is visible" in missing[
        "message"
    ]
    # the bot still trades on the CPU: Ready is not taken away, the condition (and its Warning Event) says it
    ready = by_type(merge(None, desired(Observed(ready_replicas=1, device="cpu", device_problem="x")), 1, "T"))
    assert ready["Ready"]["status"] == "True"
