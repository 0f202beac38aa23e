"""The one place that turns :class:`~tradingbot.config.Settings` into parts: the market, the paper
account's rules, the agent and its buffer, the checkpoint store and the trader with its books, for the
bot (:func:`build_trader`), pre-training, evaluation, tests and benches alike. The loop that runs a
trader is :mod:`tradingbot.service.loop`; where a starting bot's books continue from is
:mod:`tradingbot.resume`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from tradingbot.agent.agent import OptionsCLSTMPPOAgent
from tradingbot.agent.buffer import ExperienceBuffer
from tradingbot.agent.checkpoint import CheckpointIncompatibleError, first_line, initial_weights
from tradingbot.agent.checkpoint_store import CheckpointStore
from tradingbot.agent.device import choose_device
from tradingbot.agent.network import NetworkConfig
from tradingbot.agent.ppo import PPOConfig
from tradingbot.agent.s3_mirror import S3Mirror
from tradingbot.baselines import make_policy
from tradingbot.books.bookkeeper import Bookkeeper
from tradingbot.books.journal import JournalError, open_journal
from tradingbot.config import Settings
from tradingbot.env.actions import NUM_ACTIONS
from tradingbot.env.observation import OBSERVATION_SIZE
from tradingbot.env.paper import EnvironmentConfig, PaperTradingEnvironment
from tradingbot.env.portfolio import FeeSchedule
from tradingbot.env.risk import RiskLimits, RiskState
from tradingbot.market.massive.live import MassiveSource
from tradingbot.market.massive.recording import Recorder
from tradingbot.market.massive.replay import ReplaySource
from tradingbot.market.massive.rest import RestConfig
from tradingbot.market.massive.stream import StreamConfig
from tradingbot.market.quality import DataRules, SpreadLimit
from tradingbot.market.sim.simulator import PRESETS, MarketSimulator, SimulatorConfig
from tradingbot.market.source import MarketSource
from tradingbot.resume import Books, open_books
from tradingbot.trader import Learner, Trader

log = logging.getLogger("tradingbot")


def data_rules(settings: Settings) -> DataRules:
    """What market data may be traded on, from the settings."""
    return DataRules(
        settings.max_data_age_s,
        settings.future_tolerance_s,
        SpreadLimit(settings.option_spread_abs, settings.option_spread_rel),
        SpreadLimit(settings.stock_spread_abs, settings.stock_spread_rel),
    )


def environment_config(settings: Settings) -> EnvironmentConfig:
    """The paper account's rules from the settings (its data rules among them)."""
    return EnvironmentConfig(
        initial_capital=settings.initial_capital,
        fees=FeeSchedule(settings.commission_per_contract, settings.regulatory_fee_per_contract),
        risk=risk_limits(settings),
        expiry_cutoff_minutes=settings.expiry_cutoff_minutes,
        data=data_rules(settings),
        steps_per_day=settings.steps_per_day,
    )


def risk_limits(settings: Settings) -> RiskLimits:
    """The risk budget from the settings (percentages become fractions)."""
    return RiskLimits(
        trade=settings.risk_trade_pct / 100.0,
        position=settings.risk_position_pct / 100.0,
        underlying=settings.risk_underlying_pct / 100.0,
        total=settings.risk_total_pct / 100.0,
        capital_floor=settings.capital_floor_pct / 100.0,
        daily_loss=settings.daily_loss_pct / 100.0,
        max_drawdown=settings.max_drawdown_pct / 100.0,
        lookback_sessions=settings.drawdown_lookback_sessions,
        cooldown_sessions=settings.drawdown_cooldown_sessions,
        contracts_per_trade=settings.contracts_per_trade,
        contracts_per_position=settings.max_contracts_per_position,
        max_open_positions=settings.max_open_positions,
    )


def ppo_config(settings: Settings) -> PPOConfig:
    """The PPO hyper-parameters from the settings."""
    return PPOConfig(
        learning_rate=settings.learning_rate,
        gamma=settings.gamma,
        gae_lambda=settings.gae_lambda,
        clip=settings.clip_range,
        epochs=settings.ppo_epochs,
        minibatches=settings.ppo_minibatches,
        value_coef=settings.value_coef,
        entropy_coef=settings.entropy_coef,
        max_grad_norm=settings.max_grad_norm,
        target_kl=settings.target_kl or None,
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


def new_agent(
    settings: Settings, streams: int, device: torch.device | str = "cpu", seed: int | None = None
) -> OptionsCLSTMPPOAgent:
    """A fresh agent of the settings' network and PPO hyper-parameters for ``streams`` underlyings (its seed:
    ``seed``, else the settings')."""
    return OptionsCLSTMPPOAgent(
        network_config(settings),
        ppo_config(settings),
        streams,
        device,
        settings.seed if seed is None else seed,
        settings.hold_prior,
    )


def experience_buffer(settings: Settings, streams: int) -> ExperienceBuffer:
    """The experience buffer of the settings' network window for ``streams`` underlyings."""
    return ExperienceBuffer(streams, OBSERVATION_SIZE, NUM_ACTIONS, settings.window)


def simulator(settings: Settings, seed: int | None = None) -> MarketSimulator:
    """The settings' simulated market (preset, symbols, session length) seeded with ``seed``, else the
    settings' seed."""
    return MarketSimulator(
        SimulatorConfig(
            symbols=settings.symbols,
            seed=settings.seed if seed is None else seed,
            steps_per_day=settings.steps_per_day,
            **PRESETS[settings.market_preset],
        )
    )


def simulated_environment(settings: Settings, seed: int) -> PaperTradingEnvironment:
    """A paper account with the settings' rules on the simulated market of ``seed``: what pre-training,
    evaluation and benches trade."""
    return PaperTradingEnvironment(simulator(settings, seed), environment_config(settings))


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
    )


