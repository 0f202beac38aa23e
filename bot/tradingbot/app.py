"""The bot's main job: build the trader (learning agent or baseline), run the loop, stop cleanly."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tradingbot.agent.agent import OptionsCLSTMPPOAgent
from tradingbot.agent.buffer import ExperienceBuffer
from tradingbot.agent.checkpoint import (
    CheckpointIncompatibleError,
    CheckpointStore,
    S3Mirror,
    first_line,
    initial_weights,
)
from tradingbot.agent.device import choose_device
from tradingbot.agent.network import NetworkConfig
from tradingbot.agent.ppo import PPOConfig
from tradingbot.config import Settings
from tradingbot.control import SuspendSwitch
from tradingbot.env.actions import ACTION_NAMES, HOLD, NUM_ACTIONS
from tradingbot.env.observation import OBSERVATION_SIZE
from tradingbot.env.paper import EnvironmentConfig, PaperTradingEnvironment
from tradingbot.env.portfolio import FeeSchedule, Portfolio
from tradingbot.learning import BaselineTrader, LearningTrader, TickReport
from tradingbot.market.clock import eastern
from tradingbot.market.massive_rest import RestConfig
from tradingbot.market.massive_source import FeedError, FeedStatus, MassiveSource, ReplayFinishedError, ReplaySource
from tradingbot.market.massive_stream import StreamConfig
from tradingbot.market.recording import Recorder
from tradingbot.market.simulator import PRESETS, MarketSimulator, SimulatorConfig
from tradingbot.market.source import MarketSource
from tradingbot.metrics import BotMetrics
from tradingbot.policies import make_policy
from tradingbot.server import make_app, serving
from tradingbot.status import BotStatus, status_document

log = logging.getLogger("tradingbot")
Trader = BaselineTrader | LearningTrader
MIRROR_DRAIN_S = 10.0
"""At shutdown, how long queued S3 uploads may take before the bot exits anyway (seconds)."""
PUBLISH_INTERVAL_S = 0.25
"""How often the /status document is rebuilt while the loop runs (seconds)."""


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
    final_checkpoint: Path | None


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
        max_drawdown=settings.max_drawdown_pct / 100.0,
    )


def network_config(settings: Settings) -> NetworkConfig:
    """The agent's network shape from the settings."""
    return NetworkConfig(
        observation_size=OBSERVATION_SIZE,
        num_actions=NUM_ACTIONS,
        feature_hidden=settings.feature_hidden,
        mlp_hidden=settings.mlp_hidden,
        policy_hidden=settings.policy_hidden,
        window=settings.window,
    )


def s3_mirror(settings: Settings) -> S3Mirror | None:
    """The S3 mirror of the checkpoints, when a bucket is configured."""
    if not settings.s3_bucket:
        return None
    return S3Mirror(
        settings.s3_bucket,
        settings.s3_prefix or settings.bot_name,
        endpoint_url=settings.s3_endpoint_url,
        access_key=settings.s3_access_key.get_secret_value() if settings.s3_access_key else None,
        secret_key=settings.s3_secret_key.get_secret_value() if settings.s3_secret_key else None,
        region=settings.s3_region,
        keep=settings.checkpoint_keep,
    )


def _load_agent(agent: OptionsCLSTMPPOAgent, state: dict[str, Any], source: str, weights_only: bool) -> None:
    """Load saved agent state; tensors that do not fit this network are a clear start error."""
    try:
        agent.load_state_dict(state, weights_only=weights_only)
    except (RuntimeError, KeyError, ValueError) as error:
        reason = first_line(error) or type(error).__name__
        raise CheckpointIncompatibleError(f"{source} does not fit this network: {reason}") from error


