"""Data quality over the last day of ingest runs: how many rows came without a critical field
(missing), how many were flagged as outliers against the player's own history, how many runs
failed at the source, and how old the newest game is.

Pure: storage counts a window of runs (`ReportRepository.quality_counts`, a `Quality` as
measured at the window's end); the ratios and the freshness follow from the counts, and
`gauges` gives the values Prometheus exports for the alert rules (deploy/prometheus).
`backfill.measure_quality` reads the counts, keeps the measurement in `ingest.data_quality`
and sets the gauges.
"""

import datetime as dt
import time
from dataclasses import dataclass

from statmuse_ingestor import metrics

WINDOW = dt.timedelta(hours=24)
# The reject reasons that mean a box-score field was absent (service.RejectedRow: "missing
# ..."), on the player rows the read count is made of (a LIKE pattern for the adapter).
MISSING = "player: missing %"


@dataclass(frozen=True, slots=True)
class Quality:
    """The counts of a window of runs (and the newest game stored), as of `measured_at`."""

    measured_at: dt.datetime
    runs: int
    runs_failed: int
    rows_read: int
    rows_missing: int
    rows_rejected: int
    rows_flagged: int
    last_game_date: dt.date | None

    @staticmethod
    def _ratio(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def missing_ratio(self) -> float | None:
        return self._ratio(self.rows_missing, self.rows_read)

    @property
    def outlier_ratio(self) -> float | None:
        return self._ratio(self.rows_flagged, self.rows_read)

    @property
    def source_failure_ratio(self) -> float | None:
        return self._ratio(self.runs_failed, self.runs)

    @property
    def freshness_hours(self) -> float | None:
        """Hours from the end of the newest game day stored to the measurement."""
        if self.last_game_date is None:
            return None
        end = dt.datetime.combine(
            self.last_game_date + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC
        )
        return max((self.measured_at - end).total_seconds() / 3600, 0.0)


def window_hours(window: dt.timedelta) -> int:
    return int(window.total_seconds() // 3600)


@dataclass(frozen=True, slots=True)
class Gauges:
    """What Prometheus is told; a ratio with nothing behind it (no rows, no runs) reads 0."""

    missing_ratio: float
    outlier_ratio: float
    source_failure_ratio: float
    last_game_date_timestamp: float | None  # unset while no game is stored


def day_timestamp(day: dt.date) -> float:
    """Unix time of a game day's local midnight (the last-game-date gauge)."""
    return time.mktime(day.timetuple())


def gauges(q: Quality) -> Gauges:
    return Gauges(
        missing_ratio=q.missing_ratio or 0.0,
        outlier_ratio=q.outlier_ratio or 0.0,
        source_failure_ratio=q.source_failure_ratio or 0.0,
        last_game_date_timestamp=None
        if q.last_game_date is None
        else day_timestamp(q.last_game_date),
    )


def export(q: Quality) -> None:
    """Set the gauges for Prometheus."""
    g = gauges(q)
    metrics.MISSING_RATIO.set(g.missing_ratio)
    metrics.OUTLIER_RATIO.set(g.outlier_ratio)
    metrics.SOURCE_FAILURE_RATIO.set(g.source_failure_ratio)
    if g.last_game_date_timestamp is not None:
        metrics.LAST_GAME_DATE.set(g.last_game_date_timestamp)
