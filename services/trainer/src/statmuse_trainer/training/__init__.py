"""Training: the dataset (`dataset`), a stat's model end to end (`fitting`, from the pieces in
`stat_data`, `negbin`, `candidates`, `heads`, `calibration`, exported to numpy parts by
`export`), a run over every stat and its report (`run`, `reports`), the line weights fitted on
real lines (`lineblend`), what a bundle serves for many rows at once (`served`), and training
on request (`on_request`, with the naive `baseline`)."""
