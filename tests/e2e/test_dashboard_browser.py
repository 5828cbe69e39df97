"""The dashboard in a real browser (Chromium through Playwright) against a real gateway: real
PostgreSQL, Redis and broker, the shipped model bundles and real players' feature vectors
computed from the data files, so the page shows what the API answers."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

# The `gateway` fixture (a live gateway) lives in tests/e2e/conftest.py.
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def gateway(module_gateway: str) -> str:
    """One gateway for the module: these tests only read from it."""
    return module_gateway


MODELS = REPO / "models"
CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(120),
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing (apt-get install -y chromium; .ci/run does this)",
    ),
]


def adult(browser: Any, **context: Any) -> Any:
    """A page of a visitor who confirmed their age before (the dialog stays closed)."""
    page = browser.new_context(**context).new_page()
    page.add_init_script("localStorage.setItem('statmuse-age-confirmed', 'yes')")
    page.set_default_timeout(15_000)
    return page


PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True}
PAGES = ("/dashboard", "/dashboard/tonight", "/dashboard/models", "/dashboard/backtest")


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


def test_dashboard_predicts_and_shows_the_calibration_reports(gateway, browser):
    page = adult(browser)
    page.goto(f"{gateway}/")
    assert page.url.endswith("/dashboard")
    assert "21+" in page.inner_text("#age-notice")
    assert "not betting advice" in page.inner_text("#disclaimer")
    assert "1-800-GAMBLER" in page.inner_text("#help-links")
    assert page.get_attribute("a[href='https://www.ncpgambling.org']", "href")

    # A misspelt name comes back with clickable suggestions.
    page.fill("#player", "Lebron Jame")
    page.select_option("#stat", "points")
    page.fill("#line", "25.5")
    page.click("#predict-button")
    page.wait_for_selector("#suggestions button:has-text('LeBron James')")

    page.fill("#player", "LeBron James")
    with page.expect_response(lambda r: r.url.endswith("/api/predict")) as answer:
        page.click("#predict-button")
    api = answer.value.json()
    assert answer.value.status == 200, api
    page.wait_for_selector("#result:not([hidden]) #dist-svg")

    shown = page.locator("#p-over")
    assert shown.inner_text() == f"{api['over_probability'] * 100:.1f}%"
    assert float(shown.get_attribute("data-value")) == api["over_probability"]
    assert page.inner_text("#model-version") == api["model_version"]
    assert api["recommendation"] in page.inner_text("#recommendation")
    # How old the data is, and whether that is too old, is on the card.
    assert page.inner_text("#data-as-of") == api["data_as_of"]
    assert page.locator("#stale").is_visible() == api["stale"]
    game = "For the next game" if api["game"] is None else f"For {api['game']['game_date']}"
    assert page.inner_text("#game").startswith(game)

    heights = page.eval_on_selector_all(
        "#dist-svg rect.bar", "rs => rs.map(r => r.getBBox().height)"
    )
    assert len([h for h in heights if h > 0]) > 5
    assert len(heights) == len(api["distribution"])
    # One distribution: the over bars drawn add up to the P(over) shown beside them.
    over_bars = page.eval_on_selector_all(
        "#dist-svg rect.bar.over", "rs => rs.map(r => Number(r.dataset.probability))"
    )
    assert sum(over_bars) == pytest.approx(api["over_probability"], abs=1e-4)
    how = {"line_blend": "against the line itself", "market_layer": "the books' price"}
    assert how[api["method"]] in page.inner_text("#method")
    assert f"{api['model_over_probability'] * 100:.1f}%" in page.inner_text("#method")
    # Bars right of the line are "over", left of it "under".
    assert page.locator("#dist-svg rect.bar.over[data-value='26']").count() == 1
    assert page.locator("#dist-svg rect.bar.under[data-value='25']").count() == 1
    assert page.locator("#dist-svg #line-marker").count() == 1
    assert page.locator("#explain-svg rect.bar").count() == min(12, len(api["explanation"]))
    assert "21+" in page.inner_text("#age-notice")
    assert "not betting advice" in page.inner_text("#disclaimer")

    page.goto(f"{gateway}/dashboard/models")
    page.wait_for_selector("#models-table:not([hidden]) tbody tr")
    assert page.locator("#models-table tbody tr").count() == len(list(MODELS.glob("*.npz")))
    page.wait_for_selector("#training-table table")
    images = page.locator("img[src*='reliability_'], img[src*='real_lines_']")
    assert images.count() > 0
    page.wait_for_function("() => [...document.images].some(i => i.complete && i.naturalWidth > 0)")
    loaded = page.eval_on_selector_all("img", "is => is.filter(i => i.naturalWidth > 0).length")
    assert loaded >= 1
    assert "21+" in page.inner_text("#age-notice")
    assert "not betting advice" in page.inner_text("#disclaimer")

    # One gateway start costs ~15 s (three consumer groups join), so the report route's
    # boundaries are checked here too: read-only, .png/.csv/.md only, inside reports_dir.
    with httpx.Client(base_url=gateway, timeout=10) as client:
        newest = sorted((REPO / "reports" / "training").iterdir())[-1].name
        readme = client.get(f"/dashboard/reports/training/{newest}/README.md")
        assert readme.status_code == 200
        assert "| stat |" in readme.text
        for bad in (
            "/dashboard/reports/%2e%2e/pyproject.toml",
            "/dashboard/reports/..%2f..%2fpyproject.toml",
            "/dashboard/reports/%2e%2e/README.md",
            f"/dashboard/reports/training/{newest}/models/points.npz",
            "/dashboard/reports/nope.png",
            "/dashboard/static/%2e%2e%2froutes%2fapi.py",
            "/dashboard/static/nope.js",
        ):
            assert client.get(bad).status_code == 404, bad
        assert client.post("/dashboard/reports/x.md").status_code == 405


def test_dashboard_shows_the_newest_backtest(gateway, browser):
    import json

    newest = sorted((REPO / "reports" / "backtest").iterdir())[-1]
    summary = json.loads((newest / "summary.json").read_text())
    page = adult(browser)
    page.goto(f"{gateway}/dashboard")
    page.click("nav >> text=Backtest")
    page.wait_for_selector("#backtest-table tbody tr")
    assert newest.name in page.inner_text("h1")
    assert page.locator("#backtest-table tbody tr").count() == len(summary["runs"])
    first = summary["runs"][0]
    row = page.locator("#backtest-table tbody tr").first.inner_text()
    assert first["strategy"] in row
    assert f"{100 * first['roi']['value']:.1f}%" in row
    images = page.locator("#backtest-figures img")
    assert images.count() == len(summary["figures"])
    for i in range(images.count()):
        images.nth(i).scroll_into_view_if_needed()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=images.nth(i).element_handle()
        )
    assert "not betting advice" in page.inner_text("#disclaimer")


def test_tonight_shows_the_slate_with_filters_and_a_chart(gateway, browser):
    with httpx.Client(base_url=gateway, timeout=10) as client:
        api = client.get("/api/slate").json()
        assert api["count"] > 10, api  # the players' real lines, priced
        day = api["date"]
        rebounds = client.get("/api/slate", params={"stat": "rebounds", "date": day}).json()
        edged = client.get("/api/slate", params={"min_edge": 0.03, "date": day}).json()
    page = adult(browser)
    page.goto(f"{gateway}/dashboard")
    page.click("nav >> text=Tonight")
    page.wait_for_selector("#slate:not([hidden]) #slate-table tbody tr")
    assert page.input_value("#slate-date") == day
    # The calls' nearest backtested rule and its record, from the newest backtest.
    newest = sorted((REPO / "reports" / "backtest").iterdir())[-1]
    runs = json.loads((newest / "summary.json").read_text())["runs"]
    [ev] = [r for r in runs if (r["strategy"], r["mode"]) == ("ev", "best")]
    assert int(page.get_attribute("#slate-rule-record", "data-bets")) == ev["bets"]
    rows = page.locator("#slate-table tbody tr")
    assert rows.count() == api["count"]
    first, shown = api["props"][0], rows.first.inner_text()
    assert first["player"] in shown
    assert f"{first['over_probability'] * 100:.1f}%" in shown
    assert first["recommendation"] in shown
    assert (first["data_as_of"] or "–") in shown
    # One dot per prop the books price, on a chart with its diagonal.
    priced = [p for p in api["props"] if p["books_over_probability"] is not None]
    assert page.locator("#slate-svg circle.dot").count() == len(priced)
    assert page.locator("#slate-svg #slate-diagonal").count() == 1

    page.select_option("#slate-stat", "rebounds")
    with page.expect_response(lambda r: "/api/slate" in r.url):
        page.click("#slate-button")
    page.wait_for_function(
        "n => document.querySelectorAll('#slate-table tbody tr').length === n",
        arg=rebounds["count"],
    )
    assert set(page.locator("#slate-table tbody td:nth-child(3)").all_inner_texts()) == {"rebounds"}

    page.select_option("#slate-stat", "")
    page.fill("#slate-edge", "3")
    with page.expect_response(lambda r: "min_edge=0.03" in r.url):
        page.click("#slate-button")
    page.wait_for_function(
        "n => document.querySelectorAll('#slate-table tbody tr').length === n",
        arg=edged["count"],
    )

    # A day without props: the error, and no old slate left on screen.
    page.fill("#slate-date", "2030-01-01")
    with page.expect_response(lambda r: "date=2030-01-01" in r.url) as answer:
        page.click("#slate-button")
    assert answer.value.status == 404
    page.wait_for_selector("#slate", state="hidden")
    assert "no posted props on 2030-01-01" in page.inner_text("#slate-status")
    assert "not betting advice" in page.inner_text("#disclaimer")


def test_the_api_docs_work_offline_under_the_csp(gateway, browser):
    """Swagger UI and the AsyncAPI viewer come from the gateway's own files: with every other
    origin blocked they still render, and the page's Content-Security-Policy (no inline
    script) reports no violation."""
    page = browser.new_page()
    page.set_default_timeout(20_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    elsewhere: list[str] = []

    def only_the_gateway(route: Any) -> None:
        if route.request.url.startswith(gateway):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_gateway)
    answer = page.goto(f"{gateway}/docs")
    assert answer is not None
    assert "unsafe-inline" not in answer.headers["content-security-policy"]
    page.wait_for_selector(".opblock-summary-path:has-text('/api/predict')")
    assert page.locator(".opblock").count() >= 8

    answer = page.goto(f"{gateway}/docs/asyncapi")
    assert answer is not None
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    page.wait_for_selector("h2:has-text('Operations')")
    assert page.get_by_text("nba.predictions.v1", exact=True).count() >= 1
    assert elsewhere == []
    assert problems == []


def test_a_first_visit_asks_the_visitors_age_and_remembers_it(gateway, browser):
    page = browser.new_context().new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{gateway}/dashboard")
    gate = page.locator("#age-gate")
    assert gate.is_visible()
    assert page.evaluate("document.getElementById('age-gate').open")
    # "I am not": no way in, the help links instead.
    page.click("#age-no")
    assert page.locator("#age-refused").is_visible()
    assert "Gamblers Anonymous" in page.inner_text("#age-refused")
    assert gate.is_visible()
    page.keyboard.press("Escape")  # not an answer
    assert gate.is_visible()
    page.click("#age-yes")
    page.wait_for_selector("#age-gate", state="hidden")
    page.fill("#player", "LeBron James")  # the page is usable
    page.reload()
    assert not page.evaluate("document.getElementById('age-gate').open")
    page.goto(f"{gateway}/dashboard/tonight")
    assert not page.locator("#age-gate").is_visible()


def test_an_error_clears_the_previous_answer_and_features_read_as_words(gateway, browser):
    page = adult(browser)
    page.goto(f"{gateway}/dashboard")
    page.fill("#player", "LeBron James")
    page.select_option("#stat", "points")
    page.fill("#line", "25.5")
    with page.expect_response(lambda r: r.url.endswith("/api/predict")) as answer:
        page.click("#predict-button")
    api = answer.value.json()
    page.wait_for_selector("#result:not([hidden]) #explain-svg")
    labels = page.eval_on_selector_all(
        "#explain-svg text[data-feature]", "ts => ts.map(t => t.textContent)"
    )
    assert labels
    assert not any("_" in label.split(" = ")[0] for label in labels), labels
    # The model's own view and the weight on it are numbers on the card, each explained.
    alone = page.locator("#model-alone")
    assert float(alone.get_attribute("data-value")) == api["model_over_probability"]
    assert page.locator("abbr[title]").count() >= 8
    # The usual model is not flagged as a warning.
    if api["fallback"] == "pooled":
        assert page.locator("#fallback.warn").count() == 0
    assert page.inner_text("#track-record")
    # Beside it, the backtested record of the rule a call follows, from the newest backtest.
    newest = sorted((REPO / "reports" / "backtest").iterdir())[-1]
    runs = json.loads((newest / "summary.json").read_text())["runs"]
    [ev] = [r for r in runs if (r["strategy"], r["mode"]) == ("ev", "consensus")]
    record = page.locator("#rule-record")
    assert int(record.get_attribute("data-bets")) == ev["bets"]
    assert f"{100 * ev['roi']['value']:+.1f}%" in record.inner_text()
    assert (record.get_attribute("data-proven") == "true") == (ev["roi"]["low"] > 0)

    page.fill("#player", "Nobody Atall")
    with page.expect_response(lambda r: r.url.endswith("/api/predict")) as refused:
        page.click("#predict-button")
    assert refused.value.status == 404
    page.wait_for_selector("#result", state="hidden")
    assert page.locator("#dist-svg").count() == 0
    assert "unknown player" in page.inner_text("#status")


SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
# A pixel differs when a channel moves by more than this; a page differs when more than
# MAX_CHANGED of its pixels do (anti-aliasing and font hinting move a few edge pixels).
PIXEL_TOLERANCE = 40
MAX_CHANGED = 0.01


def open_page(page: Any, gateway: str, path: str) -> None:
    """The page with its content loaded (the predict page with LeBron James's points)."""
    page.goto(f"{gateway}{path}")
    if path == "/dashboard":
        page.fill("#player", "LeBron James")
        page.select_option("#stat", "points")
        page.fill("#line", "25.5")
        page.click("#predict-button")
        page.wait_for_selector("#result:not([hidden]) #dist-svg")
    elif path == "/dashboard/tonight":
        page.wait_for_selector("#slate:not([hidden]) #slate-svg")
    elif path == "/dashboard/backtest":
        page.wait_for_selector("#backtest-table tbody tr")
    else:
        page.wait_for_selector("#models-table:not([hidden]) tbody tr")
    # Lazy pictures below the fold load only when scrolled to: load them all, then wait.
    page.evaluate(
        "document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')"
    )
    page.wait_for_function("() => [...document.images].every(i => i.complete)")


def phone_layout_problems(page: Any, path: str) -> list[str]:
    """At 390 px: nothing off-screen sideways, chart text readable, pictures linked."""
    problems = []
    overflow = page.evaluate(
        "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
    )
    if overflow > 1:
        problems.append(f"{path}: {overflow} px off-screen sideways")
    for cell in page.locator("table.cards td").all()[:40]:
        box = cell.bounding_box()
        if box is None or box["x"] < 0 or box["x"] + box["width"] > 391:
            problems.append(f"{path}: a table cell off-screen: {cell.inner_text()!r}")
    heights = page.eval_on_selector_all(
        "svg text.tick", "ts => ts.map(t => t.getBoundingClientRect().height)"
    )
    if heights and min(heights) < 9:
        problems.append(f"{path}: chart text {min(heights):.1f} px high")
    for link in page.locator("figure.report a").all()[:3]:
        if link.get_attribute("href") != link.locator("img").get_attribute("src"):
            problems.append(f"{path}: a picture does not open at full size")
    return problems


def screenshot_problem(page: Any, name: str) -> str | None:
    """The page's first screen against its stored reference (tests/e2e/screenshots/<name>.png,
    grey and at half size, so the references stay small); what changes from run to run (the
    models' registration times) is masked. UPDATE_SCREENSHOTS=1 rewrites the references."""
    import io
    import os

    import numpy as np
    from PIL import Image

    page.evaluate("window.scrollTo(0, 0)")
    masks = [page.locator("#models-table"), page.locator("#models-status")]
    raw = page.screenshot(scale="css", mask=masks, animations="disabled", caret="hide")
    image = Image.open(io.BytesIO(raw)).convert("L")
    image = image.resize((image.width // 2, image.height // 2), Image.Resampling.BOX)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    shot = buffer.getvalue()
    reference = SCREENSHOTS / f"{name}.png"
    update = os.environ.get("UPDATE_SCREENSHOTS") == "1"
    if update or not reference.exists():
        SCREENSHOTS.mkdir(exist_ok=True)
        reference.write_bytes(shot)
        return None if update else f"{name}: no reference yet; wrote {reference.name}, commit it"
    now = np.asarray(image, dtype=np.int16)
    then = np.asarray(Image.open(reference).convert("L"), dtype=np.int16)
    if now.shape != then.shape:
        return f"{name}: {now.shape} px (height, width), the reference {then.shape}"
    changed = float((np.abs(now - then) > PIXEL_TOLERANCE).mean())
    if changed > MAX_CHANGED:
        (SCREENSHOTS / f"{name}.actual.png").write_bytes(shot)
        return f"{name}: {changed:.1%} of the pixels changed (see {name}.actual.png)"
    return None


def test_every_page_at_desktop_and_phone_widths(gateway, browser):
    """Every dashboard page in Chromium at 1280 and 390 px: at 390 nothing is off-screen,
    chart text stays readable and pictures open full size; both widths look like their stored
    screenshots."""
    problems: list[str] = []
    for width, context in (("desktop", DESKTOP), ("phone", PHONE)):
        page = adult(browser, **context)
        for path in PAGES:
            open_page(page, gateway, path)
            if width == "phone":
                problems += phone_layout_problems(page, path)
            name = f"{path.strip('/').replace('/', '-')}-{width}"
            if (problem := screenshot_problem(page, name)) is not None:
                problems.append(problem)
        page.close()
    assert problems == []


def test_the_models_page_draws_each_ab_test(gateway, browser):
    """The A/B panel draws what GET /api/models/ab answers (the answer is replaced here: the
    endpoint and the trainer's report have tests of their own): the verdict in words, both
    arms, the difference with its interval, and the chart of the sequence by day."""
    import datetime as dt

    from statmuse_shared.contract.messages import (
        AbBooksReading,
        AbLook,
        AbTestReported,
        ArmScore,
        Interval,
    )

    start = dt.date(2024, 3, 1)
    looks = [
        AbLook(day=start + dt.timedelta(days=d), n=300 * (d + 1), estimate=0.006,
               low=0.006 - 0.03 / (d + 1) ** 0.5, high=0.006 + 0.03 / (d + 1) ** 0.5)
        for d in range(20)
    ]  # fmt: skip
    arm = ArmScore(n=6000, brier=0.240, log_loss=0.672, picks=5900, hit_rate=0.521, books_n=0,
                   brier_vs_books=None)  # fmt: skip
    report = AbTestReported(
        event_id="ab",
        stat="points",
        production_version="v2026-12-01-points-voting",
        challenger_version="v2026-12-07-points-voting",
        verdict="challenger worse",
        decided_on=looks[-1].day,
        first_day=start,
        last_day=looks[-1].day,
        alpha=0.05,
        margin=0.002,
        min_pairs=500,
        production=arm,
        challenger=arm.model_copy(update={"brier": 0.246, "hit_rate": 0.507}),
        brier_difference=Interval(estimate=0.006, low=looks[-1].low, high=looks[-1].high),
        log_loss_difference=Interval(estimate=0.012, low=0.001, high=0.023),
        looks=looks,
        at_books_lines=AbBooksReading(
            verdict="keep running",
            decided_on=None,
            first_day=start,
            last_day=looks[-1].day,
            production=arm.model_copy(update={"n": 1200, "books_n": 1200, "brier_vs_books": 0.003}),
            challenger=arm.model_copy(update={"n": 1200, "books_n": 1200, "brier_vs_books": 0.008}),
            brier_difference=Interval(estimate=0.005, low=-0.01, high=0.02),
        ),
    )
    page = adult(browser)
    body = json.dumps([report.model_dump(mode="json")])
    page.route(
        "**/api/models/ab",
        lambda route: route.fulfill(status=200, content_type="application/json", body=body),
    )
    page.goto(f"{gateway}/dashboard/models")
    section = page.locator('#ab-tests article[data-stat="points"]')
    section.wait_for()
    text = section.inner_text()
    assert "The challenger is worse: keep production." in text
    assert f"decided on {looks[-1].day}" in text
    assert "+0.0060" in text
    assert "6,000 props" in text
    rows = section.locator("table.ab-arms tbody tr")
    assert rows.count() == 2
    assert "0.2460" in rows.nth(1).inner_text()
    assert section.locator("svg.ab-svg polygon.band").count() == 1
    points = section.locator("svg.ab-svg polyline.estimate").get_attribute("points")
    assert points is not None
    assert len(points.split()) == len(looks)
    assert section.locator("svg.ab-svg line.decided").count() == 1
    books = section.locator("p.ab-books").inner_text()
    assert "1,200 props" in books
    assert "production +0.0030, challenger +0.0080" in books


def test_without_ab_tests_the_models_page_says_how_one_starts(gateway, browser):
    page = adult(browser)
    page.goto(f"{gateway}/dashboard/models")
    status = page.locator("#ab-tests [role=status]")
    page.wait_for_function("el => !el.textContent.includes('Loading')", arg=status.element_handle())
    assert "PREDICTOR_AB_SHARE" in status.inner_text()
