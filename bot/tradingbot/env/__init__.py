"""The paper-trading environment: action table, portfolio accounting, observations and rewards."""
