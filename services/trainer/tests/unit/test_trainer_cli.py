"""The commands' closed option sets are Enums now; they accept exactly the values they
accepted before and refuse the rest with the same messages and exit codes."""

import pytest
from typer.testing import CliRunner

from statmuse_shared.contract.stats import Stat
from statmuse_trainer.backtest.run import Pricing
from statmuse_trainer.backtest.strategies import Staking
from statmuse_trainer.cli import app
from statmuse_trainer.cli.evaluation import parse_pricing, parse_staking
from statmuse_trainer.cli.monitoring import parse_job
from statmuse_trainer.cli.training import ALL_STATS, parse_stats
from statmuse_trainer.schedule import Job


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["backtest", "--mode", "all"], "Invalid value for --mode: consensus, best or both"),
        (["backtest", "--staking", "martingale"], "Invalid value for --staking: flat or kelly"),
        (
            ["train", "--stats", "points,dunks"],
            "Invalid value for --stats: unknown stats ['dunks']",
        ),
        (["schedule-run", "hourly"], "Invalid value: job must be daily or weekly"),
    ],
)
def test_refused_values_keep_their_messages_and_exit_code(argv: list[str], message: str) -> None:
    refused = CliRunner().invoke(app, argv)
    assert refused.exit_code == 2
    assert message in " ".join(refused.output.replace("│", " ").split())


def test_accepted_values_are_the_old_ones() -> None:
    assert [parse_pricing(v) for v in ("consensus", "best", "both")] == list(Pricing)
    assert Pricing.BOTH.modes == ["consensus", "best"]
    assert Pricing.BEST.modes == ["best"]
    assert [parse_staking(v) for v in ("flat", "kelly", None)] == [*Staking, None]
    assert [parse_job(v) for v in ("daily", "weekly")] == list(Job)
    # Stats: comma-separated, blanks and spaces ignored, order and repeats kept.
    assert list(parse_stats(" pra, points,,points ")) == [Stat.PRA, Stat.POINTS, Stat.POINTS]
    assert list(ALL_STATS) == list(Stat)
    assert (
        str(ALL_STATS)
        == "points,rebounds,assists,threes,pra,steals,blocks,turnovers,pr,pa,ra,stocks"
    )
