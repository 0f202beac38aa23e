"""Suspension and the risk protections stop new entries, never the management of open positions."""

from __future__ import annotations

from tradingbot.env.actions import ACTION_NAMES, BUY_ACTIONS, CLOSE_ACTIONS
from tradingbot.env.paper import EnvironmentConfig, PaperTradingEnvironment
from tradingbot.env.risk import RiskLimits
from tradingbot.service.control import POLL_INTERVAL_S, SuspendSwitch

BUY = ACTION_NAMES.index("buy_call_atm_1w")
CLOSE_ALL = ACTION_NAMES.index("close_all")


def test_a_suspended_account_opens_nothing_but_still_closes(static_market):
    env = PaperTradingEnvironment(static_market(bid=1.10, ask=1.20), EnvironmentConfig())
    env.step([BUY])
    env.suspended = True
    mask = env.action_mask()
    assert not mask[0, list(BUY_ACTIONS)].any() and mask[0, CLOSE_ALL]
    refused = env.step([BUY])
    assert refused.info.fills == () and refused.info.suspended
    assert refused.info.rejections[0].reason.startswith("suspended")
    closed = env.step([CLOSE_ALL])
    assert [f.kind for f in closed.info.fills] == ["sell"] and not env.portfolio.positions
    env.suspended = False
    assert env.step([BUY]).info.fills


def test_the_drawdown_protection_halts_entries_but_not_exits(static_market):
    market = static_market(bid=1.10, ask=1.20)
    env = PaperTradingEnvironment(market, EnvironmentConfig(risk=RiskLimits(max_drawdown=0.00005)))
    bought = env.step([BUY])  # marked at the mid, half the spread and the fees cost more than 0.005 %
    assert bought.info.fills and bought.info.risk_halted and env.risk_halted
    refused = env.step([BUY])
    assert refused.info.fills == () and refused.info.rejections[0].reason.startswith("drawdown protection")
    assert env.action_mask()[0, list(CLOSE_ACTIONS)].any()
    assert env.step([CLOSE_ALL]).info.fills


def test_suspend_switch_follows_the_control_file(tmp_path):
    switch = SuspendSwitch(default=False, control_dir=tmp_path)
    assert switch.poll(0.0) is False  # no file: the default
    (tmp_path / "SUSPEND").write_text("true\n")
    assert switch.poll(1.0) is False  # not re-read before the poll interval
    assert switch.poll(POLL_INTERVAL_S) is True
    (tmp_path / "SUSPEND").write_text("maybe")
    assert switch.poll(2 * POLL_INTERVAL_S) is True  # garbage keeps the last state
    (tmp_path / "SUSPEND").write_text("False")
    assert switch.poll(3 * POLL_INTERVAL_S) is False
    (tmp_path / "SUSPEND").unlink()
    assert SuspendSwitch(default=True, control_dir=tmp_path).poll(0.0) is True
    assert SuspendSwitch(default=True, control_dir=None).poll(0.0) is True