def market_source(settings: Settings) -> MarketSource:
    """The configured market: the simulator, live Massive data (connected here) or a recording."""
    if settings.source == "massive":
        assert settings.massive_api_key is not None  # enforced by the settings
        stocks_url, options_url = settings.massive_urls()
        live = MassiveSource(
            settings.symbols,
            settings.massive_api_key.get_secret_value(),
            StreamConfig(stocks_url=stocks_url, options_url=options_url),
            RestConfig(base_url=settings.massive_rest_url),
            settings.chain_refresh_s,
            Recorder(settings.record_file) if settings.record_file is not None else None,
        )
        live.start()
        return live
    if settings.source == "replay":
        assert settings.replay_file is not None  # enforced by the settings
        return ReplaySource(settings.replay_file, settings.symbols, settings.replay_step_s, settings.replay_speed)
    return MarketSimulator(
        SimulatorConfig(
            symbols=settings.symbols,
            seed=settings.seed,
            steps_per_day=settings.steps_per_day,
            **PRESETS[settings.market_preset],
        )
    )


def build_trader(settings: Settings) -> Trader:
    """The market, the paper account and the trader; a learning trader resumes from its newest checkpoint."""
    source = market_source(settings)
    simulated = source if isinstance(source, MarketSimulator) else None
    history = source.history if isinstance(source, MassiveSource) else None
    rules = environment_config(settings)
    if settings.policy != "ppo":
        env = PaperTradingEnvironment(source, rules, history)
        return BaselineTrader(env, make_policy(settings.policy, settings.seed))

    shape = network_config(settings)
    device = choose_device(settings.device, settings.gpu_count)
    if device.problem is not None:
        log.error("DEVICE=%s: %s", settings.device, device.problem)
    agent = OptionsCLSTMPPOAgent(shape, PPOConfig(), len(settings.symbols), device.device, settings.seed)
    store = CheckpointStore(settings.checkpoint_dir, settings.checkpoint_keep, s3_mirror(settings))
    checkpoint = store.latest(shape)
    portfolio: Portfolio | None = None
    step = 0
    if checkpoint is not None:
        _load_agent(agent, checkpoint.agent, f"checkpoint {store.last_path}", weights_only=False)
        step = checkpoint.step
        try:
            if checkpoint.market is not None and simulated is not None:
                simulated.load_state_dict(checkpoint.market)
            portfolio = Portfolio.from_snapshot(checkpoint.portfolio, rules.fees)
        except (ValueError, KeyError, TypeError) as error:
            log.warning(
                "the market changed since the checkpoint (%s): the agent resumes, the paper account starts afresh",
                error,
            )
        log.info("resumed from %s: step %d, %d updates", store.last_path, step, agent.updates)
    elif settings.model_dir is not None and (initial := initial_weights(settings.model_dir, shape)) is not None:
        _load_agent(agent, initial.agent, f"initial weights in {settings.model_dir}", weights_only=True)
        log.info("initial weights from %s (step %d)", settings.model_dir, initial.step)
    else:
        log.info("fresh agent: nothing to resume in %s", settings.checkpoint_dir)
    env = PaperTradingEnvironment(source, rules, history)
    if portfolio is not None:
        env.restore(portfolio)  # the same symbols (or a live market): every holding is traded here
    buffer = ExperienceBuffer(len(settings.symbols), OBSERVATION_SIZE, NUM_ACTIONS, shape.window)
    return LearningTrader(
        env,
        agent,
        buffer,
        update_frequency=settings.update_frequency,
        save_frequency=settings.save_frequency,
        store=store,
        market_state=simulated.state_dict if simulated is not None else None,
        step=step,
        device=device,
    )


def _money(value: float, signed: bool = False) -> str:
    sign = "+" if signed and value >= 0 else "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def log_progress(trader: Trader, report: TickReport, initial_capital: float) -> None:
    """One readable progress line (with the last losses and checkpoint for a learning trader)."""
    info = report.result.info
    pnl = info.portfolio_value - initial_capital
    learning = ""
    if isinstance(trader, LearningTrader):
        metrics = trader.last_metrics
        learning = f" | updates {trader.agent.updates}"
        if metrics is not None:
            learning += (
                f" (policy loss {metrics.policy_loss:+.4f}, value loss {metrics.value_loss:.4f}, "
                f"entropy {metrics.entropy:.2f}, kl {metrics.approx_kl:.4f})"
            )
    log.info(
        "step %d | %s ET | value %s | cash %s | positions %d | trades %d | P&L %s (realised %s, unrealised %s)"
        " | win rate %.1f%% | policy %s%s",
        trader.step,
        f"{eastern(info.timestamp_ms):%Y-%m-%d %H:%M}",
        _money(info.portfolio_value),
        _money(info.cash),
        len(trader.env.portfolio.positions),
        info.trades,
        _money(pnl, True),
        _money(info.realized_pnl, True),
        _money(info.unrealized_pnl, True),
        100 * info.win_rate,
        trader.name,
        learning,
    )


