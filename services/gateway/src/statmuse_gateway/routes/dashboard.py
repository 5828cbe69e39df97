"""The dashboard: small HTML pages over the public API (no frontend build; the charts are
inline SVG drawn by static/dashboard.js) and read-only access to the newest report files."""

import json
import math
from html import escape
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from statmuse_gateway.dependencies import Gateway
from statmuse_gateway.schemas import DISCLAIMER, HELP_LINKS
from statmuse_shared.contract.stats import Stat

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).resolve().parent.parent / "static"
STATIC_FILES = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
REPORT_TYPES = {".png": "image/png", ".csv": "text/csv", ".md": "text/markdown"}
# Only what the page must not cache stale across a deploy: the pages themselves.
NO_STORE = {"cache-control": "no-store"}


def _newest_dir(parent: Path) -> Path | None:
    """Season (`2023-24`) and date (`2026-11-25`) folder names sort in time order."""
    dirs = sorted(p for p in parent.glob("*") if p.is_dir()) if parent.is_dir() else []
    return dirs[-1] if dirs else None


def _page(title: str, active: str, body: str) -> HTMLResponse:
    nav = "".join(
        f'<a href="{href}"{" aria-current=page" if href == active else ""}>{label}</a>'
        for href, label in (
            ("/dashboard", "Predict"),
            ("/dashboard/tonight", "Tonight"),
            ("/dashboard/models", "Models"),
            ("/dashboard/backtest", "Backtest"),
            ("/docs", "API docs"),
        )
    )
    links = " · ".join(
        f'<a href="{escape(url)}" rel="noopener">{escape(name)}</a>'
        for name, url in HELP_LINKS.items()
    )
    html = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · StatMusePicks</title>
