"""Data-quality ratios and freshness from the counts of a day of runs."""

import datetime as dt
import time

import pytest

from statmuse_ingestor.quality import Gauges, Quality, export, gauges

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


def test_gauges_read_zero_for_a_ratio_with_nothing_behind_it():
    empty = gauges(Quality(NOON, 0, 0, 0, 0, 0, 0, None))
    assert empty == Gauges(0.0, 0.0, 0.0, None)
    some = gauges(Quality(NOON, 20, 2, 400, 50, 60, 8, dt.date(2024, 3, 3)))
    assert (some.missing_ratio, some.outlier_ratio, some.source_failure_ratio) == (
        0.125,
        0.02,
        0.1,
    )
    assert some.last_game_date_timestamp == time.mktime(dt.date(2024, 3, 3).timetuple())


def test_export_sets_the_gauges():
    from statmuse_ingestor import metrics

    export(Quality(NOON, 20, 2, 400, 50, 60, 8, dt.date(2024, 3, 3)))
    assert metrics.MISSING_RATIO._value.get() == 0.125
    assert metrics.OUTLIER_RATIO._value.get() == 0.02
    assert metrics.SOURCE_FAILURE_RATIO._value.get() == 0.1
    assert metrics.LAST_GAME_DATE._value.get() == time.mktime(dt.date(2024, 3, 3).timetuple())
