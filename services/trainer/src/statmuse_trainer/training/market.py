"""The market layer (`statmuse_shared.models.market.MarketLayer`), fitted on real lines.

One prop is one player's stat on one day, at the books' modal line, priced at their mean
de-vigged P(over) at that line (and bet at their median price of a side): the way a user who
asks about a prop sees it, and the way each prop counts once however many books post it.

`fit_market` fits one layer on every stat's props of game days before a cutoff (pooled: the
bundled pra lines start in October, the other markets in March, and three numbers do not need
a market each), then scores each stat on the props of later days against the books and
against the stat's `LineBlend`, which was fitted before the same cutoff. A bundle gets the
layer only where it beat the line blend there. The edges it finds on those later days are
reported by size with their hit rate and ROI at the books' median price, and the smallest
edge whose ROI interval lies above zero, if any, is the only one the layer recommends bets
from (`MarketLayer.min_edge`).

The layer is fitted on the model's P(over) without who is out, as the line blend is (see
`lineblend`): the stand-in's reports are perfect, a real one is not, and a deployment without
the feed has none. It is scored on the props as the dataset has them.
"""

import datetime as dt
import json
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from statmuse_shared.models.count import CountModel
from statmuse_shared.models.market import LayerScore, MarketLayer
from statmuse_shared.models.pricing import decimal_odds
from statmuse_shared.models.shopping import median_price
from statmuse_trainer.lines import LineRows, join_lines, match_frame
from statmuse_trainer.training.served import (
    given_no_push,
    layer_over,
    logits,
    nb_line_odds,
    refuse_in_sample,
    served_means,
)
from statmuse_trainer.training.stat_data import without_reports

MIN_LINES = 500  # fewer props than this before the cutoff cannot pin three numbers down
EDGE_BUCKETS = (0.0, 0.01, 0.02, 0.03, 0.05)  # |our P(over) - the books'|, lower bounds


class MarketFitError(ValueError):
    """The layer cannot be fitted as asked; the message says why."""


@dataclass(frozen=True)
class Props:
    """One stat's props: a row each (day, line, the books' mean de-vigged P(over) at their
    modal line, outcome, the model's own and the line blend's P(over | no push), the books'
    median price of each side)."""

    stat: str
    day: np.ndarray
    line: np.ndarray
    books: np.ndarray
    went_over: np.ndarray
    model: np.ndarray
    blend: np.ndarray
    over_price: np.ndarray
    under_price: np.ndarray

    def where(self, keep: np.ndarray) -> "Props":
        return Props(
            self.stat, *(getattr(self, f)[keep] for f in list(self.__dataclass_fields__)[1:])
        )

    def __len__(self) -> int:
        return len(self.day)


def consensus(joined: LineRows) -> list[tuple[int, float, np.ndarray]]:
    """Per test row: its modal line (ties: nearest the median line, then the lower) and the
    indices of the book lines at it."""
    by_row: dict[int, list[int]] = defaultdict(list)
    for i, row in enumerate(joined.row.tolist()):
        by_row[row].append(i)
    out = []
    for row, idx in by_row.items():
        counts = Counter(joined.line[idx].tolist())
        top = max(counts.values())
        middle = statistics.median(joined.line[idx].tolist())
        line = min((v for v, n in counts.items() if n == top), key=lambda v: (abs(v - middle), v))
        at = np.array([i for i in idx if joined.line[i] == line])
        out.append((row, float(line), at))
    return out


def props_of(model: CountModel, test: pd.DataFrame, joined: LineRows) -> Props:
    mu, phi, _ = served_means(model, test)
    rows = consensus(joined)
    row = np.array([r for r, _, _ in rows], dtype=int)
    line = np.array([v for _, v, _ in rows])
    books = np.array([joined.books[at].mean() for _, _, at in rows])
    went = np.array([joined.went_over[at[0]] for _, _, at in rows])
    over_price = np.array([median_price(joined.over_odds[at].tolist()) for _, _, at in rows])
    under_price = np.array([median_price(joined.under_odds[at].tolist()) for _, _, at in rows])
    under, _, over = nb_line_odds(np.maximum(mu[row], 0.05), phi[row], line)
    own = given_no_push(under, over)
    blend = model.header.line_blend
    if blend is not None:
        under, _, over = nb_line_odds(blend.centre(mu[row], line), phi[row], line)
        blended = given_no_push(under, over)
    else:
        blended = own
    days = pd.to_datetime(test["game_date"]).dt.date.to_numpy()[row]
    return Props(model.stat.value, days, line, books, went, own, blended, over_price, under_price)