<link rel="stylesheet" href="/dashboard/static/dashboard.css">
<script src="/dashboard/static/dashboard.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<dialog id="age-gate" aria-labelledby="age-gate-title">
<h2 id="age-gate-title">Are you 21 or older?</h2>
<p>StatMusePicks shows sports-betting predictions. You must be 21 or older (or the legal age
where you live) to bet. This browser remembers your answer.</p>
<p class="gate-buttons"><button type="button" id="age-yes">I am 21 or older</button>
<button type="button" id="age-no" class="secondary">I am not</button></p>
<p id="age-refused" hidden>Then this site is not for you. If gambling is a problem for you or
someone you know, help is free and confidential: {links}</p>
</dialog>
<header>
<strong class="brand">StatMusePicks</strong>
<nav aria-label="Dashboard">{nav}</nav>
<p class="age" id="age-notice"><span class="badge">21+</span> Adults only: you must be 21 or
older (or the legal age where you live) to bet.</p>
</header>
<main id="main">
<h1>{escape(title)}</h1>
{body}
</main>
<footer>
<p id="disclaimer">{escape(DISCLAIMER)}</p>
<p id="help-links">Help is free and confidential: {links}</p>
</footer>
</body>
</html>
"""
    return HTMLResponse(html, headers=NO_STORE)


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/dashboard", status_code=307)


RULE = (
    "The rule a call follows (bet the side whose expected value is above zero, at the books' "
    "median price; the API answers PASS while its record is not proven)"
)
SLATE_RULE = (
    "The backtested rule nearest to these calls (the side whose expected value is above zero, "
    "at the best price)"
)

# The predict card's numbers: (element id, label, what it means in plain words).
NUMBERS = (
    (
        "p-over",
        "P(over)",
        "Our probability that the player goes over the line. With both odds "
        "given it weighs the books' price with our model; without, our model's mean against the "
        "line.",
    ),
    ("p-under", "P(under)", "Our probability that he stays under the line."),
    (
        "p-push",
        "P(push)",
        "The probability he lands exactly on a whole-number line: the bet is refunded.",
    ),
    (
        "model-alone",
        "Model alone",
        "What our model says without the line or the books' price: "
        "the box scores' view only. It is less accurate than the books on its own; P(over) above "
        "leans on the line for that reason.",
    ),
    (
        "line-weight",
        "Weight on our model",
        "How much P(over) trusts our model's mean against "
        "the line (1 = only our model, 0 = only the line).",
    ),
    ("predicted", "Predicted", "Our expected value of the stat in this game."),
    (
        "ev",
        "Expected value",
        "What a 1-unit bet on the recommended side wins or loses on average "
        "at these odds, if our probability is right. -0.02 means losing 2 cents per dollar.",
    ),
    (
        "confidence",
        "Confidence",
        "Our probability for the side we lean to (over or under). On a "
        "PASS it is still shown, but the price does not pay enough to bet it.",
    ),
    (
        "kelly",
        "Kelly fraction",
        "The share of a bankroll the Kelly rule would stake on the "
        "recommended side (0 on a PASS). Real staking should be smaller; this is not advice.",
    ),
)


def _number(node_id: str, label: str, text: str) -> str:
    return (
        f'<div><dt><abbr title="{escape(text)}">{escape(label)}</abbr></dt>'
        f'<dd id="{node_id}"></dd></div>'
    )


def _rule_record(reports: Path, mode: str, rule: str, node_id: str) -> str:
    """The newest backtest's record of the betting rule behind the page's calls (the `ev`
    strategy: the side with the larger expected value when it is above zero, at the `mode`
    price), as a sentence with data attributes; empty without a backtest."""
    newest = _newest_dir(reports / "backtest")
    summary = newest / "summary.json" if newest is not None else None
    if newest is None or summary is None or not summary.is_file():
        return ""
    runs = json.loads(summary.read_text()).get("runs", [])
    run = next((r for r in runs if r.get("strategy") == "ev" and r.get("mode") == mode), None)
    if run is None:
        return ""
    roi = run.get("roi")
    if not isinstance(roi, dict) or not all(
        isinstance(roi.get(k), int | float) for k in ("value", "low", "high")
    ):
        return ""
    bets = int(run.get("bets", 0))
    proven = roi["low"] > 0
    verdict = ": a record that holds." if proven else ": not proven (its interval reaches zero)."
    return (
        f'<p id="{node_id}" class="meta" data-bets="{bets}" data-roi="{roi["value"]}" '
        f'data-low="{roi["low"]}" data-high="{roi["high"]}" '
        f'data-proven="{str(proven).lower()}">{escape(rule)}, backtested on real lines '
        f"({escape(newest.name)}): {bets:,} bets, ROI {100 * roi['value']:+.1f}% "
        f"[{100 * roi['low']:+.1f}, {100 * roi['high']:+.1f}]{verdict}</p>"
    )


@router.get("/dashboard")
async def predict_page(rt: Gateway) -> HTMLResponse:
    stats = "".join(f'<option value="{s.value}">{s.label}</option>' for s in Stat)
    body = f"""
<form id="predict-form" novalidate>
  <div class="field"><label for="player">Player</label>
    <input id="player" name="player" required minlength="2" maxlength="80"
      autocomplete="off" placeholder="e.g. LeBron James"></div>
  <div class="field"><label for="stat">Stat</label>
    <select id="stat" name="stat">{stats}</select></div>
  <div class="field"><label for="line">Line</label>
    <input id="line" name="line" type="number" required min="0" max="150" step="0.5"
      inputmode="decimal" placeholder="25.5"></div>
  <div class="field"><label for="odds_over">Odds over <span class="hint">(optional,
    American)</span></label>
    <input id="odds_over" name="odds_over" type="number" step="1" placeholder="-110"></div>
  <div class="field"><label for="odds_under">Odds under <span class="hint">(optional)</span>
    </label><input id="odds_under" name="odds_under" type="number" step="1"
      placeholder="-110"></div>
  <details class="field"><summary>API key</summary>
    <label for="api_key">API key <span class="hint">(only if this gateway asks for one)</span>
    </label><input id="api_key" name="api_key" type="password" autocomplete="off"></details>
  <button type="submit" id="predict-button">Predict</button>
