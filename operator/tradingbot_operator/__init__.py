"""The TradingBot operator: ``kopf run --standalone -m tradingbot_operator.handlers``.

The handlers module is not imported here: importing a builder or the spec model must not register kopf
handlers or read the operator's settings.
"""

from tradingbot_contract import __version__

__all__ = ["__version__"]
