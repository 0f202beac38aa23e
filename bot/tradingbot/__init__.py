"""Self-learning options paper-trading bot: market data, paper portfolio, CLSTM-PPO agent."""

from tradingbot_contract import __version__

__all__ = ["__version__"]
