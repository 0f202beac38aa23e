"""The bot's main job: the paper-trading loop, with progress logging and a clean stop."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from tradingbot.config import Settings
from tradingbot.env.actions import ACTION_NAMES
from tradingbot.env.paper import EnvironmentConfig, PaperTradingEnvironment, StepInfo
from tradingbot.env.portfolio import FeeSchedule
from tradingbot.market.clock import eastern
from tradingbot.market.simulator import MarketSimulator, SimulatorConfig
from tradingbot.market.source import MarketSource
from tradingbot.policies import Policy, make_policy

log = logging.getLogger("tradingbot")


@dataclass(frozen=True, slots=True)
class RunSummary:
    """How a run ended (money in USD)."""

    steps: int
    portfolio_value: float
    realized_pnl: float
    unrealized_pnl: float
    trades: int
    win_rate: float
    reward_total: float
    stopped_by_signal: bool


def environment_config(settings: Settings) -> EnvironmentConfig:
    """The paper account's rules from the settings."""
    return EnvironmentConfig(
        initial_capital=settings.initial_capital,
        fees=FeeSchedule(settings.commission_per_contract, settings.regulatory_fee_per_contract),
        contracts_per_trade=settings.contracts_per_trade,
        max_contracts_per_position=settings.max_contracts_per_position,
        max_open_positions=settings.max_open_positions,
        expiry_cutoff_minutes=settings.expiry_cutoff_minutes,
        max_data_age_s=settings.max_data_age_s,
        steps_per_day=settings.steps_per_day,
    )


def market_source(settings: Settings) -> MarketSource:
    """The market-data source the settings name."""
    return MarketSimulator(
        SimulatorConfig(symbols=settings.symbols, seed=settings.seed, steps_per_day=settings.steps_per_day)
    )


def _money(value: float, signed: bool = False) -> str:
    sign = "+" if signed and value >= 0 else "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def log_progress(step: int, info: StepInfo, initial_capital: float, policy: Policy, positions: int) -> None:
    """One readable progress line."""
    pnl = info.portfolio_value - initial_capital
    log.info(
        "step %d | %s ET | value %s | cash %s | positions %d | trades %d | P&L %s (realised %s, unrealised %s)"
        " | win rate %.1f%% | policy %s",
        step,
        f"{eastern(info.timestamp_ms):%Y-%m-%d %H:%M}",
        _money(info.portfolio_value),
        _money(info.cash),
        positions,
        info.trades,
        _money(pnl, True),
        _money(info.realized_pnl, True),
        _money(info.unrealized_pnl, True),
        100 * info.win_rate,
        policy.name,
    )


async def run_bot(settings: Settings, stop: asyncio.Event) -> RunSummary:
    """Trade until ``stop`` is set or ``max_steps`` steps are done; the in-flight step always completes."""
    env = PaperTradingEnvironment(market_source(settings), environment_config(settings))
    policy = make_policy(settings.policy, settings.seed)
    kind = "baseline" if settings.policy in ("random", "hold") else "agent"
    log.info(
        "paper trading with policy %s (%s) on %s data: symbols %s, capital %s, seed %d%s",
        policy.name,
        kind,
        settings.source,
        ",".join(settings.symbols),
        _money(settings.initial_capital),
        settings.seed,
        f", {settings.max_steps} steps" if settings.max_steps else ", until stopped",
    )
    observation = env.reset()
    reward_total = 0.0
    step = 0
    info: StepInfo | None = None
    next_log = time.monotonic() + settings.log_interval_s
    while not stop.is_set() and (settings.max_steps == 0 or step < settings.max_steps):
        actions = policy.act(observation, env.action_mask())
        observation, reward, _done, info = env.step(actions)
        step += 1
        reward_total += reward
        if log.isEnabledFor(logging.DEBUG):
            for fill in info.fills:
                log.debug(
                    "fill %s %d %s @ %.2f, cash %s",
                    fill.kind,
                    fill.quantity,
                    fill.ticker,
                    fill.price,
                    _money(fill.cash_delta, True),
                )
            for rejection in info.rejections:
                log.debug("refused %s on %s: %s", ACTION_NAMES[rejection.action], rejection.symbol, rejection.reason)
        if time.monotonic() >= next_log:
            log_progress(step, info, settings.initial_capital, policy, len(env.portfolio.positions))
            next_log = time.monotonic() + settings.log_interval_s
        await asyncio.sleep(settings.step_interval_s)

    portfolio = env.portfolio
    if info is not None:
        log_progress(step, info, settings.initial_capital, policy, len(portfolio.positions))
    summary = RunSummary(
        step,
        portfolio.value,
        portfolio.realized_pnl,
        portfolio.unrealized_pnl,
        portfolio.trades,
        portfolio.win_rate,
        reward_total,
        stop.is_set(),
    )
    log.info(
        "stopped after %d steps (%s): value %s, P&L %s, %d trades, win rate %.1f%%, total reward %.4f",
        summary.steps,
        "signal" if summary.stopped_by_signal else "max steps reached",
        _money(summary.portfolio_value),
        _money(summary.portfolio_value - settings.initial_capital, True),
        summary.trades,
        100 * summary.win_rate,
        summary.reward_total,
    )
    return summary
