"""The one scoring module reproduces, to the last bit, the figures of the three copies it
replaced: training's and evaluation's numpy scores (modeling.py, evaluation.py) and the
monitor's exactly summed ones (monitoring/performance.py). The expected values are float.hex()
strings those copies produced on the same inputs before they were removed; where the two
summations disagree in the last bits (ECE below), each caller keeps its own through `exact`."""

import numpy as np
import pytest

from statmuse_trainer import scoring
from statmuse_trainer.monitoring import performance

# Produced by the removed implementations (commit 5484d20) on `data(seed, n)`.
GOLDEN: dict[int, dict[str, object]] = {
    11: {
        "brier": "0x1.5b14b8ec9de3ap-3",
        "log_loss": "0x1.03b61789f5e68p-1",
        "ece": "0x1.ce7cb71e6c266p-7",
        "ece_5": "0x1.f0072cd60c63cp-8",
        "pairs_brier": "0x1.5b14b8ec9de3ap-3",
        "pairs_log_loss": "0x1.03b61789f5e68p-1",
        "pairs_ece": "0x1.ce7cb71e6c266p-7",
        "monitor_brier": "0x1.5b14b8ec9de3ap-3",
        "monitor_ece": "0x1.ce7cb71e6c25ep-7",
        "reliability": [
            [0, "0x1.9b4681bf2b303p-5", "0x1.c159a76d18d81p-5", 474],
            [1, "0x1.314c8cc604918p-3", "0x1.29be9dece3550p-3", 509],
            [2, "0x1.02bf5d359e048p-2", "0x1.27a5ef5b8890ep-2", 523],
            [3, "0x1.6898b668eef2fp-2", "0x1.62131cab0080cp-2", 509],
            [4, "0x1.cd3217d5d8dd7p-2", "0x1.b969e12e3aa80p-2", 515],
            [5, "0x1.1a5a6879ad15ep-1", "0x1.304325c53ef37p-1", 488],
            [6, "0x1.4d772d7cd16f3p-1", "0x1.44c118de5ab27p-1", 525],
            [7, "0x1.80360d3b1a534p-1", "0x1.818acb90f6bf4p-1", 498],
            [8, "0x1.b2f741630b0d3p-1", "0x1.b5c81135c8113p-1", 476],
            [9, "0x1.e5ca655cca514p-1", "0x1.e68f1b07f3479p-1", 483],
        ],
        "mae": "0x1.5a2a16acbe479p-2",
        "rmse": "0x1.a58d1dd061861p-2",
    },
    12: {
        "brier": "0x1.47b7dd98cd812p-3",
        "log_loss": "0x1.ee74d02e9b94ep-2",
        "ece": "0x1.8ee2f2f3a0b44p-6",
        "ece_5": "0x1.8628505b84367p-7",
        "pairs_brier": "0x1.47b7dd98cd812p-3",
        "pairs_log_loss": "0x1.ee74d02e9b94ep-2",
        "pairs_ece": "0x1.8ee2f2f3a0b44p-6",
        "monitor_brier": "0x1.47b7dd98cd812p-3",
        "monitor_ece": "0x1.8ee2f2f3a0b3cp-6",
        "reliability": [
            [0, "0x1.9030d9c1f27c8p-5", "0x1.2492492492492p-6", 112],
            [1, "0x1.2a101c2491716p-3", "0x1.446f86562d9fbp-3", 101],
            [2, "0x1.055da1a36c729p-2", "0x1.3604b27ed3605p-2", 109],
            [3, "0x1.645b920eeac38p-2", "0x1.599999999999ap-2", 80],
            [4, "0x1.cb63355046bd4p-2", "0x1.bb61a6449e59cp-2", 97],
            [5, "0x1.16b95cdc956d7p-1", "0x1.2cccccccccccdp-1", 80],
            [6, "0x1.4f5b82ba33c73p-1", "0x1.65d9765d9765ep-1", 93],
            [7, "0x1.83ba8c6a9a4ccp-1", "0x1.77c7a20e177c8p-1", 109],
            [8, "0x1.b4b1502d54fcdp-1", "0x1.af684bda12f68p-1", 108],
            [9, "0x1.e7374c10c8c52p-1", "0x1.e38e38e38e38ep-1", 108],
        ],
        "mae": "0x1.4755b479079d2p-2",
        "rmse": "0x1.999fb7409cf87p-2",
    },
}
SIZES = {11: 5000, 12: 997}