def fit_coefficients(books: np.ndarray, model: np.ndarray, went: np.ndarray) -> np.ndarray:
    """(intercept, book weight, model weight): logistic regression of the outcome on
    logit(books) and logit(model)."""
    from sklearn.linear_model import LogisticRegression

    x = np.column_stack([logits(books), logits(model)])
    fit = LogisticRegression(C=1.0).fit(x, went)
    return np.array([fit.intercept_[0], *fit.coef_[0]])


def _ci(values: np.ndarray, rounds: int, seed: int = 0) -> tuple[float, float, float]:
    if len(values) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (rounds, len(values)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(values.mean()), float(lo), float(hi)


@dataclass(frozen=True)
class Bucket:
    low: float
    bets: int
    hit_rate: tuple[float, float, float]
    roi: tuple[float, float, float]


def edge_buckets(p: np.ndarray, props: Props, rounds: int) -> list[Bucket]:
    """Bets on the side our P(over) favours against the books', by the size of the edge,
    settled at the books' median price of that side."""
    edge = p - props.books
    over = edge > 0
    won = np.where(over, props.went_over == 1, props.went_over == 0)
    price = np.where(over, props.over_price, props.under_price)
    payout = np.array([decimal_odds(int(a)) for a in price]) if len(price) else np.zeros(0)
    profit = np.where(won, payout - 1, -1.0)
    out = []
    bounds = [*EDGE_BUCKETS, float("inf")]
    for low, high in zip(bounds, bounds[1:], strict=False):
        pick = (np.abs(edge) >= low) & (np.abs(edge) < high)
        out.append(
            Bucket(
                low,
                int(pick.sum()),
                _ci(won[pick].astype(float), rounds),
                _ci(profit[pick], rounds),
            )
        )
    return out


def min_edge(buckets: list[Bucket]) -> float | None:
    """The smallest edge from which every bucket's ROI interval lies above zero; None: none."""
    for i, b in enumerate(buckets):
        rest = buckets[i:]
        if all(x.bets > 0 and x.roi[1] > 0 for x in rest):
            return b.low
    return None


@dataclass
class StatScore:
    stat: str
    props: int
    brier: float
    brier_line_blend: float
    brier_books: float
    gap_books: tuple[float, float, float]  # layer minus books, paired
    gap_blend: tuple[float, float, float]  # layer minus line blend, paired
    ece: float
    ece_books: float
    served: bool
    buckets: list[Bucket] = field(default_factory=list)
    blend_buckets: list[Bucket] = field(default_factory=list)


@dataclass
class MarketFit:
    coef: np.ndarray
    fitted_props: int
    first_day: dt.date
    last_day: dt.date
    per_stat_fitted: dict[str, int]
    scores: list[StatScore]
    min_edge: float | None
    buckets: list[Bucket]  # the served stats' later props pooled


def ece(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    idx = np.clip((p * bins).astype(int), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.mean() * abs(p[m].mean() - y[m].mean())
    return float(total)


def score(stat: str, p: np.ndarray, props: Props, rounds: int) -> StatScore:
    y = props.went_over
    sq = (p - y) ** 2
    books, blend = (props.books - y) ** 2, (props.blend - y) ** 2
    gap_books = _ci(sq - books, rounds)
    gap_blend = _ci(sq - blend, rounds)
    return StatScore(
        stat,
        len(props),
        float(sq.mean()),
        float(blend.mean()),
        float(books.mean()),
        gap_books,
        gap_blend,
        ece(p, y),
        ece(props.books, y),
        served=bool(sq.mean() < blend.mean()),
        buckets=edge_buckets(p, props, rounds),
        blend_buckets=edge_buckets(props.blend, props, rounds),
    )


def fit_market(
    *, models: Path, dataset: Path, lines_dir: Path, before: dt.date, out: Path, rounds: int
) -> MarketFit:
    """Fit the layer on the props of days before `before` (pooled over stats, without who is
    out), score each stat on the props after both its line blend's and the layer's fitting
    days, and write every bundle, with the layer where it beat the line blend, to `out`."""
    if not any(lines_dir.glob("*.csv.gz")):
        raise MarketFitError(f"no prop line files (*.csv.gz) in {lines_dir}")
    bundles = sorted(models.glob("*.npz"))
    if not bundles:
        raise MarketFitError(f"no model bundles (*.npz) in {models}")
    test = pd.read_parquet(dataset / "test.parquet")
    for season in {str(s) for s in test["season"].unique()}:
        for path in bundles:
            refuse_in_sample(path, season)
    matched, _ = match_frame(test, lines_dir)
    loaded = {path: CountModel.from_bytes(path.read_bytes()) for path in bundles}
    joined = {path: join_lines(test, matched, model.stat.value) for path, model in loaded.items()}
    props = {path: props_of(model, test, joined[path]) for path, model in loaded.items()}
    unreported = without_reports(test, share=1.0)
    early = {
        path: props_of(model, unreported, joined[path]).where(props[path].day < before)
        for path, model in loaded.items()
    }
    fitted = sum(len(p) for p in early.values())
    if fitted < MIN_LINES:
        raise MarketFitError(f"{fitted} props before {before}; at least {MIN_LINES} needed")
    coef = fit_coefficients(
        np.concatenate([p.books for p in early.values()]),
        np.concatenate([p.model for p in early.values()]),
        np.concatenate([p.went_over for p in early.values()]),
    )
    days = np.concatenate([p.day for p in early.values()])
    first, last = min(days), max(days)
    scores = []
    scored_after: dict[Path, dt.date] = {}
    for path, p in props.items():
        blend = loaded[path].header.line_blend
        after = max(last, blend.last_day) if blend is not None else last
        scored_after[path] = after
        later = p.where(p.day > after)
        if len(later) == 0:
            continue
        scores.append(score(p.stat, layer_over(coef, later.books, later.model), later, rounds))
    pooled_buckets = _pooled_buckets(coef, props, scores, last, loaded, rounds)
    threshold = min_edge(pooled_buckets)
    out.mkdir(parents=True, exist_ok=True)
    by_stat = {s.stat: s for s in scores}
    for path, model in loaded.items():
        s = by_stat.get(model.stat.value)
        layer = None
        if s is not None and s.served:
            layer = MarketLayer(
                intercept=round(float(coef[0]), 6),
                book_weight=round(float(coef[1]), 6),
                model_weight=round(float(coef[2]), 6),
                first_day=first,
                last_day=last,
                lines=fitted,
                min_edge=threshold,
                out_of_sample=LayerScore(
                    first_day=min(props[path].day[props[path].day > scored_after[path]]),
                    last_day=max(props[path].day),
                    lines=s.props,
                    brier=round(s.brier, 6),
                    brier_line_blend=round(s.brier_line_blend, 6),
                    brier_books=round(s.brier_books, 6),
                ),
            )
        data = path.read_bytes()
        (out / path.name).write_bytes(CountModel.with_header(data, market_layer=layer))
        sidecar = path.with_suffix(".json")
        meta = json.loads(sidecar.read_text()) if sidecar.exists() else {}
        meta["market_layer"] = None if layer is None else layer.model_dump(mode="json")
        (out / sidecar.name).write_text(json.dumps(meta, indent=2, default=float) + "\n")
    return MarketFit(
        coef,
        fitted,
        first,
        last,
        {p.stat: len(e) for p, e in zip(props.values(), early.values(), strict=True)},
        scores,
        threshold,
        pooled_buckets,
    )


def _pooled_buckets(
    coef: np.ndarray,
    props: dict[Path, Props],
    scores: list[StatScore],
    last: dt.date,
    loaded: dict[Path, CountModel],
    rounds: int,
) -> list[Bucket]:
    """Edge buckets over every stat the layer would serve (the later props pooled)."""
    served = {s.stat for s in scores if s.served}
    parts = []
    for path, p in props.items():
        if p.stat not in served:
            continue
        blend = loaded[path].header.line_blend
        after = max(last, blend.last_day) if blend is not None else last
        parts.append(p.where(p.day > after))
    if not parts:
        return []
    pooled = Props(
        "all",
        *(
            np.concatenate([getattr(p, f) for p in parts])
            for f in list(Props.__dataclass_fields__)[1:]
        ),
    )
    return edge_buckets(layer_over(coef, pooled.books, pooled.model), pooled, rounds)


def _fmt_ci(v: tuple[float, float, float], digits: int = 4, pct: bool = False) -> str:
    if v[0] != v[0]:  # NaN: no bets
        return "–"
    if pct:
        return f"{100 * v[0]:+.1f}% [{100 * v[1]:+.1f}, {100 * v[2]:+.1f}]"
    return f"{v[0]:+.{digits}f} [{v[1]:+.{digits}f}, {v[2]:+.{digits}f}]"


def _bucket_rows(buckets: list[Bucket]) -> list[str]:
    bounds = [*EDGE_BUCKETS, float("inf")]
    rows = []
    for b, high in zip(buckets, bounds[1:], strict=False):
        span = f"{b.low:.2f}+" if high == float("inf") else f"{b.low:.2f}–{high:.2f}"
        hit = (
            "–"
            if b.bets == 0
            else f"{b.hit_rate[0]:.3f} [{b.hit_rate[1]:.3f}, {b.hit_rate[2]:.3f}]"
        )
        rows.append(f"| {span} | {b.bets} | {hit} | {_fmt_ci(b.roi, pct=True)} |")
    return rows


def figures(fit: MarketFit, folder: Path) -> tuple[Path, Path]:
    """Two pictures for the report: each stat's Brier gap to the books, and the ROI of the
    layer's edges by size, both with their intervals."""
    from statmuse_trainer.figures import intervals_png

    folder.mkdir(parents=True, exist_ok=True)
    gaps, edges = folder / "market_brier_gap.png", folder / "market_edges_roi.png"
    intervals_png(
        gaps,
        [(s.stat, *s.gap_books) for s in fit.scores],
        title="Layer minus books, Brier (later lines)",
        xlabel="Brier difference (below zero: better than the books)",
        zero_label="the books",
    )
    bounds = [*EDGE_BUCKETS, float("inf")]
    intervals_png(
        edges,
        [
            (
                (f"{b.low:.2f}+" if high == float("inf") else f"{b.low:.2f}-{high:.2f}")
                + f" ({b.bets})",
                100 * b.roi[0],
                100 * b.roi[1],
                100 * b.roi[2],
            )
            for b, high in zip(fit.buckets, bounds[1:], strict=False)
            if b.bets
        ],
        title="Bets on the layer's side by edge size: ROI at the median price",
        xlabel="ROI % (95% interval)",
        zero_label="break-even",
    )
    return gaps, edges


def report(fit: MarketFit, *, command: str, pictures: tuple[str, str] | None = None) -> str:
    """The fit as markdown: the coefficients, each stat's later-days score, the edges."""
    c = fit.coef
    out = [
        "# The market layer",
        "",
        f"Generated {dt.date.today().isoformat()} by `{command}`.",
        "",
        "At a sportsbook's line with both prices given, the served P(over) is "
        f"expit({c[0]:+.4f} {c[1]:+.4f} × logit(books' de-vigged P(over)) {c[2]:+.4f} × "
        "logit(the model's own P(over) at the line)), and the distribution drawn is the "
        "negative binomial (the model's dispersion) with that P(over) at the line. Without "
        "both prices the line blend answers, as before.",
        "",
        f"Fitted on {fit.fitted_props} props of {fit.first_day} to {fit.last_day} (one per "
        "player, stat and day: the books' modal line, their mean de-vigged price at it), all "
        "stats pooled: "
        + ", ".join(f"{k} {v}" for k, v in sorted(fit.per_stat_fitted.items()) if v)
        + " (the other stats have no lines in the bundled files). Every number below comes "
        "from later days: lines neither the layer nor the line blend was fitted on. Bets are "
        "settled at the books' median price of the side.",
        "",
        "## Brier against the books and the line blend (later days)",
        "",
        "| stat | props | layer | line blend | books | layer minus books [95%] | "
        "layer minus line blend [95%] | ECE layer / books | served |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in fit.scores:
        out.append(
            f"| {s.stat} | {s.props} | {s.brier:.4f} | {s.brier_line_blend:.4f} | "
            f"{s.brier_books:.4f} | {_fmt_ci(s.gap_books)} | {_fmt_ci(s.gap_blend)} | "
            f"{s.ece:.4f} / {s.ece_books:.4f} | {'yes' if s.served else 'no'} |"
        )
    out += [
        "",
        "A stat is served the layer only where its Brier beat the line blend's here.",
        "",
        *([f"![Brier gap by stat]({pictures[0]})", ""] if pictures else []),
        "## Edges and their record (later days, served stats pooled)",
        "",
        "A bet on the side the layer favours against the books, by the size of the edge "
        "(|our P(over) − the books'|), at the books' median price of that side.",
        "",
        "| edge | bets | hit rate [95%] | ROI [95%] |",
        "|---|---|---|---|",
        *_bucket_rows(fit.buckets),
        "",
        *([f"![ROI by edge size]({pictures[1]})", ""] if pictures else []),
        (
            f"Recommendations come only from edges of {fit.min_edge:.2f} up, where every "
            "bucket's ROI interval lies above zero."
            if fit.min_edge is not None
            else "No edge size won money with an interval above zero, so the layer recommends "
            "no bet: every answer it gives is PASS. Its value is the probability, not a tip."
        ),
        "",
        "For comparison, the line blend's own edges against the same books:",
        "",
        "| stat | edge | bets | hit rate [95%] | ROI [95%] |",
        "|---|---|---|---|---|",
    ]
    bounds = [*EDGE_BUCKETS, float("inf")]
    for s in fit.scores:
        for b, high in zip(s.blend_buckets, bounds[1:], strict=False):
            span = f"{b.low:.2f}+" if high == float("inf") else f"{b.low:.2f}–{high:.2f}"
            hit = (
                "–"
                if b.bets == 0
                else f"{b.hit_rate[0]:.3f} [{b.hit_rate[1]:.3f}, {b.hit_rate[2]:.3f}]"
            )
            out.append(f"| {s.stat} | {span} | {b.bets} | {hit} | {_fmt_ci(b.roi, pct=True)} |")
    return "\n".join(out) + "\n"
