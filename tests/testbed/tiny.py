"""The one tiny network every test uses: quick to start, train and save. Sizes by setting name, and the
same sizes as the CLI's flags and as environment variables."""

from __future__ import annotations

TINY_SIZES = {"feature_hidden": 16, "mlp_hidden": 16, "policy_hidden": 24, "window": 8}
"""``NetworkConfig`` keyword arguments (units: LSTM and layer widths, steps of the feature window)."""
_FLAGS = {"feature_hidden": "--feature-hidden", "mlp_hidden": "--mlp-hidden", "policy_hidden": "--policy-hidden",
          "window": "--window"}  # fmt: skip
_VARIABLES = {"feature_hidden": "FEATURE_HIDDEN", "mlp_hidden": "MLP_HIDDEN", "policy_hidden": "POLICY_HIDDEN",
              "window": "SEQUENCE_WINDOW"}  # fmt: skip
TINY_FLAGS = tuple(part for name, size in TINY_SIZES.items() for part in (_FLAGS[name], str(size)))
"""The tiny network as ``tradingbot`` flags."""
TINY_ENV = {_VARIABLES[name]: str(size) for name, size in TINY_SIZES.items()}
"""The tiny network as environment variables."""
