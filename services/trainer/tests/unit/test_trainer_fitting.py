"""Fitting a stat end to end on a synthetic frame (unit scale): the bundle it ships serves the
same numbers the trainer measured, one row at a time and vectorised."""

import math

import numpy as np
import pandas as pd
import pytest

from statmuse_shared.contract.messages import ModelPublished
from statmuse_shared.models.artifacts import load_model
from statmuse_shared.models.count import CountModel
from statmuse_shared.models.distributions import NegativeBinomial
from statmuse_shared.models.serving import Served, predict
from statmuse_trainer.scoring import ece
from statmuse_trainer.training.calibration import calibrated_over, fit_calibration
from statmuse_trainer.training.candidates import vote
from statmuse_trainer.training.fitting import fit_stat
from statmuse_trainer.training.negbin import earned_dispersions, fit_dispersion_mle, nb_cdf
from statmuse_trainer.training.served import line_odds, served_means
from statmuse_trainer.training.stat_data import without_reports


@pytest.fixture(scope="module")
def fitted(synthetic_frame):
    return synthetic_frame, fit_stat(synthetic_frame, "points", jobs=1)


def test_the_bundle_reproduces_the_fit_and_serves_consistent_numbers(fitted):
    df, f = fitted
    model = load_model(f.bundle)
    assert isinstance(model, CountModel)
    assert f.chosen in {"elasticnet", "random_forest", "xgboost", "voting", "stacking"}
    test = df[df["split"] == "test"].reset_index(drop=True)
    mu, r, flags = served_means(model, test)
    # the rows without history get the league baseline, flagged
    assert {fl for fl, n in zip(flags, test["f_points_career_n"], strict=True) if n < 3} <= {
        "league_baseline"
    }
    lines = np.floor(mu) + np.where(np.arange(len(mu)) % 2 == 0, 0.5, 0.0)  # half and whole
    under, push, over = line_odds(model, mu, r, lines, calibrated=True)
    info = ModelPublished(
        event_id="e",
        name=f.name,
        version="v1",
        stat="points",
        alias="production",
        model_type="count_model",
        artifact_uri="file:///x",
        checksum="0",
        feature_set_version="fs-2",
    )
    served = Served(info, model)
    names = model.header.features
    for i in range(0, len(test), 37):
        values = test.loc[i, [f"f_{n}" for n in names]]
        row = {n: (None if math.isnan(v) else float(v)) for n, v in zip(names, values, strict=True)}
        p = predict(served, row, line=float(lines[i]), player_id=int(test.loc[i, "player_id"]))
        total = p.over_probability + p.under_probability + p.push_probability
        assert total == pytest.approx(1.0, abs=1e-9)
        assert p.over_probability == pytest.approx(over[i], abs=1e-6)
        assert p.push_probability == pytest.approx(push[i], abs=1e-6)
        assert p.fallback == flags[i]
        assert p.contributions, "every answer explains itself"


def test_every_served_part_predicts_what_its_fitted_model_predicts(fitted):
    """The exported parts (the Poisson booster with its log link among them) give the fitted
    models' own predictions on the validation rows."""
    df, f = fitted
    model = load_model(f.bundle)
    assert isinstance(model, CountModel)
    validation = df[df["split"] == "validation"]
    x = validation[[f"f_{n}" for n in model.header.features]].to_numpy(np.float64)
    fitted_by_name = {c.name: c.model for c in f.candidates}
    for name, part in zip(model.header.part_names, model.parts, strict=True):
        assert getattr(part, "log_link", False) is (name == "xgboost")
        np.testing.assert_allclose(part.predict(x), fitted_by_name[name].predict(x), rtol=1e-5)
    booster = fitted_by_name["xgboost"].get_booster()
    assert '"count:poisson"' in booster.save_config()


def test_the_served_probabilities_are_calibrated_where_they_were_fitted(fitted):
    # The isotonic map is fitted on the CDF at several whole numbers, not on P(over) at one
    # line, so it need not lower ECE at the reference line; it must leave it small.
    _, f = fitted
    v = f.validation
    assert v["ece"] <= 0.05  # 960 synthetic games: ECE's own noise is about 0.02
    assert v["brier"] <= v["brier_uncalibrated"] + 0.002
    assert len(f.reliability_after) > 0
    assert f.importance["importance"].sum() == pytest.approx(1.0)
    # the level signal lives in the history features, not in empty ones
    assert f.importance.iloc[0]["feature"].startswith("points_")


