"""What the ``small-edge`` preset's edge is worth to a trader of long options who knows it exactly.

The preset's hidden richness factor moves the underlyings' expected return (``SMALL_EDGE`` x richness a
year) and, by the same factor, how rich every option is priced. The informed trader reads the factor
from the simulator's state (no agent can: it sees only prices) and holds 4-week at-the-money calls while
it is above ``+threshold``, puts while below ``-threshold``, nothing in between (closing at the bid when
the sign changes), within the bot's default risk budget and costs. It runs side by side with ``hold`` on
the same market paths (seeds 0, 1, …); the bench prints each seed's return and the mean difference with
its standard error and t, and the information-ratio bound of the signal itself: a perfect, cost-free
trader of the underlyings, whose expected t over the same sessions no policy of long options can exceed.

    python bench/edge_bound.py [--seeds 6] [--days 60] [--threshold 0.1]
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import numpy.typing as npt

from tradingbot.build import simulated_environment
from tradingbot.config import load_settings
from tradingbot.env.actions import ACTIONS, HOLD
from tradingbot.env.paper import PaperTradingEnvironment
from tradingbot.market.sim.profiles import profile_for
from tradingbot.market.sim.simulator import SMALL_EDGE, TRADING_DAYS_PER_YEAR, MarketSimulator, SimulatorConfig
from tradingbot.offline.evaluation import difference

PRESET = "small-edge"
SYMBOLS = ("SPY", "QQQ")
CALL, PUT, CLOSE_ALL = (
    next(a.index for a in ACTIONS if a.name == name) for name in ("buy_call_atm_4w", "buy_put_atm_4w", "close_all")
)


def informed_return(seed: int, days: int, threshold: float) -> tuple[float, int]:
    """Total return (fraction) and trades of the informed trader over ``days`` sessions of ``seed``'s market;
    ``hold`` on the same market returns exactly 0 (it never trades and cash earns nothing)."""
    env = simulated_environment(load_settings({"MARKET_PRESET": PRESET, "SYMBOLS": ",".join(SYMBOLS)}), seed)
    simulator = env.source
    assert isinstance(simulator, MarketSimulator)
    opening, sessions, trades = env.portfolio.value, 0, 0
    while sessions < days:
        richness = float(simulator.state_dict()["richness"])
        side = 1 if richness > threshold else -1 if richness < -threshold else 0
        result = env.step(_orders(env, side))
        trades += len(result.info.fills)
        sessions += int(result.done)
    return env.portfolio.value / opening - 1.0, trades


def _orders(env: PaperTradingEnvironment, side: int) -> npt.NDArray[np.int64]:
    """Per underlying: close what is on the wrong side, else open ``side`` if nothing is held."""
    mask = env.action_mask()
    orders = np.full(len(env.symbols), HOLD, dtype=np.int64)
    for i, symbol in enumerate(env.symbols):
        held = {
            1 if p.contract.contract_type == "call" else -1
            for p in env.portfolio.positions.values()
            if p.contract.underlying == symbol
        }
        if held and held != {side} and mask[i, CLOSE_ALL]:
            orders[i] = CLOSE_ALL
        elif not held and side and mask[i, CALL if side > 0 else PUT]:
            orders[i] = CALL if side > 0 else PUT
    return orders


def signal_bound(days: int, seeds: int) -> dict[str, float]:
    """The signal's information ratio a year for a perfect, cost-free trader of SPY and QQQ (long-run
    volatilities and correlation of the calibrated profiles, richness s.d. of the simulator), and its
    expected t over ``seeds`` x ``days`` sessions."""
    config = SimulatorConfig(SYMBOLS)
    vols = np.array([profile_for(s).long_run_vol for s in SYMBOLS])
    rho = config.market_correlation
    covariance = np.outer(vols, vols) * np.where(np.eye(len(SYMBOLS)) == 1, 1.0, rho)
    ones = np.ones(len(SYMBOLS))
    ratio = SMALL_EDGE * config.richness_sd * math.sqrt(ones @ np.linalg.solve(covariance, ones))
    years = seeds * days / TRADING_DAYS_PER_YEAR
    return {"information_ratio_a_year": round(ratio, 3), "expected_t": round(ratio * math.sqrt(years), 2)}


def main() -> None:
    """Every seed's informed return, the paired comparison with hold, and the signal's bound."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--threshold", type=float, default=0.1, help="|richness| that opens a position")
    args = parser.parse_args()
    returns = []
    for seed in range(args.seeds):
        total, trades = informed_return(seed, args.days, args.threshold)
        returns.append(total)
        print(f"seed {seed}: informed {total:+.2%} ({trades} fills), hold +0.00%", flush=True)
    gain = difference(returns)  # hold returns exactly 0 on every seed
    bound = signal_bound(args.days, args.seeds)
    print(f"informed - hold: {gain.mean:+.2%} ± {gain.error:.2%} over {args.seeds} seeds (t {gain.t:+.2f})")
    print(
        f"signal: information ratio {bound['information_ratio_a_year']} a year, expected t "
        f"{bound['expected_t']} over {args.seeds} x {args.days} sessions for a perfect cost-free trader"
    )
    result = {"mean": round(gain.mean, 4), "error": round(gain.error, 4), "t": round(gain.t, 2), "returns": returns}
    print(
        json.dumps({"bench": "edge_bound", "preset": PRESET, "days": args.days, "informed_minus_hold": result, **bound})
    )


if __name__ == "__main__":
    main()
