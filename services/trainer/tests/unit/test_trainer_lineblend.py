"""The line weight: fitted where the truth is known (synthetic games, unit scale), served the
same way one row at a time and vectorised, and kept out of what it was fitted on."""

import csv
import datetime as dt
import gzip
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from statmuse_shared.contract.messages import ModelPublished
from statmuse_shared.models.artifacts import load_model
from statmuse_shared.models.count import CountModel, LineBlend
from statmuse_shared.models.distributions import NegativeBinomial, line_probabilities
from statmuse_shared.models.output import ModelOutput
from statmuse_shared.models.serving import Served, predict
from statmuse_trainer.backtest.engine import BacktestEngine
from statmuse_trainer.backtest.market import BacktestError, ModelSet
from statmuse_trainer.cli import app
from statmuse_trainer.training.fitting import fit_stat
from statmuse_trainer.training.lineblend import MIN_LINES, LineFitError, fit_blend, fit_lines
from statmuse_trainer.training.market import fit_market
from statmuse_trainer.training.served import line_odds, served_means
from statmuse_trainer.training.stat_data import without_reports

DAY = dt.date(2024, 3, 1)
PHI = 1.8


def games(n: int, model_noise: float, line_noise: float, seed: int = 5):
    """True means theta; our mean = theta + noise; the book's line = theta + noise, at a half
    point; outcomes ~ NB(theta). Returns (mean, phi, lines, went_over) without pushes."""
    rng = np.random.default_rng(seed)
    theta = rng.uniform(8, 30, n)
    mean = np.maximum(theta + rng.normal(0, model_noise, n), 0.5)
    lines = np.floor(np.maximum(theta + rng.normal(0, line_noise, n), 1)) + 0.5
    r = theta / (PHI - 1)
    actual = rng.negative_binomial(r, r / (r + theta))
    return mean, np.full(n, PHI), lines, (actual > lines).astype(float)


def fitted_weight(model_noise: float, line_noise: float) -> float:
    mean, phi, lines, over = games(6000, model_noise, line_noise)
    return fit_blend(mean, phi, lines, over, [DAY] * len(lines)).blend.weight


def test_the_weight_follows_who_knows_more():
    # Gaussian evidence: the best weight on our mean is line_var / (line_var + model_var).
    assert fitted_weight(0.5, 4.0) > 0.85  # our mean is far better than the line
    assert fitted_weight(4.0, 0.5) < 0.15  # the line is far better than our mean
    assert fitted_weight(2.0, 2.0) == pytest.approx(0.5, abs=0.15)


def test_the_blend_beats_either_side_alone_where_both_know_something():
    mean, phi, lines, over = games(6000, 2.0, 2.0, seed=9)
    fit = fit_blend(mean, phi, lines, over, [DAY, DAY + dt.timedelta(days=9)] * 3000)
    assert fit.log_loss_blended < fit.log_loss_alone
    assert (fit.blend.first_day, fit.blend.last_day) == (DAY, DAY + dt.timedelta(days=9))
    assert fit.blend.lines == 6000


def test_too_few_lines_are_refused():
    mean, phi, lines, over = games(MIN_LINES - 1, 1.0, 1.0)
    with pytest.raises(LineFitError, match="at least"):
        fit_blend(mean, phi, lines, over, [DAY] * len(lines))


def blend(weight: float = 0.4, offset: float = 0.3) -> LineBlend:
    return LineBlend(weight=weight, offset=offset, first_day=DAY, last_day=DAY, lines=500)


@pytest.mark.parametrize("line", [17.5, 18.0, 3.0, 0.5])
def test_line_odds_come_from_the_blended_centre_and_sum_to_one(line: float):
    dist = NegativeBinomial(20.0, 20.0 / (PHI - 1))
    plain = ModelOutput(dist, (), None, 20.0, PHI, None)
    assert plain.line_odds(line) == line_probabilities(dist, line)
    out = ModelOutput(dist, (), None, 20.0, PHI, (0.4, 0.3))
    centre = 0.4 * 20.0 + 0.6 * (line + 0.3)
    want = line_probabilities(NegativeBinomial(centre, centre / (PHI - 1)), line)
    got = out.line_odds(line)
    assert got == want
    assert got.over_probability + got.under_probability + got.push_probability == pytest.approx(1)
    assert (got.push_probability > 0) == float(line).is_integer()
    with pytest.raises(ValueError, match="non-negative"):
        out.line_odds(-1.0)
    with pytest.raises(ValueError, match="non-negative"):
        out.line_odds(math.nan)


@pytest.fixture(scope="module")
def points_bundle(synthetic_frame) -> bytes:
    return fit_stat(synthetic_frame, "points", jobs=1).bundle


@pytest.fixture(scope="module")
def blended(synthetic_frame, points_bundle):
    plain = CountModel.from_bytes(points_bundle)
    return (
        synthetic_frame,
        load_model(CountModel.with_header(points_bundle, line_blend=blend())),
        plain,
    )