def _log_details(report: TickReport) -> None:
    """Each fill and rejection of a step, at DEBUG."""
    if not log.isEnabledFor(logging.DEBUG):
        return
    for fill in report.result.info.fills:
        log.debug(
            "fill %s %d %s @ %.2f, cash %s",
            fill.kind,
            fill.quantity,
            fill.ticker,
            fill.price,
            _money(fill.cash_delta, True),
        )
    for rejection in report.result.info.rejections:
        log.debug("refused %s on %s: %s", ACTION_NAMES[rejection.action], rejection.symbol, rejection.reason)


def _single_threaded_torch() -> None:
    """Run PyTorch single-threaded in the trading worker. Its batch-1 recurrent steps gain nothing from
    intra-op threads, and a second OpenMP team started from a worker thread made a PPO update 2.5x slower
    on a 2-core machine (measured: 138 ms at 1 thread against 500 ms at 2)."""
    torch.set_num_threads(1)


def feed_status(trader: Trader) -> FeedStatus | None:
    """The live or replayed feed's status; ``None`` for the simulator (its data is always there)."""
    source = trader.env.source
    return source.status() if isinstance(source, MassiveSource | ReplaySource) else None


class _Published:
    """The latest status the loop published; handlers read it, only the loop replaces it."""

    def __init__(self, started: float, document: dict[str, Any], feed: Callable[[], FeedStatus | None]) -> None:
        self.started = started
        self.document = document
        self.heartbeat: float | None = None
        self._feed = feed

    def status(self) -> BotStatus:
        feed = self._feed()
        connected, last_data = (True, self.heartbeat) if feed is None else (feed.connected, feed.last_event_unix)
        return BotStatus(self.started, self.heartbeat, last_data, connected, model_loaded=True, document=self.document)


async def run_bot(settings: Settings, trader: Trader, stop: asyncio.Event) -> RunSummary:
    """Trade until ``stop`` is set or ``max_steps`` steps are done, serving the HTTP endpoints meanwhile.

    Each step runs in a worker thread, so training never starves the probes; the in-flight step always
    completes, and a learning trader writes a final checkpoint before the server closes.
    """
    metrics = BotMetrics(settings.symbols)
    if isinstance(trader, LearningTrader):
        metrics.update_frequency.set(settings.update_frequency)
        metrics.device_problem.set(trader.device.problem is not None)
    feed = functools.partial(feed_status, trader)
    published = _Published(
        time.time(), status_document(settings, trader, [HOLD] * len(settings.symbols), None, feed()), feed
    )
    stall_s = max(settings.health_stall_s, 3 * settings.step_interval_s)
    app = make_app(published.status, metrics, stall_s, settings.max_data_age_s)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="trader", initializer=_single_threaded_torch) as worker:
        try:
            async with serving(app, settings.http_host, settings.http_port) as port:
                log.info("serving /health /ready /status /metrics on %s:%d", settings.http_host, port)
                return await _trade(settings, trader, stop, metrics, published, worker)
        finally:
            source = trader.env.source
            if isinstance(source, MassiveSource | ReplaySource):
                source.close()  # stops the feed's thread, completes a recording


def _log_start(settings: Settings, trader: Trader) -> None:
    log.info(
        "paper trading with policy %s (%s) on %s data: symbols %s, capital %s, seed %d%s",
        trader.name,
        trader.kind,
        settings.source,
        ",".join(settings.symbols),
        _money(settings.initial_capital),
        settings.seed,
        f", {settings.max_steps} steps" if settings.max_steps else ", until stopped",
    )


