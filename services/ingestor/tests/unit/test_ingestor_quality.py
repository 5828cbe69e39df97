"""Data-quality ratios and freshness from the counts of a day of runs."""

import datetime as dt

import pytest

from statmuse_ingestor.quality import Quality

NOON = dt.datetime(2024, 3, 5, 12, tzinfo=dt.UTC)


def test_ratios_and_freshness():
    q = Quality(
        NOON,
        runs=20,
        runs_failed=2,
        rows_read=400,
        rows_missing=50,
        rows_rejected=60,
        rows_flagged=8,
        last_game_date=dt.date(2024, 3, 3),
    )
    assert (q.missing_ratio, q.outlier_ratio, q.source_failure_ratio) == (0.125, 0.02, 0.1)
    # The 3rd ended at midnight UTC on the 4th: 36 hours before noon on the 5th.
    assert q.freshness_hours == pytest.approx(36.0)


def test_nothing_read_is_no_ratio_not_zero():
    q = Quality(NOON, 0, 0, 0, 0, 0, 0, None)
    assert (q.missing_ratio, q.outlier_ratio, q.source_failure_ratio) == (None, None, None)
    assert q.freshness_hours is None