def test_served_answers_match_the_vectorised_numbers_the_reports_use(blended):
    df, model, plain = blended
    assert isinstance(model, CountModel)
    test = df[df["split"] == "test"].reset_index(drop=True)
    mu, r, _ = served_means(model, test)
    lines = np.floor(mu) + np.where(np.arange(len(mu)) % 2 == 0, 0.5, 0.0)  # half and whole
    under, push, over = line_odds(model, mu, r, lines, calibrated=True, use_line=True)
    _, _, alone = line_odds(model, mu, r, lines, calibrated=True)
    info = ModelPublished(
        event_id="e",
        name="n",
        version="v1",
        stat="points",
        alias="production",
        model_type="count_model",
        artifact_uri="file:///x",
        checksum="0",
        feature_set_version="fs-2",
    )
    names = model.header.features
    checked = 0
    for i in range(0, len(test), 23):
        values = test.loc[i, [f"f_{n}" for n in names]]
        row = {n: (None if math.isnan(v) else float(v)) for n, v in zip(names, values, strict=True)}
        pid = int(test.loc[i, "player_id"])
        p = predict(Served(info, model), row, line=float(lines[i]), player_id=pid)
        assert p.over_probability == pytest.approx(over[i], abs=1e-6)
        assert p.push_probability == pytest.approx(push[i], abs=1e-6)
        assert p.under_probability == pytest.approx(under[i], abs=1e-6)
        assert p.model_over_probability == pytest.approx(alone[i], abs=1e-6)
        assert p.line_weight == 0.4
        # the same bundle without the blend serves the model alone
        q = predict(Served(info, plain), row, line=float(lines[i]), player_id=pid)
        assert q.over_probability == pytest.approx(alone[i], abs=1e-6)
        assert q.line_weight is None
        assert q.model_over_probability == q.over_probability
        checked += 1
    assert checked > 10
    assert not np.allclose(over, alone), "the line must move the answer"


MODELS = Path(__file__).resolve().parents[4] / "models" / "holdout-2023-24"  # never saw 2023-24


def test_a_backtest_over_the_days_the_weights_were_fitted_on_is_refused(tmp_path: Path):
    shutil.copy(MODELS / "points.json", tmp_path / "points.json")
    window = LineBlend(
        weight=0.5,
        offset=0.0,
        first_day=dt.date(2023, 10, 24),
        last_day=dt.date(2024, 3, 15),
        lines=900,
    )
    shipped = (MODELS / "points.npz").read_bytes()
    (tmp_path / "points.npz").write_bytes(CountModel.with_header(shipped, line_blend=window))
    meta = json.loads((tmp_path / "points.json").read_text())
    meta["training_window"]["last_day"] = "2023-06-12"
    (tmp_path / "points.json").write_text(json.dumps(meta))
    models = ModelSet.load(tmp_path)
    assert models.last_day == dt.date(2024, 3, 15)
    empty = pd.DataFrame({"player_id": [], "player_name": [], "game_date": [], "as_of": []})
    with pytest.raises(BacktestError, match="line weights"):
        BacktestEngine(
            features=empty,
            lines=[],
            start=dt.date(2024, 3, 2),
            end=dt.date(2024, 5, 25),
            model_sets=[models],
        )
    BacktestEngine(
        features=empty,
        lines=[],
        start=dt.date(2024, 3, 16),
        end=dt.date(2024, 5, 25),
        model_sets=[models],
    )


def write_lines(test: pd.DataFrame, lines: Path) -> None:
    """Two books' points lines around each test game's outcome (-110 both ways)."""
    rng = np.random.default_rng(1)
    with gzip.open(lines / "books.csv.gz", "wt", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "game_date",
                "commence_time",
                "event_id",
                "home_team",
                "away_team",
                "player_name",
                "market",
                "bookmaker",
                "line",
                "over_odds",
                "under_odds",
            ]
        )
        for r in test.itertuples():
            line = math.floor(max(r.label_points + rng.normal(0, 4), 1)) + 0.5
            for book in ("fanduel", "draftkings"):
                w.writerow(
                    [
                        r.game_date.date().isoformat(),
                        "",
                        "e",
                        "h",
                        "a",
                        r.player_name,
                        "points",
                        book,
                        line,
                        -110,
                        -110,
                    ]
                )


