"""Self-learning options paper-trading bot: market data, paper portfolio, CLSTM-PPO agent."""

__version__ = "0.1.0"
