"""The fitted count model: a bundle (`.npz`: numpy arrays plus a JSON header, loaded without
pickle) of a pooled regressor or ensemble, per-player heads, a negative binomial spread, a
calibration map, the line blend and the market layer; `CountModel` maps feature vectors to
distributions."""

import datetime as dt
import io
import operator
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.distributions import Tabulated
from statmuse_shared.models.market import MarketLayer
from statmuse_shared.models.output import Contribution, ModelInputError, ModelOutput
from statmuse_shared.models.regressors import LinearPart, TreePart, TreeWalk, part_from_arrays

Part = LinearPart | TreePart


class LineBlend(BaseModel):
    """How far to trust a sportsbook's line against the model's own mean.

    A line is the books' estimate of the player's game, made with news the box scores do not
    carry (injuries, minutes, lineups). At a line L, P(over) comes from the negative binomial
    with the model's dispersion and centre `weight * mean + (1 - weight) * (L + offset)`:
    weight 1 is the model alone, weight 0 the line alone. Both numbers are fitted by maximum
    likelihood on real lines of days *before* the ones the model is judged on
    (`statmuse-trainer fit-lines`); those days are recorded so that no evaluation or backtest
    can use them."""

    weight: float = Field(ge=0, le=1, examples=[0.45])
    offset: float = Field(ge=-50, le=50, examples=[0.2], description="Added to the line")
    first_day: dt.date = Field(description="First game day of the lines it was fitted on")
    last_day: dt.date = Field(description="Last game day of the lines it was fitted on")
    lines: int = Field(ge=1, description="How many real lines it was fitted on")

    def centre(self, mean: np.ndarray, line: np.ndarray) -> np.ndarray:
        """The negative binomial mean at each line (vectorised `ModelOutput.line_odds`)."""
        centre = self.weight * mean + (1.0 - self.weight) * (line + self.offset)
        return np.asarray(np.maximum(centre, 0.05), dtype=np.float64)


class CountModelHeader(BaseModel):
    """The JSON header of a count-model bundle; the arrays sit beside it in the npz."""

    model_type: Literal["count_model"] = "count_model"
    stat: Stat
    name: str = Field(examples=["points-stacking"])
    feature_set_version: str
    features: list[str] = Field(description="Column order of every part's input")
    parts: list[str] = Field(description="Array prefixes of the fitted parts", min_length=1)
    part_names: list[str] = Field(examples=[["elasticnet", "random_forest", "xgboost"]])
    weights: list[float] = Field(description="Output = intercept + sum(weight * part)")
    intercept: float = 0.0
    dispersion: float = Field(
        gt=1, description="Pooled variance-to-mean ratio phi: NB with variance phi * mean"
    )
    history_feature: str = Field(examples=["points_career_n"])
    centre_feature: str = Field(examples=["points_sma_10"])
    min_history: int = Field(ge=0)
    head_features: list[str] = Field(default_factory=list)
    league_rate_per_minute: float = Field(ge=0)
    league_minutes_features: list[str]
    league_default_minutes: float = Field(ge=0)
    league_dispersion: float = Field(gt=1, description="phi for the league baseline")
    calibrated: bool
    line_blend: LineBlend | None = Field(
        default=None, description="How P(over) at a sportsbook line weighs the line"
    )
    market_layer: MarketLayer | None = Field(
        default=None,
        description="How P(over) at a sportsbook line weighs the books' de-vigged price, "
        "when the price is known",
    )