def test_nb_cdf_matches_the_serving_distribution():
    for mu, phi in ((0.7, 1.3), (5.2, 1.8), (27.0, 2.4)):
        nb = NegativeBinomial(mu, mu / (phi - 1))  # variance phi * mu
        assert nb.sd**2 == pytest.approx(phi * mu)
        ks = np.arange(-1, 80)
        ours = nb_cdf(ks, np.full(len(ks), mu), phi)
        assert np.allclose(ours, [nb.cdf(int(k)) for k in ks], atol=1e-10)


def test_cdf_tables_are_the_negative_binomial_out_to_its_tail(fitted):
    """Each served table is the NB CDF up to the first value within 1e-9 of 1, and no further;
    a heavy tail (phi 25) lies beyond the first, 12-sd table and gets the wider one."""
    _, f = fitted
    model = CountModel.from_bytes(CountModel.with_header(f.bundle, calibrated=False))
    mu, phi = np.array([0.3, 5.0, 27.0, 5.0]), np.array([1.2, 1.8, 4.0, 25.0])
    for m, p, table in zip(mu, phi, model.cdf_tables(mu, phi), strict=True):
        nb = NegativeBinomial(m, m / (p - 1))
        body = table[:-1]
        assert table[-1] == 1.0
        assert np.allclose(body, [nb.cdf(k) for k in range(len(body))], atol=1e-9)
        assert body[-1] >= 1 - 1e-9
        assert len(body) == 1 or body[-2] < 1 - 1e-9
        if p == 25.0:
            assert len(body) > m + 12 * nb.sd + 50  # past the narrow table


def test_dispersion_mle_recovers_a_known_value():
    rng = np.random.default_rng(0)
    mu = rng.uniform(3, 30, 20_000)
    r = mu / (2.5 - 1)  # variance 2.5 * mu at every mean
    y = rng.negative_binomial(r, r / (r + mu))
    assert fit_dispersion_mle(y.astype(float), mu) == pytest.approx(2.5, rel=0.05)


