"""The TradingBot operator: ``kopf run --standalone -m tradingbot_operator``."""

from tradingbot_operator import handlers as handlers  # registers the kopf handlers

__version__ = "0.1.0"
