"""What people read: performance figures, charts, the trading and market reports."""
