"""The TradingBot operator: ``kopf run --all-namespaces --peering=tradingbot-operator -m tradingbot_operator.handlers``
(two replicas, one leading; ``--standalone`` for a single one).

The handlers module is not imported here: importing a builder or the spec model must not register kopf
handlers or read the operator's settings.
"""

from tradingbot_contract import __version__

__all__ = ["__version__"]
