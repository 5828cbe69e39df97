"""The trainer's schedule times: daily after the ingest, weekly on Sunday, US/Eastern with DST."""

import datetime as dt

from statmuse_trainer.schedule import EASTERN, next_daily_at, next_weekly_at, yesterday
from statmuse_trainer.settings import TrainerSettings


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=EASTERN)


def test_defaults_run_after_the_daily_ingest():
    s = TrainerSettings(database_url="postgresql://u:p@h/db")
    assert (s.daily_hour, s.daily_minute, s.weekly_weekday, s.weekly_hour) == (7, 0, 6, 8)
    assert not s.schedule_enabled


def test_next_daily_is_today_before_the_hour_and_tomorrow_after():
    assert next_daily_at(at(2024, 3, 5, 6, 59), hour=7) == at(2024, 3, 5, 7, 0)
    assert next_daily_at(at(2024, 3, 5, 7, 0), hour=7) == at(2024, 3, 6, 7, 0)
    assert next_daily_at(at(2024, 3, 5, 7, 0), hour=7, minute=30) == at(2024, 3, 5, 7, 30)


def test_next_daily_keeps_wall_clock_across_dst():
    # 2024-03-10: clocks go forward at 02:00 in New York; 07:00 stays 07:00 local.
    got = next_daily_at(at(2024, 3, 9, 8, 0), hour=7)
    assert got == at(2024, 3, 10, 7, 0)
    assert got.astimezone(dt.UTC).hour == 11  # EDT, UTC-4 (it was 12 UTC the day before)


def test_next_weekly_is_the_coming_sunday():
    # 2024-03-06 is a Wednesday
    assert next_weekly_at(at(2024, 3, 6, 12, 0), weekday=6, hour=8) == at(2024, 3, 10, 8, 0)
    assert next_weekly_at(at(2024, 3, 10, 7, 59), weekday=6, hour=8) == at(2024, 3, 10, 8, 0)
    assert next_weekly_at(at(2024, 3, 10, 8, 0), weekday=6, hour=8) == at(2024, 3, 17, 8, 0)


def test_yesterday_is_the_eastern_day_before():
    # 03:00 UTC on the 6th is still the 5th in New York
    assert yesterday(dt.datetime(2024, 3, 6, 3, 0, tzinfo=dt.UTC)) == dt.date(2024, 3, 4)
