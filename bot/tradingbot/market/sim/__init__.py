"""The seeded market simulator: underlyings and option chains priced consistently, its presets, quoting,
listings and calibration."""