def _season(phi_of_player: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
    """80 games each for len(phi_of_player) players over 160 days, NB with each one's phi."""
    rng = np.random.default_rng(seed)
    players = np.repeat(np.arange(len(phi_of_player)), 80)
    days = np.tile(np.sort(rng.choice(160, 80, replace=False)), len(phi_of_player))
    mu = rng.uniform(5, 25, players.size)
    phi = phi_of_player[players]
    r = mu / (phi - 1)
    y = rng.negative_binomial(r, r / (r + mu)).astype(float)
    return players, days, y, mu


def test_per_player_dispersions_are_kept_when_later_games_bear_them_out():
    # Half the players are near-Poisson, half very wide: their own phi predicts later games.
    players, days, y, mu = _season(np.where(np.arange(60) % 2 == 0, 1.2, 6.0), seed=3)
    pooled = fit_dispersion_mle(y, mu)
    own, gain = earned_dispersions(players, days, y, mu, pooled)
    assert gain < 0
    assert len(own) == 60
    assert own[0] < pooled < own[1]


def test_per_player_dispersions_are_dropped_when_players_do_not_differ():
    # Every player has the same phi: own estimates are noise, and the later games say so.
    players, days, y, mu = _season(np.full(60, 3.0), seed=4)
    own, _ = earned_dispersions(players, days, y, mu, fit_dispersion_mle(y, mu))
    assert own == {}


def test_per_player_dispersions_are_not_kept_on_a_gain_chance_gives():
    # Players who differ a little (phi 2.5 or 3.5): half an early season cannot pin each one's
    # down, so their own values are about as good as the pooled one, and the later games favour
    # them on some seasons by chance. A point estimate keeps them on every such season; the
    # test about as often as its level says.
    lucky, kept = 0, 0
    for seed in range(20):
        phi = np.where(np.arange(60) % 2 == 0, 2.5, 3.5)
        players, days, y, mu = _season(phi, seed=100 + seed)
        own, change = earned_dispersions(players, days, y, mu, fit_dispersion_mle(y, mu))
        lucky += change < 0
        kept += bool(own)
    assert lucky >= 5
    assert kept <= 2


def test_per_player_dispersions_need_games_on_both_sides_of_the_split():
    # Every game on one day: nothing comes before the median day to fit on.
    players, days, y, mu = _season(np.full(2, 3.0), seed=5)
    assert earned_dispersions(players, days * 0, y, mu, 3.0) == ({}, 0.0)
    # Dates as the dataset holds them give the same answer as day numbers.
    players, days, y, mu = _season(np.where(np.arange(60) % 2 == 0, 1.2, 6.0), seed=3)
    dates = np.datetime64("2023-10-24") + days.astype("timedelta64[D]")
    pooled = fit_dispersion_mle(y, mu)
    assert earned_dispersions(players, dates, y, mu, pooled) == earned_dispersions(
        players, days, y, mu, pooled
    )


def test_isotonic_calibration_fixes_an_overconfident_model():
    rng = np.random.default_rng(1)
    mu = rng.uniform(5, 25, 8000)
    y = rng.negative_binomial(3.0, 3.0 / (3.0 + mu)).astype(float)  # true r = 3
    lines = np.floor(mu) + 0.5
    overconfident = np.full(len(mu), 1.05)  # claims far less spread than there is
    went = (y > lines).astype(float)
    from statmuse_trainer.training.calibration import cdf_pairs
    from statmuse_trainer.training.negbin import over_probability

    before = over_probability(mu, overconfident, lines)
    knots = fit_calibration(*cdf_pairs(y[:4000], mu[:4000], overconfident[:4000], lines[:4000]))
    assert np.all(np.diff(knots[0]) > 0)
    assert np.all(np.diff(knots[1]) >= 0)
    after = calibrated_over(mu, overconfident, lines, knots)
    held_out = slice(4000, None)
    assert ece(after[held_out], went[held_out]) < ece(before[held_out], went[held_out])


def test_voting_weights_stay_on_the_simplex(synthetic_frame):
    from statmuse_trainer.training.candidates import Candidate, Scores
    from statmuse_trainer.training.stat_data import StatData

    df = synthetic_frame[synthetic_frame["f_points_career_n"] >= 3]
    data = StatData(
        "points",
        ["points_sma_10"],
        df[df["split"] == "train"],
        df[df["split"] == "validation"].reset_index(drop=True),
    )
    y = data.y("validation")
    s = Scores(0, 0, 0, 0, 1)
    good = Candidate("a", {}, y + np.random.default_rng(2).normal(0, 1, len(y)), s)
    bad = Candidate("b", {}, np.full(len(y), y.mean()), s)
    noise = Candidate("c", {}, y + np.random.default_rng(3).normal(0, 6, len(y)), s)
    w = vote(data, [good, bad, noise]).params["weights"]
    assert sum(w) == pytest.approx(1.0)
    assert min(w) >= 0
    assert w[0] == max(w)


def test_voting_drops_a_part_that_buys_less_than_the_parsimony_margin(synthetic_frame):
    """A near-copy of the best part adds a walk for nothing and goes; a part that carries
    independent information stays."""
    from statmuse_trainer.training.candidates import PARSIMONY_BRIER, Candidate, Scores, score
    from statmuse_trainer.training.stat_data import StatData

    df = synthetic_frame[synthetic_frame["f_points_career_n"] >= 3]
    data = StatData(
        "points",
        ["points_sma_10"],
        df[df["split"] == "train"],
        df[df["split"] == "validation"].reset_index(drop=True),
    )
    y, lines = data.y("validation"), data.lines("validation")
    rng = np.random.default_rng(4)
    s = Scores(0, 0, 0, 0, 1)
    signal = y + rng.normal(0, 2, len(y))
    good = Candidate("a", {}, signal, s)
    copy = Candidate("b", {}, signal + rng.normal(0, 0.01, len(y)), s)
    w = vote(data, [good, copy]).params["weights"]
    assert sorted(w) == [0.0, 1.0]
    # two parts with independent errors: averaging them is worth far more than the margin
    other = Candidate("c", {}, y + rng.normal(0, 2, len(y)), s)
    w = vote(data, [good, other]).params["weights"]
    assert min(w) > 0
    alone = score(y, signal, lines).brier
    both = score(y, np.stack([signal, other.validation_pred], 1) @ np.array(w), lines).brier
    assert alone - both > PARSIMONY_BRIER


def test_a_stat_missing_from_the_validation_season_validates_on_late_training_days(
    synthetic_frame,
):
    from statmuse_trainer.training.stat_data import stat_data

    df = synthetic_frame.copy()
    df.loc[df["split"] == "validation", "label_points"] = np.nan  # like threes in 2022-23
    data = stat_data(df, "points")
    assert data.validation_note is not None
    assert len(data.validation) > 0
    assert data.train["game_date"].max() < data.validation["game_date"].min()
    assert set(data.validation["split"]) == {"train"}  # the test season is never touched
    intact = stat_data(synthetic_frame, "points")
    assert intact.validation_note is None
    assert set(intact.validation["split"]) == {"validation"}


def test_the_calibrated_distribution_has_no_holes(fitted):
    """The calibration map is strictly increasing, so no whole number in the bulk of the
    distribution loses all its mass to a neighbour (a step-function map did exactly that)."""
    from statmuse_shared.models.distributions import pmf, quantile

    _, f = fitted
    model = load_model(f.bundle)
    assert isinstance(model, CountModel)
    assert model.cal_y is not None
    assert np.all(np.diff(model.cal_y) >= 0)
    assert len(model.cal_x) <= 11
    for mu in (4.0, 12.0, 27.0):
        dist = model.distribution(mu, model.header.dispersion)
        lo, hi = quantile(dist, 0.05), quantile(dist, 0.95)
        masses = pmf(dist, lo, hi)
        assert min(masses) > 0.002, (mu, masses)
        assert max(masses) < 0.25, (mu, masses)


def test_the_served_candidate_is_the_smallest_within_the_parsimony_margin():
    from statmuse_trainer.training.candidates import PARSIMONY_BRIER, Candidate, Scores
    from statmuse_trainer.training.fitting import serve_choice

    def cand(name: str, brier: float, weights: list[float] | None = None) -> Candidate:
        params = {} if weights is None else {"weights": weights, "parts": ["a", "b", "c"]}
        return Candidate(name, params, np.zeros(1), Scores(brier, 0, 0, 0, 1))

    singles = {n: cand(n, 0.2010) for n in ("a", "b", "c")}
    vote3 = cand("voting", 0.2000, [0.05, 0.8, 0.15])
    close = cand("b", 0.2000 + PARSIMONY_BRIER / 2)
    assert serve_choice([vote3, close, singles["a"]], {**singles, "b": close}) is close
    far = cand("b", 0.2000 + 2 * PARSIMONY_BRIER)
    assert serve_choice([vote3, far, singles["a"]], {**singles, "b": far}) is vote3
    vote2 = cand("voting", 0.2000 + PARSIMONY_BRIER / 3, [0.0, 0.7, 0.3])
    assert serve_choice([vote3, vote2, far], {**singles, "b": far}) is vote2


def test_a_fixed_share_of_training_rows_goes_without_the_who_is_out_features() -> None:
    days = pd.date_range("2023-10-24", periods=400).date
    train = pd.DataFrame(
        {
            "player_id": np.arange(400) % 37,
            "game_date": days,
            "f_out_n": 1.0,
            "f_out_minutes": 30.0,
            "f_points_sma_10": 20.0,
        }
    )
    out = without_reports(train)
    blank = out["f_out_n"].isna()
    assert 0.15 < blank.mean() < 0.35
    assert (out.loc[blank, "f_out_minutes"].isna()).all()
    assert out["f_points_sma_10"].notna().all()  # nothing else is touched
    assert train["f_out_n"].notna().all()  # a copy
    assert without_reports(train)["f_out_n"].isna().equals(blank)  # the same rows again


def _player(
    rng: np.random.Generator, shift: float, n: int = 60, m: int = 40
) -> tuple[np.ndarray, ...]:
    """A player whose own model can learn `shift` (his games run that far from the pooled
    model's mean): n training and m validation games, half-point lines at the pooled mean."""
    x = rng.normal(size=(n + m, 3))
    pooled = 15 + 2 * x[:, 0]
    mu = np.maximum(pooled + shift, 1.0)
    r = mu / (2.0 - 1)
    y = rng.negative_binomial(r, r / (r + mu)).astype(float)
    lines = np.floor(pooled[n:]) + 0.5
    return x[:n], y[:n], x[n:], y[n:], lines, pooled[n:]


def test_a_player_head_must_beat_the_pooled_model_by_more_than_chance_among_hundreds():
    from statmuse_trainer.training.heads import HEAD_ALPHA, _fit_head

    rng = np.random.default_rng(11)
    tried = 300
    alpha = HEAD_ALPHA / tried
    # Players no different from the pooled model: a fixed t > 2 keeps a few by chance; the
    # level shared among those tried keeps none.
    null = [_player(rng, 0.0) for _ in range(tried)]
    kept = [_fit_head(i, *p, 2.0, alpha) for i, p in enumerate(null)]
    loose = [_fit_head(i, *p, 2.0, 0.023) for i, p in enumerate(null)]
    assert sum(h is not None for h in kept) == 0
    assert sum(h is not None for h in loose) > 0
    # A player who really runs 8 above the pooled mean over 80 games keeps his own model.
    assert _fit_head(7, *_player(rng, 8.0, n=80, m=80), 2.0, alpha) is not None
