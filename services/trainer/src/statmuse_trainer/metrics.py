from prometheus_client import Counter, Gauge

from statmuse_shared.contract.stats import Stat

EXAMPLES = Counter(
    "statmuse_trainer_examples_total", "Vectors of played games stored as training examples"
)
VECTORS_SEEN = Counter("statmuse_trainer_vectors_total", "Feature vectors consumed")
TRAINED = Counter(
    "statmuse_trainer_trainings_total", "Training requests by outcome", ["stat", "outcome"]
)
PREDICTIONS_SEEN = Counter(
    "statmuse_trainer_predictions_total", "Predictions heard on the predictions topic (monitoring)"
)
SCHEDULED_RUNS = Counter(
    "statmuse_trainer_scheduled_runs_total",
    "Scheduled jobs by outcome (ran here, skipped: another replica or already done, failed)",
    ["job", "outcome"],
)

# Monitoring (docs/MONITORING.md). The `statmuse_monitor_` prefix is the alert rules' contract:
# these names are fixed. NaN where a figure is undefined (no bets, no predictions).
HIT_RATE_7D = Gauge(
    "statmuse_monitor_hit_rate_7d",
    "Share of decided bets on the recommended side that won, trailing 7 game days",
    ["stat"],
)
ECE_7D = Gauge(
    "statmuse_monitor_ece_7d",
    "ECE (10 bins) of P(over) at the monitored line, trailing 7 days",
    ["stat"],
)
NEGATIVE_ROI_DAYS = Gauge(
    "statmuse_monitor_negative_roi_days",
    "Consecutive most recent betting days with negative simulated ROI (days without bets skipped)",
    ["stat"],
)
# The hit rate's sample size: the alert on the hit rate tells a bad week from a small one by it.
BETS_7D = Gauge(
    "statmuse_monitor_bets_7d",
    "Settled bets (OVER or UNDER recommended) at the monitored line, trailing 7 game days",
    ["stat"],
)
PREDICTIONS_DAILY = Gauge(
    "statmuse_monitor_predictions_daily",
    "Predictions settled against a played game on the last monitored day",
    ["stat"],
)
DRIFT_ALERTS = Counter(
    "statmuse_monitor_drift_alerts",
    "Drift alerts that published a TrainRequested (cooldown respected)",
    ["stat"],
)
# Every stat's series from the start, at 0: `increase()` cannot see a counter's first step from
# nothing, so the first drift alert after a restart would never reach Prometheus's alerts.
for _stat in Stat:
    DRIFT_ALERTS.labels(_stat.value)
DRIFT_PSI = Gauge(
    "statmuse_monitor_drift_psi",
    "PSI of the recent window against the training reference",
    ["feature"],
)
DRIFT_KS = Gauge(
    "statmuse_monitor_drift_ks",
    "KS statistic (largest CDF gap, 0..1) of the recent window against the training reference",
    ["feature"],
)
