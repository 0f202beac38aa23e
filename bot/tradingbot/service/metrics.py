"""The bot's Prometheus metrics, in a registry of its own (nothing global).

The seed's names are kept exactly: ``trading_bot_portfolio_value``, ``trading_bot_win_rate``,
``trading_bot_trades_total`` and ``trading_bot_reward_total`` (a gauge: rewards can be negative).
Labels are bounded: ``symbol`` takes only the configured underlyings, ``error_class`` the S3 error in
effect (one series at a time), the others fixed sets. Money in USD, times in seconds.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from tradingbot.agent.s3_mirror import MirrorStatus
from tradingbot.agent.update_metrics import TrainMetrics
from tradingbot.env.actions import ACTIONS, BuyOption, ClosePositions
from tradingbot.env.paper import StepInfo
from tradingbot.env.risk import LIMITS
from tradingbot.market.source import FeedStatus
from tradingbot.snapshot import Snapshot

ACTION_TYPES = ("hold", "buy_call", "buy_put", "close")
LOSSES = ("policy", "value", "entropy", "approx_kl", "clip_fraction", "explained_variance")
MARKET_EVENTS = ("quote", "trade", "chain", "aggregate")


def action_type(action: int) -> str:
    """The bounded label of an action index."""
    order = ACTIONS[action].order
    if isinstance(order, BuyOption):
        return f"buy_{order.contract_type}"
    return "close" if isinstance(order, ClosePositions) else "hold"


class BotMetrics:
    """Every metric the bot exports, registered in ``registry``."""

    def __init__(self, symbols: tuple[str, ...], trades_at_start: int = 0) -> None:
        """``trades_at_start``: the account's trades before this run (the trades counter counts from it)."""
        self.symbols = symbols
        self._totals_seen: dict[str, int] = {"trades": trades_at_start}
        self._s3_error_class: str | None = None

        self.registry = r = CollectorRegistry()
        self.portfolio_value = Gauge("trading_bot_portfolio_value", "Cash plus marked positions, USD", registry=r)
        self.win_rate = Gauge("trading_bot_win_rate", "Closed positions with a gain / closed positions", registry=r)
        self.trades = Counter("trading_bot_trades", "Executed buy and sell orders", registry=r)
        self.reward_total = Gauge("trading_bot_reward_total", "Sum of step rewards since start", registry=r)
        self.cash = Gauge("trading_bot_cash", "Cash, USD", registry=r)
        self.realized_pnl = Gauge("trading_bot_realized_pnl", "Realised P&L, USD", registry=r)
        self.unrealized_pnl = Gauge("trading_bot_unrealized_pnl", "Unrealised P&L, USD", registry=r)
        self.drawdown = Gauge("trading_bot_drawdown", "Fall of the value from its high-water mark", registry=r)
        self.suspended = Gauge("trading_bot_suspended", "1 while new entries are suspended by the operator", registry=r)
        self.risk_halted = Gauge(
            "trading_bot_risk_halted",
            "1 while a risk protection (daily loss limit, drawdown protection) stops new entries",
            registry=r,
        )
        self.premium_at_risk = Gauge(
            "trading_bot_premium_at_risk_dollars",
            "Marked value of the open options, by underlying, USD",
            ["symbol"],
            registry=r,
        )
        self.risk_budget_used = Gauge(
            "trading_bot_risk_budget_used_ratio", "Premium at risk / the total risk budget (1: spent)", registry=r
        )
        self.binding_limit = Gauge(
            "trading_bot_risk_binding_limit",
            "1 for the risk limit that binds now: the protection stopping entries, else the one that sized the "
            "last buy",
            ["limit"],
            registry=r,
        )
        self.open_positions = Gauge("trading_bot_open_positions", "Open option positions", ["symbol"], registry=r)
        self.actions = Counter("trading_bot_actions", "Actions chosen", ["symbol", "action_type"], registry=r)
        self.rejections = Counter(
            "trading_bot_rejected_actions", "Actions refused at execution", ["symbol"], registry=r
        )
        self.steps = Counter("trading_bot_steps", "Decision steps completed", registry=r)
        self.updates = Counter("trading_bot_training_updates", "PPO updates", registry=r)
        self.steps_since_update = Gauge(
            "trading_bot_steps_since_update", "Steps of fresh experience waiting for the next PPO update", registry=r
        )
        self.update_frequency = Gauge(
            "trading_bot_update_frequency", "Steps per PPO update (UPDATE_FREQUENCY); 0 for a baseline", registry=r
        )
        self.losses = Gauge("trading_bot_training_loss", "The last PPO update's figures", ["loss"], registry=r)
        self.checkpoints = Counter("trading_bot_checkpoints_saved", "Checkpoints written", registry=r)
        self.last_checkpoint = Gauge(
            "trading_bot_last_checkpoint_timestamp_seconds", "Unix time of the last checkpoint written", registry=r
        )
        self.market_events = Counter("trading_bot_market_events", "Market data events received", ["type"], registry=r)
        self.feed_reconnects = Counter("trading_bot_feed_reconnects", "Market feed reconnections", registry=r)
        self.last_data = Gauge(
            "trading_bot_last_market_data_timestamp_seconds", "Unix time the newest market data arrived", registry=r
        )
        self.stale_symbols = Gauge("trading_bot_stale_symbols", "Underlyings whose data is unusable", registry=r)
        self.decision_latency = Histogram(
            "trading_bot_decision_latency_seconds",
            "Wall time of one step: decide, trade, learn",
            registry=r,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
        self.device_problem = Gauge(
            "trading_bot_device_problem",
            "1 while the agent runs on the CPU although the pod reserved GPUs (see /status device.problem)",
            registry=r,
        )
        self.checkpoint_failures = Counter(
            "trading_bot_checkpoint_failures",
            "Checkpoint saves that failed (full, read-only or broken volume)",
            registry=r,
        )
        self.journal_failures = Counter(
            "trading_bot_journal_failures",
            "Steps the trade journal could not book (their fills were undone)",
            registry=r,
        )
        self.journal_blocked = Gauge(
            "trading_bot_journal_blocked", "1 while the trade journal refuses writes (nothing trades)", registry=r
        )
        self.s3_uploads = Counter("trading_bot_s3_uploads", "Checkpoints uploaded to S3", registry=r)
        self.s3_failures = Counter("trading_bot_s3_failures", "Failed S3 mirror passes (each retried)", registry=r)
        self.s3_pending = Gauge(
            "trading_bot_s3_pending_checkpoints", "Local checkpoints to keep that S3 does not hold yet", registry=r
        )
        self.s3_last_success = Gauge(
            "trading_bot_s3_last_success_timestamp_seconds", "Unix time S3 last held every kept checkpoint", registry=r
        )
        self.s3_last_error = Gauge(
            "trading_bot_s3_last_error",
            "1 for the class of the S3 mirror's error while it lasts",
            ["error_class"],
            registry=r,
        )
        self.heartbeat = Gauge(
            "trading_bot_heartbeat_timestamp_seconds", "Unix time of the last completed step", registry=r
        )
        for symbol in symbols:
            self.open_positions.labels(symbol)
            self.rejections.labels(symbol)
            for kind in ACTION_TYPES:
                self.actions.labels(symbol, kind)
        for kind in MARKET_EVENTS:
            self.market_events.labels(kind)
        for loss in LOSSES:
            self.losses.labels(loss)

    def record_step(self, actions: list[int], info: StepInfo, reward: float, seconds: float, now: float) -> None:
        """What one completed step did: its decisions, refusals and reward, and the data it had
        (``now``: Unix seconds, when it was reported)."""
        self.steps.inc()
        self.decision_latency.observe(seconds)
        self.heartbeat.set(now)
        for symbol, action in zip(self.symbols, actions, strict=True):
            self.actions.labels(symbol, action_type(action)).inc()
        for rejection in info.rejections:
            self.rejections.labels(rejection.symbol).inc()
        self.reward_total.inc(reward)
        self.stale_symbols.set(len(info.stale_symbols))
        self.suspended.set(float(info.suspended))
        self.risk_halted.set(float(info.risk_halted))

    def record_simulated_data(self, fresh_symbols: int, now: float) -> None:
        """The simulator delivered a quote, a trade and a chain for each fresh underlying at ``now``."""
        for kind in MARKET_EVENTS:
            self.market_events.labels(kind).inc(fresh_symbols)
        self.last_data.set(now)

    def record_state(self, snapshot: Snapshot) -> None:
        """Where the bot stands: the account, the risk budget, a live feed's totals, the books' and the
        learner's safekeeping (counters advance by the difference of totals since start)."""
        portfolio = snapshot.portfolio
        self._advance(self.trades, "trades", portfolio.trades)  # booked trades only
        self.portfolio_value.set(portfolio.value)
        self.win_rate.set(portfolio.win_rate)
        self.cash.set(portfolio.cash)
        self.realized_pnl.set(portfolio.realized_pnl)
        self.unrealized_pnl.set(portfolio.unrealized_pnl)
        self.drawdown.set(portfolio.drawdown)
        held = dict.fromkeys(self.symbols, 0)
        for position in portfolio.positions:
            held[position.underlying] = held.get(position.underlying, 0) + 1
        for symbol in self.symbols:
            self.open_positions.labels(symbol).set(held[symbol])
        risk = snapshot.risk
        for symbol in self.symbols:
            self.premium_at_risk.labels(symbol).set(risk.premium_by_underlying.get(symbol, 0.0))
        self.risk_budget_used.set(risk.premium_at_risk / risk.budget if risk.budget > 0 else 1.0)
        for limit in LIMITS:
            self.binding_limit.labels(limit).set(float(limit == risk.binding_limit))
        if snapshot.feed is not None:
            self._record_feed(snapshot.feed)
        self._advance(self.journal_failures, "journal_failures", snapshot.journal.failures if snapshot.journal else 0)
        self.journal_blocked.set(float(snapshot.books_blocked is not None))
        learning = snapshot.learning
        self.update_frequency.set(learning.update_frequency if learning is not None else 0)
        if learning is None:
            return
        self.device_problem.set(float(learning.device_problem))
        self.steps_since_update.set(learning.steps_since_update)
        self._advance(self.checkpoint_failures, "checkpoint_failures", learning.save_failures)
        if learning.s3 is not None:
            self._record_mirror(learning.s3)

    def _advance(self, counter: Counter, key: str, total: int) -> None:
        """Move ``counter`` on to ``total`` (a total since start), never back."""
        counter.inc(max(0, total - self._totals_seen.get(key, 0)))
        self._totals_seen[key] = total

    def _record_feed(self, feed: FeedStatus) -> None:
        """A live or replayed feed's totals since start."""
        events: dict[str, int] = feed.detail.get("events", {})
        for kind, total in events.items():
            if kind in MARKET_EVENTS:
                self._advance(self.market_events.labels(kind), kind, total)
        self._advance(self.feed_reconnects, "reconnects", feed.reconnects)
        if feed.last_event_unix is not None:
            self.last_data.set(feed.last_event_unix)

    def _record_mirror(self, mirror: MirrorStatus) -> None:
        """The S3 mirror's totals since start, what waits for it and the error class in effect."""
        self._advance(self.s3_uploads, "s3_uploads", mirror.uploads)
        self._advance(self.s3_failures, "s3_failures", mirror.failures)
        self.s3_pending.set(mirror.pending)
        if mirror.last_success_unix is not None:
            self.s3_last_success.set(mirror.last_success_unix)
        shown = self._s3_error_class
        if shown is not None and shown != mirror.last_error_class:
            self.s3_last_error.remove(shown)
        if mirror.last_error_class is not None:
            self.s3_last_error.labels(mirror.last_error_class).set(1)
        self._s3_error_class = mirror.last_error_class

    def record_update(self, metrics: TrainMetrics) -> None:
        """A PPO update's figures."""
        self.updates.inc()
        for loss, value in zip(
            LOSSES,
            (
                metrics.policy_loss,
                metrics.value_loss,
                metrics.entropy,
                metrics.approx_kl,
                metrics.clip_fraction,
                metrics.explained_variance,
            ),
            strict=True,
        ):
            self.losses.labels(loss).set(value)

    def record_checkpoint(self, now: float) -> None:
        """A checkpoint was written."""
        self.checkpoints.inc()
        self.last_checkpoint.set(now)

    def exposition(self) -> bytes:
        """The text exposition format of every metric."""
        return generate_latest(self.registry)