def data(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, n)
    p[:7] = [0.0, 1.0, 0.1, 0.3, 0.7, 0.9999999999999999, 0.5]  # bin edges and ends
    y = (rng.uniform(0, 1, n) < p).astype(float)
    return p, y


def bits(value: float) -> str:
    return float(value).hex()


@pytest.mark.parametrize("seed", sorted(GOLDEN))
def test_training_and_evaluation_scores_are_the_removed_copies_to_the_bit(seed: int) -> None:
    golden = GOLDEN[seed]
    p, y = data(seed, SIZES[seed])
    pairs = np.stack([p, y], axis=1)
    assert bits(scoring.brier(p, y)) == golden["brier"]
    assert bits(scoring.log_loss(p, y)) == golden["log_loss"]
    assert bits(scoring.ece(p, y)) == golden["ece"]
    assert bits(scoring.ece(p, y, bins=5)) == golden["ece_5"]
    assert bits(scoring.pair_brier(pairs)) == golden["pairs_brier"]
    assert bits(scoring.pair_log_loss(pairs)) == golden["pairs_log_loss"]
    assert bits(scoring.pair_ece(pairs)) == golden["pairs_ece"]
    assert bits(scoring.mae(p - y)) == golden["mae"]
    assert bits(scoring.rmse(p - y)) == golden["rmse"]
    rows = [
        [int(r.bin), bits(r.mean_p), bits(r.freq), int(r.n)]
        for r in scoring.reliability(p, y).itertuples()
    ]
    assert rows == golden["reliability"]


@pytest.mark.parametrize("seed", sorted(GOLDEN))
def test_the_monitor_keeps_its_exact_sums_to_the_bit(seed: int) -> None:
    golden = GOLDEN[seed]
    p, y = data(seed, SIZES[seed])
    pairs = [(float(a), float(b)) for a, b in zip(p, y, strict=True)]
    assert bits(performance.brier(pairs) or 0.0) == golden["monitor_brier"]
    assert bits(performance.ece(pairs) or 0.0) == golden["monitor_ece"]
    assert bits(scoring.brier(p, y, exact=True)) == golden["monitor_brier"]
    assert bits(scoring.ece(p, y, exact=True)) == golden["monitor_ece"]
    # The two summations really differ here: one function with one summation would have
    # changed the training figures or the monitor's.
    assert golden["monitor_ece"] != golden["ece"]


def test_small_cases_by_hand() -> None:
    p = np.array([1.0, 0.0] * 4 + [0.5])
    y = np.array([0.0, 1.0] * 4 + [0.5])
    for exact in (False, True):
        assert scoring.brier(p, y, exact=exact) == pytest.approx(8 / 9)
        # P = 1 lands in the top bin; a bin's gap is |mean P - frequency|.
        assert scoring.ece(np.array([1.0]), np.array([1.0]), exact=exact) == 0.0
        assert scoring.ece(np.array([0.05, 0.95]), np.array([1.0, 0.0]), exact=exact) == (
            pytest.approx(0.95)
        )
    assert scoring.ece(np.array([]), np.array([])) == 0.0
    assert scoring.log_loss(np.array([1.0]), np.array([0.0])) == pytest.approx(-np.log(1e-12))


def test_bootstrap_interval_brackets_the_value() -> None:
    est = scoring.bootstrap(np.arange(1.0, 101.0), scoring.mae, rounds=300)
    assert est.value == pytest.approx(50.5)
    assert est.low < est.value < est.high
    assert est.n == 100
    assert np.isnan(scoring.bootstrap(np.array([]), scoring.mae).value)
