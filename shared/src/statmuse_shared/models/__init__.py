"""The model runtime: what the trainer writes and the predictor and gateway serve.

`output` (the interface: a feature vector in, a predictive distribution and its reasons out),
`baseline` and `count` (the two kinds of model), `regressors` (fitted trees and linear parts as
numpy arrays), `distributions` (count distributions and line odds), `artifacts` (where bundles
live and how they load), `pricing` (value and stake of a bet at a price) and `serving` (the
models a process holds, and a prediction priced at a line)."""
