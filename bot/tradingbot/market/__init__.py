"""Market data: shared types, the US session clock, OCC symbols, pricing and the sources that fill them."""