</form>
<p id="status" role="status" aria-live="polite"></p>
<div id="suggestions" hidden></div>
<section id="result" hidden aria-labelledby="result-title">
  <h2 id="result-title"></h2>
  <p id="recommendation" class="rec"></p>
  <p id="track-record" class="meta"></p>
  {_rule_record(rt.settings.reports_dir, "consensus", RULE, "rule-record")}
  <dl class="numbers">
    {"".join(_number(*n) for n in NUMBERS)}
  </dl>
  <details id="glossary"><summary>What these numbers mean</summary>
    <dl>{"".join(f"<dt>{escape(label)}</dt><dd>{escape(text)}</dd>" for _, label, text in NUMBERS)}
    <dt>Fallback</dt><dd>Which model answered: "pooled" is the usual one (one model for every
      player); "league baseline" means the player has too few games for it, so a league
      average for his minutes is used.</dd></dl>
  </details>
  <figure>
    <figcaption>Predictive distribution P(over) comes from: the bars past the dashed prop
      line add up to it. <span class="key over">over</span> <span class="key under">under</span>
      <span class="key push">push</span></figcaption>
    <div id="dist-chart"></div>
    <p class="meta" id="method"></p>
  </figure>
  <figure>
    <figcaption>Why: each feature's contribution to the prediction</figcaption>
    <div id="explain-chart"></div>
  </figure>
  <p class="meta"><span id="game"></span> Model <code id="model-version"></code>; odds
    <span id="odds"></span>; last game in the data <span id="data-as-of"></span>.
    <strong id="stale" class="warn" hidden>Stale: the data is old for this game.</strong>
    <span id="fallback" hidden></span></p>
</section>
"""
    return _page("Player prop prediction", "/dashboard", body)


@router.get("/dashboard/tonight")
async def tonight_page(rt: Gateway) -> HTMLResponse:
    """The day's posted props as the predictor priced them (GET /api/slate), with filters."""
    stats = "".join(f'<option value="{s.value}">{s.label}</option>' for s in Stat)
    body = f"""
<p>Every prop line the books post for the day's games, priced by our model: our P(over), the
books' own de-vigged P(over) and the difference (the edge). The best price skips a book whose
price is far out of line with the others (usually one that has not moved). PASS unless the best
price is worth at least 2% per unit.</p>
{_rule_record(rt.settings.reports_dir, "best", SLATE_RULE, "slate-rule-record")}
<form id="slate-form" novalidate>
  <div class="field"><label for="slate-date">Date</label>
    <input id="slate-date" name="date" type="date"></div>
  <div class="field"><label for="slate-stat">Stat</label>
    <select id="slate-stat" name="stat"><option value="">all</option>{stats}</select></div>
  <div class="field"><label for="slate-team">Team</label>
    <input id="slate-team" name="team" maxlength="3" placeholder="e.g. LAL"
      autocomplete="off"></div>
  <div class="field"><label for="slate-edge">Minimum edge <span class="hint">(points of
    probability)</span></label>
    <input id="slate-edge" name="min_edge" type="number" min="0" max="50" step="0.5"
      value="0"></div>
  <button type="submit" id="slate-button">Show</button>
</form>
<p id="slate-status" role="status" aria-live="polite">Loading…</p>
<p id="slate-dates" class="meta"></p>
<section id="slate" hidden aria-labelledby="slate-title">
  <h2 id="slate-title"></h2>
  <figure>
    <figcaption>Our P(over) against the books' P(over), one dot per prop; on the diagonal
      we agree with the books. <span class="key over">we lean over</span>
      <span class="key under">we lean under</span> <span class="key push">PASS</span>
    </figcaption>
    <div id="slate-chart"></div>
  </figure>
  <div class="table-wrap"><table id="slate-table" class="cards">
    <thead><tr><th scope="col">Player</th><th scope="col">Game</th><th scope="col">Stat</th>
      <th scope="col">Line</th><th scope="col">Ours</th><th scope="col">Books</th>
      <th scope="col">Edge</th><th scope="col">Best price</th><th scope="col">Call</th>
      <th scope="col">Data to</th></tr></thead>
    <tbody></tbody></table></div>
</section>
"""
    return _page("Tonight's props", "/dashboard/tonight", body)


