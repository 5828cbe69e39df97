"""Backtesting betting strategies on real prop lines (`statmuse backtest`): the engine walks
forward day by day, the ledger settles and measures, the report draws it."""