class CountModel:
    """Pooled regressor (one part, a voting or a stacking ensemble) -> mean; per-player
    heads where they beat it on validation; negative binomial spread (variance phi * mean)
    with a per-player phi; an isotonic recalibration of the CDF. Players without enough
    history get a league baseline by minutes. `fallback` says which: None (own model),
    "pooled", "league_baseline". With a `line_blend`, P(over) at a sportsbook line also weighs
    the line, and with a `market_layer` the books' price at it (`ModelOutput.at_line`); the
    model's own distribution stays beside it."""

    model_type = "count_model"
    TOP_CONTRIBUTIONS = 5

    def __init__(self, header: CountModelHeader, arrays: Mapping[str, np.ndarray]) -> None:
        self.header = h = header
        self.stat = h.stat
        self.parts: list[Part] = [part_from_arrays(p, arrays) for p in h.parts]
        if len(h.weights) != len(self.parts) or len(h.part_names) != len(self.parts):
            raise ModelInputError("weights, part names and parts differ in number")
        width = len(h.features)
        for part in self.parts:
            if part.n_features != width:
                raise ModelInputError(f"a part expects {part.n_features} features, not {width}")
        self.weights = np.asarray(h.weights, dtype=np.float64)
        # The ensemble as served: its linear parts and its log-link tree parts (exp of their
        # trees' sum) one by one, its other tree parts (a forest and a boosted model, say)
        # merged into one walk, so their trees go down level by level together (one single
        # prediction's cost is mostly numpy calls per level).
        weighted = list(zip(h.weights, self.parts, strict=True))
        self._one_by_one = [
            (w, p) for w, p in weighted if not isinstance(p, TreePart) or p.log_link
        ]
        trees = [(w, p.walk) for w, p in weighted if isinstance(p, TreePart) and not p.log_link]
        self._trees = TreeWalk.merged(trees) if trees else None
        self._index = {n: i for i, n in enumerate(h.features)}
        self._getter = operator.itemgetter(*h.features)
        ids = arrays.get("player_r_ids", np.zeros(0, dtype=np.int64))
        self.player_dispersion = dict(
            zip(ids.tolist(), arrays.get("player_r_values", np.zeros(0)).tolist(), strict=True)
        )
        self.cal_x = np.asarray(arrays["cal_x"]) if h.calibrated else None
        self.cal_y = np.asarray(arrays["cal_y"]) if h.calibrated else None
        blend = h.line_blend
        self.blend = None if blend is None else (blend.weight, blend.offset)
        self.market = h.market_layer
        self.heads: dict[int, LinearPart] = {}
        head_ids = arrays.get("head_ids", np.zeros(0, dtype=np.int64)).tolist()
        for i, pid in enumerate(head_ids):
            self.heads[int(pid)] = LinearPart.from_arrays(f"head{i}_", arrays)
        self._head_cols = [self._index[f] for f in h.head_features] if self.heads else []

    # -- serialisation ------------------------------------------------------------------
    @classmethod
    def from_bytes(cls, data: bytes) -> "CountModel":
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (ValueError, OSError) as exc:
            raise ModelInputError(f"artifact is not a readable npz bundle: {exc}") from exc
        if "header" not in arrays:
            raise ModelInputError("npz bundle has no header")
        try:
            header = CountModelHeader.model_validate_json(arrays.pop("header").tobytes())
            return cls(header, arrays)
        except (KeyError, ValueError) as exc:
            raise ModelInputError(f"invalid count model bundle: {exc}") from exc

    @classmethod
    def with_header(cls, data: bytes, **changes: Any) -> bytes:
        """The bundle `data` with its header fields changed (e.g. `line_blend=...`), its
        arrays as they were."""
        model = cls.from_bytes(data)
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files if k != "header"}
        header = CountModelHeader.model_validate({**model.header.model_dump(), **changes})
        return cls.bundle(header, arrays)

    @staticmethod
    def bundle(header: CountModelHeader, arrays: Mapping[str, np.ndarray]) -> bytes:
        buf = io.BytesIO()
        head = np.frombuffer(header.model_dump_json().encode(), dtype=np.uint8)
        np.savez_compressed(buf, header=head, **dict(arrays))  # type: ignore[arg-type]
        return buf.getvalue()

    # -- the mean -------------------------------------------------------------------------
    def matrix(self, rows: Sequence[Mapping[str, float | None]]) -> np.ndarray:
        """Rows in feature order; a missing or None feature is NaN (numpy's float of None)."""
        names = self.header.features
        try:  # every feature present (the usual case): one C-level lookup per row
            return np.array(list(map(self._getter, rows)), dtype=np.float64).reshape(
                len(rows), len(names)
            )
        except KeyError:
            return np.array([[row.get(n) for n in names] for row in rows], dtype=np.float64)

    def pooled(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The pooled mean and its per-feature contributions (one pass through each part)."""
        mean = np.full(x.shape[0], self.header.intercept)
        total = np.zeros(x.shape)
        for w, part in self._one_by_one:
            bias, contributions = part.contributions(x)
            mean += w * (bias + contributions.sum(axis=1))
            total += w * contributions
        if self._trees is not None:
            bias, contributions = self._trees.contributions(x)
            mean += bias + contributions.sum(axis=1)
            total += contributions
        return mean, total

    def pooled_mean(self, x: np.ndarray) -> np.ndarray:
        """`pooled`'s mean without the contributions."""
        mean = np.full(x.shape[0], self.header.intercept)
        for w, part in self._one_by_one:
            mean += w * part.predict(x)
        if self._trees is not None:
            mean += self._trees.predict(x)
        return mean

    def _usable(self, x: np.ndarray) -> np.ndarray:
        h = self.header
        history = x[:, self._index[h.history_feature]]
        enough = history >= h.min_history if h.min_history > 0 else ~(history < 0)  # NaN: 0 games
        usable = enough & ~np.isnan(x[:, self._index[h.centre_feature]])
        return np.asarray(usable)

    def _league(self, x: np.ndarray) -> np.ndarray:
        h = self.header
        minutes = np.full(x.shape[0], np.nan)
        for f in reversed(h.league_minutes_features):  # first listed wins
            col = x[:, self._index[f]]
            minutes = np.where(np.isnan(col), minutes, col)
        minutes = np.where(np.isnan(minutes), h.league_default_minutes, minutes)
        return h.league_rate_per_minute * minutes

    def means(
        self, x: np.ndarray, player_ids: Sequence[int | None]
    ) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
        """Mean, dispersion (phi) and fallback flag per row (vectorised)."""
        mu, r, flags, _ = self._means(x, player_ids, explain=False)
        return mu, r, flags

    def _means(
        self, x: np.ndarray, player_ids: Sequence[int | None], *, explain: bool
    ) -> tuple[np.ndarray, np.ndarray, list[str | None], np.ndarray | None]:
        h = self.header
        usable = self._usable(x)
        mu = self._league(x)
        total = None
        if usable.any():
            pooled, total = self.pooled(x) if explain else (self.pooled_mean(x), None)
            mu = np.where(usable, pooled, mu)
        r = np.full(x.shape[0], h.dispersion)
        flags: list[str | None] = []
        for i, pid in enumerate(player_ids):
            if not usable[i]:
                r[i] = h.league_dispersion
                flags.append("league_baseline")
                continue
            head = self.heads.get(pid) if pid is not None else None
            if head is not None:
                mu[i] = float(head.predict(x[i : i + 1, self._head_cols])[0])
                flags.append(None)
            else:
                flags.append("pooled")
            if pid is not None:
                r[i] = self.player_dispersion.get(pid, h.dispersion)
        return np.maximum(mu, 0.05), r, flags, total

    # -- the distribution -----------------------------------------------------------------
    def distribution(self, mu: float, phi: float) -> Tabulated:
        return Tabulated.trusted(self.cdf_tables(np.array([mu]), np.array([phi]))[0])

    def _contributions(
        self, x: np.ndarray, pid: int | None, flag: str | None, mu: float
    ) -> tuple[Contribution, ...]:
        if flag == "league_baseline":
            used = next(
                (f for f in self.header.league_minutes_features if not np.isnan(x[self._index[f]])),
                "league_default_minutes",
            )
            value = None if used == "league_default_minutes" else float(x[self._index[used]])
            return (Contribution(used, value, mu),)
        row = x[None, :]
        if flag is None and pid is not None:
            _, contrib = self.heads[pid].contributions(row[:, self._head_cols])
            names = self.header.head_features
            values = x[self._head_cols]
            total = contrib[0]
        else:
            total = self.pooled(row)[1][0]
            names, values = self.header.features, x
        return self._top(names, values, total)

    def predict(
        self, features: Mapping[str, float | None], player_id: int | None = None
    ) -> ModelOutput:
        return self.predict_many([features], [player_id])[0]

    def predict_many(
        self, rows: Sequence[Mapping[str, float | None]], player_ids: Sequence[int | None]
    ) -> list[ModelOutput]:
        """Vectorised over rows: one matrix through each part, one contributions pass, one
        table of negative binomial CDFs (a slate of 300 costs little more than one row)."""
        x = self.matrix(rows)
        mu, r, flags, totals = self._means(x, player_ids, explain=True)
        tables = self.cdf_tables(mu, r)
        names = self.header.features
        k = min(self.TOP_CONTRIBUTIONS, x.shape[1])
        if totals is not None:  # every row's top k at once (as lists: no numpy scalars below)
            every = np.arange(x.shape[0])[:, None]
            part = np.argpartition(-np.abs(totals), k - 1, axis=1)[:, :k]
            top = part[every, np.argsort(-np.abs(totals[every, part]), axis=1)]
            top_idx = top.tolist()
            top_values = x[every, top].tolist()
            top_totals = totals[every, top].tolist()
        out = []
        for i, flag in enumerate(flags):
            if flag == "pooled" and totals is not None:
                contributions = tuple(
                    Contribution(names[j], None if v != v else v, t)  # v != v: NaN
                    for j, v, t in zip(top_idx[i], top_values[i], top_totals[i], strict=True)
                )
            else:
                contributions = self._contributions(x[i], player_ids[i], flag, float(mu[i]))
            out.append(
                ModelOutput(
                    Tabulated.trusted(tables[i]),
                    contributions,
                    flag,
                    float(mu[i]),
                    float(r[i]),
                    self.blend,
                    self.market,
                )
            )
        return out

    def _top(
        self, names: Sequence[str], values: np.ndarray, total: np.ndarray
    ) -> tuple[Contribution, ...]:
        top = np.argsort(-np.abs(total))[: self.TOP_CONTRIBUTIONS]
        return tuple(
            Contribution(
                names[i], None if np.isnan(values[i]) else float(values[i]), float(total[i])
            )
            for i in top
        )

    def cdf_tables(
        self, mu: np.ndarray, phi: np.ndarray, *, tail: float = 1e-9
    ) -> list[tuple[float, ...]]:
        """Each row's CDF at 0, 1, ... until the remaining mass is below `tail` (last entry
        1), through the calibration map: the negative binomial with mean mu and variance
        phi * mu (size r = mu / (phi - 1)), by the recurrence P(k+1) = P(k) (k + r) / (k + 1)
        (1 - p) of `NegativeBinomial.cdf`, for all rows at once."""
        r = mu / (phi - 1.0)
        sd = np.sqrt(mu + mu * mu / r)
        # Every row's tail is below `tail` within 12 sd for the dispersions we fit; a row that
        # is not gets the old, far wider table. The entries are prefix sums and products, so a
        # narrower table holds exactly the same numbers up to each row's end.
        for spread in (12, 50):
            width = int(np.max(mu + spread * sd + 50)) + 2
            k = np.arange(width - 1, dtype=np.float64)
            q = (mu / (r + mu))[:, None]
            steps = (k[None, :] + r[:, None]) / (k[None, :] + 1) * q
            first = np.exp(r * np.log(r / (r + mu)))[:, None]
            terms = np.concatenate([first, first * np.cumprod(steps, axis=1)], axis=1)
            cdf = np.minimum(np.cumsum(terms, axis=1), 1.0)
            reached = cdf >= 1.0 - tail
            if reached[:, -1].all():
                break
        ends = np.argmax(reached, axis=1)
        ends = np.where(reached[np.arange(len(mu)), ends], ends, width - 1)
        if self.cal_x is not None and self.cal_y is not None:
            cdf = np.maximum.accumulate(np.interp(cdf, self.cal_x, self.cal_y), axis=1)
        return [(*cdf[i, : ends[i] + 1].tolist(), 1.0) for i in range(len(mu))]