@router.get("/dashboard/models")
async def models_page(rt: Gateway) -> HTMLResponse:
    root = rt.settings.reports_dir  # relative to the working directory
    sections = []
    evaluation = _newest_dir(root / "evaluation")
    if evaluation is not None:
        sections.append(
            _figures(
                f"Held-out season {evaluation.name}: reliability on real sportsbook lines",
                sorted(evaluation.glob("real_lines_*.png")),
                root,
            )
        )
    training = _newest_dir(root / "training")
    if training is not None:
        readme = training / "README.md"
        if readme.is_file():
            sections.append(
                f'<section aria-labelledby="training-table-title">'
                f'<h2 id="training-table-title">Training summary ({escape(training.name)})</h2>'
                f'<div id="training-table" data-src="{escape(_report_url(readme, root))}">'
                f"</div></section>"
            )
        sections.append(
            _figures(
                f"Training run {training.name}: reliability on the validation season",
                sorted(training.glob("reliability_*.png")),
                root,
            )
        )
    if not sections:
        sections.append(f"<p>No reports under <code>{escape(str(root))}</code> yet.</p>")
    body = f"""
<section aria-labelledby="models-title">
  <h2 id="models-title">Models served</h2>
  <p id="models-status" role="status" aria-live="polite">Loading…</p>
  <div class="table-wrap"><table id="models-table" hidden>
    <thead><tr><th scope="col">Name</th><th scope="col">Version</th><th scope="col">Stat</th>
      <th scope="col">Alias</th><th scope="col">Type</th><th scope="col">MAE</th>
      <th scope="col">Brier</th><th scope="col">ECE</th><th scope="col">Updated</th>
      <th scope="col"><abbr title="The training run and registry version in MLflow">MLflow</abbr>
      </th></tr></thead>
    <tbody></tbody></table></div>
</section>
<section id="ab-tests" aria-labelledby="ab-title">
  <h2 id="ab-title">A/B tests</h2>
  <p role="status" aria-live="polite">Loading…</p>
</section>
{"".join(sections)}
"""
    return _page("Models and calibration", "/dashboard/models", body)


def _pct(cell: Any) -> str:
    """A summary.json estimate ({"value", "low", "high"}) as a percentage with its interval."""
    if not isinstance(cell, dict) or not isinstance(cell.get("value"), int | float):
        return "–"
    low, high = cell.get("low"), cell.get("high")
    text = f"{100 * cell['value']:.1f}%"
    if isinstance(low, int | float) and isinstance(high, int | float) and math.isfinite(low):
        text += f" <small>[{100 * low:.1f}, {100 * high:.1f}]</small>"
    return text


def _money(cell: Any) -> str:
    value = cell.get("value") if isinstance(cell, dict) else None
    return f"{value:,.0f}" if isinstance(value, int | float) else "–"


# On a phone each run is a card of "label: value" lines (CSS reads data-label), so no column
# is off-screen.
BACKTEST_COLUMNS = (
    "Strategy",
    "Price",
    "Bets",
    "Win rate",
    "ROI",
    "Final bankroll",
    "Max drawdown",
    "CLV",
)