def test_the_cli_fits_on_lines_before_the_cutoff_and_writes_the_bundle(
    synthetic_frame, points_bundle, tmp_path: Path
):
    """Synthetic games and lines (unit scale): two books' lines around each test game's true
    level; the weights land in the written bundle and sidecar, with the days they saw."""
    test = synthetic_frame[synthetic_frame["split"] == "test"]
    dataset, models, lines, out = (tmp_path / d for d in ("ds", "models", "lines", "out"))
    for d in (dataset, models, lines):
        d.mkdir()
    test.to_parquet(dataset / "test.parquet")
    (models / "points.npz").write_bytes(points_bundle)
    (models / "points.json").write_text(json.dumps({"dataset_version": "synthetic"}))
    write_lines(test, lines)
    days = sorted(test["game_date"].dt.date.unique())
    cutoff = days[len(days) // 2]
    base = [
        "fit-lines",
        "--models",
        str(models),
        "--dataset",
        str(dataset),
        "--lines",
        str(lines),
        "--out",
        str(out),
    ]
    runner = CliRunner()
    ok = runner.invoke(app, [*base, "--before", cutoff.isoformat()])
    assert ok.exit_code == 0, ok.output
    assert "points: weight" in ok.output
    fitted = CountModel.from_bytes((out / "points.npz").read_bytes()).header.line_blend
    assert fitted is not None
    assert fitted.last_day < cutoff
    assert fitted.lines == 2 * int((test["game_date"].dt.date < cutoff).sum())
    meta = json.loads((out / "points.json").read_text())
    assert meta["dataset_version"] == "synthetic"
    assert meta["line_blend"]["weight"] == fitted.weight
    # the original bundle is untouched when --out is elsewhere
    assert CountModel.from_bytes((models / "points.npz").read_bytes()).header.line_blend is None
    early = runner.invoke(app, [*base, "--before", days[0].isoformat()])
    assert early.exit_code == 2
    assert "no stat had enough real lines" in early.output
    bad = runner.invoke(app, [*base, "--before", "March"])
    assert bad.exit_code == 2
    assert "must be a date" in bad.output


@pytest.fixture(scope="module")
def reported_frame(synthetic_frames) -> pd.DataFrame:
    """The synthetic games with who is out: in about a third of them a teammate worth 12
    points (30 minutes) sits out, and the player scores about 6 more."""
    frame = synthetic_frames(4)
    rng = np.random.default_rng(9)
    out = rng.random(len(frame)) < 1 / 3
    for name, value in (("out_n", 1.0), ("out_minutes", 30.0), ("out_points", 12.0)):
        frame[f"f_{name}"] = np.where(out, value, 0.0)
    frame.loc[out, "label_points"] += rng.poisson(6.0, int(out.sum()))
    return frame


@pytest.fixture(scope="module")
def reported_bundle(reported_frame) -> bytes:
    return fit_stat(reported_frame, "points", jobs=1).bundle


def datasets_with_and_without_reports(test: pd.DataFrame, root: Path) -> list[Path]:
    paths = []
    for name, frame in (("reported", test), ("unreported", without_reports(test, share=1.0))):
        (root / name).mkdir()
        frame.to_parquet(root / name / "test.parquet")
        paths.append(root / name)
    return paths


def test_the_weights_are_fitted_on_our_means_without_who_is_out(
    reported_frame, reported_bundle, tmp_path: Path
):
    """The files stand-in knows every player who sat out, and a deployment may have no
    availability feed: the weight is fitted on our means with the who-is-out features
    blanked, so a dataset whose reports move our means gives the weight a dataset without
    reports gives. So does the market layer's fit."""
    test = reported_frame[reported_frame["split"] == "test"].reset_index(drop=True)
    model = CountModel.from_bytes(reported_bundle)
    reported, _, _ = served_means(model, test)
    blanked, _, _ = served_means(model, without_reports(test, share=1.0))
    assert np.abs(reported - blanked).mean() > 1.0, "the model reads the reports"
    models, lines = tmp_path / "models", tmp_path / "lines"
    for d in (models, lines):
        d.mkdir()
    (models / "points.npz").write_bytes(reported_bundle)
    write_lines(test, lines)
    days = sorted(test["game_date"].dt.date.unique())
    blends, layers = [], []
    for dataset in datasets_with_and_without_reports(test, tmp_path):
        [result] = fit_lines(
            models=models,
            dataset=dataset,
            lines_dir=lines,
            before=days[len(days) // 2],
            out=tmp_path / f"blend-{dataset.name}",
        )
        assert result.fit is not None
        blends.append(result.fit.blend)
        layers.append(
            fit_market(
                models=models,
                dataset=dataset,
                lines_dir=lines,
                before=days[2 * len(days) // 3],
                out=tmp_path / f"layer-{dataset.name}",
                rounds=100,
            ).coef.tolist()
        )
    assert blends[0] == blends[1]
    assert layers[0] == layers[1]


def test_a_refit_carries_the_line_weights_of_the_model_that_had_not_seen_the_games(
    synthetic_frame, points_bundle, tmp_path: Path
):
    from statmuse_trainer.training.run import carry_line_weights

    source = tmp_path / "holdout"
    source.mkdir()
    (source / "points.npz").write_bytes(CountModel.with_header(points_bundle, line_blend=blend()))
    refit = fit_stat(synthetic_frame, "points", jobs=1)
    assert refit.header.line_blend is None
    assert carry_line_weights(refit, source)
    assert refit.header.line_blend == blend()
    assert CountModel.from_bytes(refit.bundle).header.line_blend == blend()
    assert not carry_line_weights(refit, tmp_path)  # no points.npz there
