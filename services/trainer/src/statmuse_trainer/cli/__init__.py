"""`statmuse-trainer`, the trainer's console script. Each command parses its options (closed
sets as Enums, refused with the messages and exit codes they always had) and calls one
application function of the capability it belongs to:

- `serve`, `migrate`: the service (`statmuse_shared.platform.runtime.service_cli`);
- `dataset`, `train`, `fit-lines`, `fit-market` (cli/training.py): training/;
- `evaluate`, `replay-report`, `backtest` (cli/evaluation.py): evaluation/, backtest/;
- `import-model`, `promote`, `rollback`, `pin`, `unpin`, `audit` (cli/registry.py): registry/;
- `monitor`, `schedule-run` (cli/monitoring.py): monitoring/, schedule.py.

Commands that touch PostgreSQL or Kafka build the service's own runtime (`app.build_runtime`)
and run inside it, as the service would.
"""

from statmuse_shared.platform.runtime import service_cli
from statmuse_trainer.cli import evaluation, monitoring, registry, training
from statmuse_trainer.cli.common import create_app, load_settings

HELP = "statmuse-trainer: serve, migrate, dataset, train, evaluate, promote, rollback."

app = service_cli(
    service="trainer", schema="registry", settings=load_settings, create_app=create_app, help=HELP
)
app.command()(training.dataset)
app.command()(training.train)
app.command("import-model")(registry.import_model)
app.command("fit-lines")(training.fit_lines_command)
app.command("fit-market")(training.fit_market_command)
app.command()(evaluation.evaluate)
app.command("replay-report")(evaluation.replay_report)
app.command()(evaluation.backtest)
app.command()(registry.promote)
app.command()(registry.rollback)
app.command()(registry.pin)
app.command()(registry.unpin)
app.command()(registry.audit)
app.command("import-legacy-registry")(registry.import_legacy_registry)
app.command()(monitoring.monitor)
app.command("schedule-run")(monitoring.schedule_run)


def main() -> None:
    app()