@router.get("/dashboard/backtest")
async def backtest_page(rt: Gateway) -> HTMLResponse:
    """The newest `statmuse backtest` report: its runs as a table and its pictures."""
    root = rt.settings.reports_dir
    newest = _newest_dir(root / "backtest")
    summary_file = newest / "summary.json" if newest is not None else None
    if summary_file is None or not summary_file.is_file():
        body = (
            f"<p>No backtest under <code>{escape(str(root / 'backtest'))}</code> yet: run "
            "<code>statmuse backtest</code>.</p>"
        )
        return _page("Backtest", "/dashboard/backtest", body)
    assert newest is not None
    summary = json.loads(summary_file.read_text())
    rows = "".join(
        "<tr>"
        + "".join(
            f'<td data-label="{label}">{cell}</td>'
            for label, cell in zip(
                BACKTEST_COLUMNS,
                (
                    escape(str(r.get("strategy"))),
                    escape(str(r.get("mode"))),
                    str(int(r.get("bets", 0))),
                    _pct(r.get("win_rate")),
                    _pct(r.get("roi")),
                    _money(r.get("final_bankroll")),
                    _pct(r.get("max_drawdown")),
                    _pct(r.get("clv")),
                ),
                strict=True,
            )
        )
        + "</tr>"
        for r in summary.get("runs", [])
    )
    figures = "".join(
        _figure(_report_url(newest / name, root), kind, kind)
        for kind, name in summary.get("figures", {}).items()
        if (newest / name).is_file()
    )
    readme = newest / "README.md"
    body = f"""
<p>{escape(str(summary.get("start")))} to {escape(str(summary.get("end")))}, starting
bankroll {_money({"value": summary.get("bankroll")})}, on the books' real closing lines with
the models trained before the period. Brackets: bootstrap 95% intervals.
{f'<a href="{escape(_report_url(readme, root))}">The full report</a>.' if readme.is_file() else ""}
</p>
<div class="table-wrap"><table id="backtest-table" class="cards">
<thead><tr>{"".join(f'<th scope="col">{c}</th>' for c in BACKTEST_COLUMNS)}</tr></thead>
<tbody>{rows}</tbody></table></div>
<section><h2>Pictures</h2><div class="gallery" id="backtest-figures">{figures}</div></section>
"""
    return _page(f"Backtest {newest.name}", "/dashboard/backtest", body)


def _report_url(path: Path, root: Path) -> str:
    return "/dashboard/reports/" + path.relative_to(root).as_posix()


def _figure(url: str, alt: str, caption: str) -> str:
    """A report picture: a thumbnail that opens the full-size image."""
    return (
        f'<figure class="report"><a href="{escape(url)}" target="_blank" rel="noopener" '
        f'title="Open the full-size picture"><img src="{escape(url)}" loading="lazy" '
        f'alt="{escape(alt)}"></a><figcaption>{escape(caption)}</figcaption></figure>'
    )


def _figures(title: str, images: list[Path], root: Path) -> str:
    figures = "".join(
        _figure(
            _report_url(p, root),
            f"{p.stem.replace('_', ' ')} reliability diagram",
            p.stem.split("_")[-1],
        )
        for p in images
    )
    return (
        f"<section><h2>{escape(title)}</h2>"
        f'<div class="gallery">{figures or "<p>No pictures.</p>"}</div></section>'
    )


@router.get("/dashboard/static/{name}")
async def static_file(name: str) -> FileResponse:
    if name not in STATIC_FILES:
        raise HTTPException(404)
    return FileResponse(STATIC / name, media_type=STATIC_FILES[name])


@router.get("/dashboard/reports/{path:path}")
async def report_file(path: str, rt: Gateway) -> FileResponse:
    """Read-only: .png/.csv/.md files inside reports_dir; anything else (or outside) is 404."""
    if "\x00" in path:  # no file has one; the path functions would raise on it
        raise HTTPException(404)
    root = rt.settings.reports_dir.resolve()
    target = (root / path).resolve()
    if (
        target.suffix.lower() not in REPORT_TYPES
        or root not in target.parents
        or not target.is_file()
    ):
        raise HTTPException(404)
    return FileResponse(target, media_type=REPORT_TYPES[target.suffix.lower()])