def _summarize(
    settings: Settings,
    trader: Trader,
    steps: int,
    reward_total: float,
    by_signal: bool,
    final: Path | None,
    ended: str,
) -> RunSummary:
    portfolio = trader.env.portfolio
    summary = RunSummary(
        steps,
        portfolio.value,
        portfolio.realized_pnl,
        portfolio.unrealized_pnl,
        portfolio.trades,
        portfolio.win_rate,
        reward_total,
        by_signal,
        final,
    )
    log.info(
        "stopped after %d steps (%s): value %s, P&L %s, %d trades, win rate %.1f%%, total reward %.4f",
        summary.steps,
        "signal" if by_signal else ended,
        _money(summary.portfolio_value),
        _money(summary.portfolio_value - settings.initial_capital, True),
        summary.trades,
        100 * summary.win_rate,
        summary.reward_total,
    )
    return summary


def _drain_mirror(trader: Trader) -> None:
    mirror = trader.store.mirror if isinstance(trader, LearningTrader) and trader.store is not None else None
    if mirror is not None and not mirror.close(MIRROR_DRAIN_S):
        log.warning("S3 uploads still pending after %.0f s; the local checkpoints are complete", MIRROR_DRAIN_S)


def _record(
    metrics: BotMetrics, trader: Trader, report: TickReport, trades_before: int, seconds: float, now: float
) -> FeedStatus | None:
    """One step's metrics: the account, the feed, training and checkpoints; returns the feed's status."""
    info = report.result.info
    metrics.record_step(report.actions, info, report.result.reward, trades_before, trader.env.portfolio, seconds, now)
    feed = feed_status(trader)
    if feed is None:
        metrics.record_simulated_data(len(trader.env.symbols) - len(info.stale_symbols), now)
    else:
        metrics.record_feed(feed.detail.get("events", {}), feed.reconnects, feed.last_event_unix)
    if report.metrics is not None:
        metrics.record_update(report.metrics)
    if isinstance(trader, LearningTrader):
        metrics.steps_since_update.set(trader.buffer.fresh_steps)
    if report.checkpoint is not None:
        metrics.record_checkpoint(now)
    return feed


async def _trade(
    settings: Settings,
    trader: Trader,
    stop: asyncio.Event,
    metrics: BotMetrics,
    published: _Published,
    worker: ThreadPoolExecutor,
) -> RunSummary:
    _log_start(settings, trader)
    loop = asyncio.get_running_loop()
    reward_total = 0.0
    steps = 0
    report: TickReport | None = None
    last_checkpoint: float | None = None
    next_log = time.monotonic() + settings.log_interval_s
    next_publish = 0.0
    switch = SuspendSwitch(settings.suspend, settings.control_dir)
    feed_failure: FeedError | None = None
    ended = "max steps reached"
    while not stop.is_set() and (settings.max_steps == 0 or steps < settings.max_steps):
        trader.env.suspended = switch.poll(time.monotonic())  # the worker is idle between ticks
        trades_before = trader.env.portfolio.trades
        started = time.perf_counter()
        try:
            report = await loop.run_in_executor(worker, trader.tick)
        except ReplayFinishedError:
            ended = "the recording is over"
            break
        except FeedError as error:
            feed_failure, ended = error, "the market feed failed"
            break
        now = time.time()
        steps += 1
        reward_total += report.result.reward
        feed = _record(metrics, trader, report, trades_before, time.perf_counter() - started, now)
        if report.checkpoint is not None:
            last_checkpoint = now
            log.info("checkpoint saved: %s", report.checkpoint)
        published.heartbeat = now
        if now >= next_publish or report.checkpoint is not None:
            published.document = status_document(settings, trader, report.actions, last_checkpoint, feed)
            next_publish = now + PUBLISH_INTERVAL_S
        _log_details(report)
        if time.monotonic() >= next_log:
            log_progress(trader, report, settings.initial_capital)
            next_log = time.monotonic() + settings.log_interval_s
        await asyncio.sleep(settings.step_interval_s)

    if report is not None:
        log_progress(trader, report, settings.initial_capital)
    final = await loop.run_in_executor(worker, trader.finish)
    if final is not None:
        metrics.record_checkpoint(time.time())
        log.info("final checkpoint saved: %s", final)
    _drain_mirror(trader)
    summary = _summarize(settings, trader, steps, reward_total, stop.is_set(), final, ended)
    if feed_failure is not None:
        raise feed_failure
    return summary