def _load_agent(agent: OptionsCLSTMPPOAgent, state: dict[str, Any], source: str, weights_only: bool) -> None:
    """Load saved agent state; tensors that do not fit this network are a clear start error."""
    try:
        agent.load_state_dict(state, weights_only=weights_only)
    except (RuntimeError, KeyError, ValueError) as error:
        reason = first_line(error) or type(error).__name__
        raise CheckpointIncompatibleError(f"{source} does not fit this network: {reason}") from error


def market_source(settings: Settings, data: DataRules) -> MarketSource:
    """The configured market: the simulator, live Massive data (connected here) or a recording; ``data``:
    what the feed may serve as tradable."""
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
            rules=data,
        )
        live.start()
        return live
    if settings.source == "replay":
        assert settings.replay_file is not None  # enforced by the settings
        return ReplaySource(
            settings.replay_file,
            settings.symbols,
            settings.replay_step_s,
            settings.replay_speed,
            rules=data,
        )
    return simulator(settings)


def journal_target(settings: Settings) -> str:
    """Where the trade journal is: ``JOURNAL``, else ``journal.sqlite`` in the checkpoint directory."""
    return settings.journal or str(settings.checkpoint_dir / "journal.sqlite")


def _restore_market(simulated: MarketSimulator | None, market: dict[str, Any] | None) -> None:
    if simulated is None or market is None:
        return
    try:
        simulated.load_state_dict(market)
    except (ValueError, KeyError, TypeError) as error:
        log.warning("the saved market does not fit this simulator (%s): it starts afresh, the books go on", error)


def build_trader(settings: Settings) -> Trader:
    """The market, the paper account (from its journal) and the trader; a learning trader resumes from its
    newest checkpoint."""
    rules = environment_config(settings)
    source = market_source(settings, rules.data)
    simulated = source if isinstance(source, MarketSimulator) else None
    history = source.history if isinstance(source, MassiveSource) else None
    journal = open_journal(journal_target(settings), settings.bot_name)
    if settings.policy != "ppo":
        books = open_books(journal, None, settings.initial_capital, rules.fees)
        _restore_market(simulated, books.market)
        env = _environment(source, rules, history, books)
        policy = make_policy(settings.policy, settings.seed)
        return Trader(env, policy, Bookkeeper(journal, env, _state_of(simulated)), books.step, _state_of(simulated))

    shape = network_config(settings)
    device = choose_device(settings.device, settings.gpu_count)
    if device.problem is not None:
        log.error("DEVICE=%s: %s", settings.device, device.problem)
    agent = new_agent(settings, len(settings.symbols), device.device)
    store = CheckpointStore(settings.checkpoint_dir, settings.checkpoint_keep, s3_mirror(settings))
    checkpoint = store.latest(shape)
    if checkpoint is not None:
        _load_agent(agent, checkpoint.agent, f"checkpoint {store.last_path}", weights_only=False)
        log.info("resumed from %s: step %d, %d updates", store.last_path, checkpoint.step, agent.updates)
    elif settings.model_dir is not None and (initial := initial_weights(settings.model_dir, shape)) is not None:
        _load_agent(agent, initial.agent, f"initial weights in {settings.model_dir}", weights_only=True)
        log.info("initial weights from %s (step %d)", settings.model_dir, initial.step)
    else:
        log.info("fresh agent: nothing to resume in %s", settings.checkpoint_dir)
    books = open_books(journal, checkpoint, settings.initial_capital, rules.fees)
    _restore_market(simulated, books.market)
    env = _environment(source, rules, history, books)
    learner = Learner(
        agent,
        experience_buffer(settings, len(settings.symbols)),
        update_frequency=settings.update_frequency,
        save_frequency=settings.save_frequency,
        store=store,
        device=device,
    )
    return Trader(env, learner, Bookkeeper(journal, env, _state_of(simulated)), books.step, _state_of(simulated))


def _state_of(simulated: MarketSimulator | None) -> Callable[[], dict[str, Any]] | None:
    return simulated.state_dict if simulated is not None else None


def _environment(
    source: MarketSource,
    rules: EnvironmentConfig,
    history: Mapping[str, Sequence[tuple[int, float]]] | None,
    books: Books,
) -> PaperTradingEnvironment:
    env = PaperTradingEnvironment(source, rules, history)
    try:
        env.restore(books.portfolio)
    except ValueError as error:  # the account holds options on underlyings this bot no longer trades
        raise JournalError(
            f"{error}: keep trading those symbols, or point JOURNAL at a new file to open a new account"
        ) from None
    if books.risk is not None:
        try:
            env.restore_risk(RiskState.from_dict(books.risk))
        except (TypeError, ValueError) as error:
            log.warning("the booked risk state is unreadable (%s): the protections start afresh", error)
    return env
