import datetime as dt

import pytest

from statmuse_ingestor.schedule import EASTERN, next_run_at, yesterday

UTC = dt.UTC


@pytest.mark.parametrize(
    ("now_utc", "expected_local"),
    [
        # 05:59 Eastern (EST, UTC-5) -> 06:00 the same day.
        (dt.datetime(2024, 1, 10, 10, 59, tzinfo=UTC), dt.datetime(2024, 1, 10, 6, 0)),
        # 06:00 exactly -> tomorrow (strictly after now).
        (dt.datetime(2024, 1, 10, 11, 0, tzinfo=UTC), dt.datetime(2024, 1, 11, 6, 0)),
        # Summer (EDT, UTC-4).
        (dt.datetime(2024, 7, 1, 12, 0, tzinfo=UTC), dt.datetime(2024, 7, 2, 6, 0)),
        # The night clocks spring forward (2024-03-10): still 06:00 wall-clock.
        (dt.datetime(2024, 3, 10, 5, 0, tzinfo=UTC), dt.datetime(2024, 3, 10, 6, 0)),
        # The evening before clocks fall back (2024-11-03).
        (dt.datetime(2024, 11, 3, 2, 0, tzinfo=UTC), dt.datetime(2024, 11, 3, 6, 0)),
    ],
)
def test_next_run_is_six_am_eastern(now_utc: dt.datetime, expected_local: dt.datetime) -> None:
    run = next_run_at(now_utc)
    assert run > now_utc
    assert run.astimezone(EASTERN).replace(tzinfo=None) == expected_local


def test_next_run_offsets_follow_dst() -> None:
    winter = next_run_at(dt.datetime(2024, 1, 10, 12, 0, tzinfo=UTC))
    summer = next_run_at(dt.datetime(2024, 7, 10, 12, 0, tzinfo=UTC))
    assert winter.astimezone(UTC).hour == 11
    assert summer.astimezone(UTC).hour == 10


def test_yesterday_is_the_eastern_calendar_day() -> None:
    # 03:00 UTC on the 11th is still the 10th in New York: yesterday is the 9th.
    assert yesterday(dt.datetime(2024, 1, 11, 3, 0, tzinfo=UTC)) == dt.date(2024, 1, 9)
    assert yesterday(dt.datetime(2024, 1, 11, 12, 0, tzinfo=UTC)) == dt.date(2024, 1, 10)
