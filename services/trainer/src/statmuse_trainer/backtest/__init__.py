"""Backtesting betting strategies on real prop lines (`statmuse backtest`): the markets and
model sets (`market`), the engine that walks forward day by day (`engine`), the strategies
(`strategies`), the ledger that settles and measures (`ledger`), the report that draws it
(`report`), and a run end to end (`run`)."""
