// StatMusePicks dashboard: plain DOM + inline SVG, no dependencies.
"use strict";

const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

// An API key (when the gateway asks for one) lives for this tab only.
const KEY = "statmuse-api-key";
function keyHeaders() {
  const key = sessionStorage.getItem(KEY);
  return key ? { "x-api-key": key } : {};
}

const pct = (p) => `${(p * 100).toFixed(1)}%`;
// A chart's drawing width: its box's, within [320, 640], so that on a phone the text is drawn
// at about the size it is read (a 640-wide chart shrunk to 360 px made 11 px text 6 px).
const chartWidth = (box) => Math.round(Math.min(640, Math.max(320, box.clientWidth || 640)));
const signed = (x, digits = 3) => `${x >= 0 ? "+" : ""}${x.toFixed(digits)}`;
const american = (o) => (o > 0 ? `+${o}` : `${o}`);

// ---- Predict page -------------------------------------------------------------------------

function distributionChart(points, line, width = 640) {
  const height = 260, left = 44, right = 12, top = 12, bottom = 36;
  const plotW = width - left - right, plotH = height - top - bottom;
  const lo = Math.min(points[0].value, Math.floor(line)) - 0.5;
  const hi = Math.max(points[points.length - 1].value, Math.ceil(line)) + 0.5;
  const maxP = Math.max(...points.map((p) => p.probability)) || 1;
  const x = (v) => left + ((v - lo) / (hi - lo)) * plotW;
  const y = (p) => top + plotH - (p / maxP) * plotH;
  const barW = Math.max(1, (plotW / (hi - lo)) * 0.85);

  const root = svg("svg", {
    id: "dist-svg", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `Predictive distribution from ${points[0].value} to ` +
      `${points[points.length - 1].value}, line at ${line}`,
  });
  root.append(svg("title", {}, "Predictive distribution"));
  // Axes and a few horizontal guides.
  for (const f of [0, 0.5, 1]) {
    const gy = y(maxP * f);
    root.append(svg("line", { x1: left, x2: width - right, y1: gy, y2: gy, class: "grid" }));
    root.append(svg("text", { x: left - 6, y: gy + 4, "text-anchor": "end", class: "tick" },
      pct(maxP * f)));
  }
  const bars = svg("g", { class: "bars" });
  for (const p of points) {
    const side = p.value > line ? "over" : p.value < line ? "under" : "push";
    const h = Math.max(0, top + plotH - y(p.probability));
    const rect = svg("rect", {
      x: x(p.value) - barW / 2, y: top + plotH - h, width: barW, height: h,
      class: `bar ${side}`, "data-value": p.value, "data-probability": p.probability,
    });
    rect.append(svg("title", {}, `${p.value}: ${pct(p.probability)} (${side})`));
    bars.append(rect);
  }
  root.append(bars);
  const step = Math.max(1, Math.ceil((hi - lo) / Math.max(6, Math.floor(width / 42))));
  for (let v = Math.ceil(lo); v <= hi; v += step) {
    root.append(svg("text", { x: x(v), y: height - bottom + 16, "text-anchor": "middle",
      class: "tick" }, String(v)));
  }
  root.append(svg("line", { x1: left, x2: width - right, y1: top + plotH, y2: top + plotH,
    class: "axis" }));
  const lx = x(line);
  root.append(svg("line", { id: "line-marker", x1: lx, x2: lx, y1: top, y2: top + plotH,
    class: "marker" }));
  root.append(svg("text", { x: lx + 4, y: top + 12, class: "marker-label" }, `line ${line}`));
  return root;
}

// Feature names in words: "points_sma_10" -> "Points, average of the last 10 games".
const STAT_WORDS = { points: "Points", rebounds: "Rebounds", assists: "Assists",
  threes: "Threes", pra: "Pts+reb+ast", pr: "Pts+reb", pa: "Pts+ast", ra: "Reb+ast",
  steals: "Steals", blocks: "Blocks", turnovers: "Turnovers", stocks: "Steals+blocks",
  minutes: "Minutes" };
const SUFFIX_WORDS = [
  [/^sma_(\d+)$/, (n) => `average of the last ${n} games`],
  [/^wma_(\d+)$/, (n) => `weighted average of the last ${n} games`],
  [/^median_(\d+)$/, (n) => `median of the last ${n} games`],
  [/^std_(\d+)$/, (n) => `spread over the last ${n} games`],
  [/^min_(\d+)$/, (n) => `lowest of the last ${n} games`],
  [/^max_(\d+)$/, (n) => `highest of the last ${n} games`],
  [/^n_(\d+)$/, (n) => `games counted (of the last ${n})`],
  [/^ema$/, () => "recent form (weighted average)"],
  [/^slope_10$/, () => "trend over the last 10 games"],
  [/^momentum$/, () => "last 3 against last 10 games"],
  [/^per_min_10$/, () => "per minute, last 10 games"],
  [/^season_avg$/, () => "season average"],
  [/^season_n$/, () => "games this season"],
  [/^season_shrunk$/, () => "season average, steadied by last season"],
  [/^prior_season_avg$/, () => "last season's average"],
  [/^prior_season_n$/, () => "games last season"],
  [/^career_avg$/, () => "career average"],
  [/^career_n$/, () => "career games"],
  [/^vs_opp_avg$/, () => "average against this opponent"],
  [/^vs_opp_last$/, () => "last game against this opponent"],
  [/^vs_top10_avg$/, () => "average against top-10 defences"],
  [/^vs_bottom10_avg$/, () => "average against bottom-10 defences"],
  [/^vs_top10_n$/, () => "games against top-10 defences"],
  [/^vs_bottom10_n$/, () => "games against bottom-10 defences"],
];
const FEATURE_WORDS = {
  days_rest: "Days of rest", back_to_back: "Second night of a back-to-back",
  games_last_7_days: "Games in the last 7 days", is_home: "Home game",
  is_playoffs: "Playoff game", at_altitude: "Game in Denver (altitude)",
  tz_shift_hours: "Time zones travelled", opp_def_rating: "Opponent's defensive rating",
  opp_def_rank: "Opponent's defensive rank", opp_pace: "Opponent's pace",
  opp_team_games: "Opponent's games played", season_games: "Games this season",
  career_games: "Career games", vs_opp_games: "Games against this opponent",
  minutes_trend: "Minutes trend", games_missed: "Team games missed before this one",
  new_team: "New to his team", team_changed: "Changed teams since last season",
  with_team_games: "Games with this team", out_n: "Teammates out",
  out_minutes: "Minutes of teammates out", out_points: "Points of teammates out",
  out_rebounds: "Rebounds of teammates out", out_assists: "Assists of teammates out",
  usage_10: "Usage rate, last 10 games", usage_n_10: "Games in the usage rate",
  true_shooting_10: "True shooting, last 10 games",
  true_shooting_n_10: "Games in true shooting",
};
function featureWords(name) {
  if (FEATURE_WORDS[name]) return FEATURE_WORDS[name];
  const stat = Object.keys(STAT_WORDS).sort((a, b) => b.length - a.length)
    .find((s) => name.startsWith(`${s}_`));
  if (stat) {
    const rest = name.slice(stat.length + 1);
    for (const [pattern, words] of SUFFIX_WORDS) {
      const m = rest.match(pattern);
      if (m) return `${STAT_WORDS[stat]}: ${words(m[1])}`;
    }
  }
  return name.replace(/_/g, " ");
}
const clip = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

function explanationChart(items, width = 640) {
  const rows = [...items].sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution))
    .slice(0, 12);
  const rowH = 22, valueW = 56, labelW = Math.round(width * 0.5);
  const height = Math.max(1, rows.length) * rowH + 8;
  const plotW = width - labelW - valueW;
  const maxAbs = Math.max(...rows.map((r) => Math.abs(r.contribution)), 1e-9);
  const zero = labelW + plotW / 2;
  const root = svg("svg", { id: "explain-svg", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": "Feature contributions" });
  root.append(svg("title", {}, "Feature contributions"));
  rows.forEach((r, i) => {
    const yy = 4 + i * rowH;
    const w = (Math.abs(r.contribution) / maxAbs) * (plotW / 2);
    const x0 = r.contribution >= 0 ? zero : zero - w;
    const shown = r.value === null ? "n/a" : Number(r.value.toPrecision(4));
    const label = svg("text", { x: labelW - 6, y: yy + 15, "text-anchor": "end", class: "tick",
      "data-feature": r.feature }, clip(`${featureWords(r.feature)} = ${shown}`,
      Math.floor(labelW / 6.2)));
    label.append(svg("title", {}, `${featureWords(r.feature)} (${r.feature}) = ${shown}`));
    root.append(label);
    const rect = svg("rect", { x: x0, y: yy + 3, width: w, height: rowH - 6,
      class: r.contribution >= 0 ? "bar up" : "bar down" });
    rect.append(svg("title", {}, `${featureWords(r.feature)}: ${signed(r.contribution)}`));
    root.append(rect);
    root.append(svg("text", { x: width - 4, y: yy + 15, "text-anchor": "end", class: "tick" },
      signed(r.contribution, 2)));
  });
  root.append(svg("line", { x1: zero, x2: zero, y1: 0, y2: height, class: "axis" }));
  return root;
}

function setNumber(id, value, shown) {
  const node = document.getElementById(id);
  node.textContent = shown;
  node.dataset.value = String(value);
}

function methodText(r) {
  const own = `The model alone says ${pct(r.model_over_probability)} over.`;
  if (r.method === "market_layer") {
    return `How: the books' price (${pct(r.books_over_probability)} over, de-vigged from ` +
      `the odds you gave) weighed with the model's own view. ${own}`;
  }
  if (r.method === "line_blend") {
    return `How: our mean weighed against the line itself (weight ${r.line_weight.toFixed(2)} ` +
      `on our mean); give both odds to weigh the books' price too. ${own}`;
  }
  return "How: the model alone.";
}

function showResult(r) {
  document.getElementById("result-title").textContent =
    `${r.player}: ${r.stat} ${r.line}`;
  const rec = document.getElementById("recommendation");
  rec.textContent = r.recommendation === "PASS"
    ? "Recommendation: PASS (no bet)"
    : `Recommendation: ${r.recommendation} ${r.line}`;
  rec.dataset.value = r.recommendation;
  setNumber("p-over", r.over_probability, pct(r.over_probability));
  setNumber("p-under", r.under_probability, pct(r.under_probability));
  setNumber("p-push", r.push_probability, pct(r.push_probability));
  setNumber("predicted", r.predicted_value, r.predicted_value.toFixed(1));
  setNumber("ev", r.expected_value, `${signed(r.expected_value)} per unit`);
  setNumber("confidence", r.confidence, pct(r.confidence));
  setNumber("kelly", r.kelly_fraction, pct(r.kelly_fraction));
  setNumber("model-alone", r.model_over_probability, `${pct(r.model_over_probability)} over`);
  setNumber("line-weight", r.line_weight === null ? "" : r.line_weight,
    r.line_weight === null ? (r.method === "market_layer" ? "books' price" : "1 (model only)")
      : r.line_weight.toFixed(2));
  document.getElementById("track-record").textContent = trackRecordText(r);
  document.getElementById("model-version").textContent = r.model_version;
  document.getElementById("odds").textContent =
    `${american(r.odds_over)} over / ${american(r.odds_under)} under`;
  document.getElementById("game").textContent = r.game
    ? `For ${r.game.game_date}, ${r.game.home ? "vs" : "at"} ${r.game.opponent}.`
    : `For the next game (not on the schedule yet: no opponent, rest or travel).`;
  document.getElementById("data-as-of").textContent = r.data_as_of || "unknown";
  document.getElementById("stale").hidden = !r.stale;
  // "pooled" is the usual model, not a warning; only the league baseline (too few games of
  // his own) is worth a flag.
  const fallback = document.getElementById("fallback");
  fallback.hidden = !r.fallback;
  fallback.className = r.fallback === "league_baseline" ? "warn" : "";
  fallback.textContent = r.fallback === "league_baseline"
    ? "Few games of his own: a league average for his minutes."
    : r.fallback ? `Model: ${r.fallback} (one model for every player, the usual case).` : "";
  document.getElementById("result").hidden = false;  // shown first: the charts fit its width
  const dist = document.getElementById("dist-chart");
  dist.replaceChildren(distributionChart(r.distribution, r.line, chartWidth(dist)));
  document.getElementById("method").textContent = methodText(r);
  const explain = document.getElementById("explain-chart");
  explain.replaceChildren(r.explanation.length
    ? explanationChart(r.explanation, chartWidth(explain)) : el("p", {}, "No explanation."));
}

// What backs the call. No rule we backtested (our edge against the books' price, of any size,
// from the market layer or the line blend) won money out of sample at the books' median price,
// so the API answers PASS for them; only a stat without real lines to test on can still call.
function trackRecordText(r) {
  if (r.recommendation === "PASS") {
    return "PASS: no bet. No betting rule we backtested on real lines has a winning record " +
      "out of sample at the books' median price (below, and the Backtest page); the " +
      "probability above is still our best estimate.";
  }
  return "No backtested record for this call (no real lines to test it on): treat it as " +
    "unproven.";
}

function clearResult() {
  // An error must not leave the previous player's card and charts on screen.
  document.getElementById("result").hidden = true;
  document.getElementById("dist-chart").replaceChildren();
  document.getElementById("explain-chart").replaceChildren();
}

function showSuggestions(names, form) {
  const box = document.getElementById("suggestions");
  box.replaceChildren();
  if (!names.length) { box.hidden = true; return; }
  box.append(el("p", {}, "Did you mean:"));
  const list = el("ul", { class: "suggestions" });
  for (const name of names) {
    const button = el("button", { type: "button", class: "link" }, name);
    button.addEventListener("click", () => {
      form.player.value = name;
      form.requestSubmit();
    });
    const item = el("li");
    item.append(button);
    list.append(item);
  }
  box.append(list);
  box.hidden = false;
}

function errorText(body, status) {
  if (body && typeof body.detail === "string") return body.detail;
  if (body && Array.isArray(body.detail)) {
    return body.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  }
  return `request failed (HTTP ${status})`;
}

function initPredict(form) {
  const status = document.getElementById("status");
  form.api_key.value = sessionStorage.getItem(KEY) || "";
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    document.getElementById("suggestions").hidden = true;
    const line = Number.parseFloat(form.line.value);
    if (form.player.value.trim().length < 2 || Number.isNaN(line)) {
      clearResult();
      status.textContent = "Enter a player and a line.";
      return;
    }
    const body = { player: form.player.value.trim(), stat: form.stat.value, line };
    for (const k of ["odds_over", "odds_under"]) {
      if (form[k].value !== "") body[k] = Number.parseInt(form[k].value, 10);
    }
    if (form.api_key.value) sessionStorage.setItem(KEY, form.api_key.value);
    else sessionStorage.removeItem(KEY);
    const headers = { "content-type": "application/json", ...keyHeaders() };
    status.textContent = "Predicting…";
    const button = document.getElementById("predict-button");
    button.disabled = true;
    try {
      const response = await fetch("/api/predict", { method: "POST", headers,
        body: JSON.stringify(body) });
      const data = await response.json().catch(() => null);
      if (!response.ok) {
        clearResult();
        status.textContent = errorText(data, response.status);
        showSuggestions((data && data.suggestions) || [], form);
        return;
      }
      showResult(data);
      status.textContent = `Prediction for ${data.player} ready.`;
    } catch (err) {
      clearResult();
      status.textContent = `The API could not be reached: ${err.message}`;
    } finally {
      button.disabled = false;
    }
  });
}

// ---- Tonight page -------------------------------------------------------------------------

// Our P(over) (y) against the books' (x), one dot per prop, coloured by the call.
function slateChart(props, width = 640) {
  const height = Math.round(Math.min(340, width * 0.75)), left = 48, right = 12, top = 12,
    bottom = 40;
  const plotW = width - left - right, plotH = height - top - bottom;
  const shown = props.filter((p) => p.books_over_probability !== null);
  const values = shown.flatMap((p) => [p.books_over_probability, p.over_probability]);
  const lo = Math.max(0, Math.floor((Math.min(...values, 0.4) - 0.02) * 20) / 20);
  const hi = Math.min(1, Math.ceil((Math.max(...values, 0.6) + 0.02) * 20) / 20);
  const x = (p) => left + ((p - lo) / (hi - lo)) * plotW;
  const y = (p) => top + plotH - ((p - lo) / (hi - lo)) * plotH;
  const root = svg("svg", {
    id: "slate-svg", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `${shown.length} props: our P(over) against the books'`,
  });
  root.append(svg("title", {}, "Our P(over) against the books'"));
  for (let t = Math.ceil(lo * 10) / 10; t <= hi + 1e-9; t += 0.1) {
    root.append(svg("line", { x1: left, x2: width - right, y1: y(t), y2: y(t), class: "grid" }));
    root.append(svg("text", { x: left - 6, y: y(t) + 4, "text-anchor": "end", class: "tick" },
      pct(t)));
    root.append(svg("text", { x: x(t), y: height - bottom + 16, "text-anchor": "middle",
      class: "tick" }, pct(t)));
  }
  root.append(svg("line", { x1: x(lo), y1: y(lo), x2: x(hi), y2: y(hi), class: "axis",
    id: "slate-diagonal" }));
  root.append(svg("text", { x: left + plotW / 2, y: height - 4, "text-anchor": "middle",
    class: "tick" }, "The books' P(over), de-vigged"));
  for (const p of shown) {
    const call = p.recommendation === "OVER" ? "over" : p.recommendation === "UNDER"
      ? "under" : "push";
    const dot = svg("circle", { cx: x(p.books_over_probability), cy: y(p.over_probability),
      r: 4, class: `bar ${call} dot`, "data-player": p.player_id });
    dot.append(svg("title", {}, `${p.player} ${p.stat} ${p.line}: ours ` +
      `${pct(p.over_probability)}, books ${pct(p.books_over_probability)}`));
    root.append(dot);
  }
  return root;
}

function bestText(best) {
  if (!best) return "–";
  return `${best.side} ${american(best.price)} ${best.book} (${signed(best.expected_value)})`;
}

const SLATE_COLUMNS = ["Player", "Game", "Stat", "Line", "Ours", "Books", "Edge", "Best price",
  "Call", "Data to"];

function showSlate(data) {
  document.getElementById("slate-title").textContent =
    `${data.date}: ${data.count} prop${data.count === 1 ? "" : "s"}`;
  const body = document.getElementById("slate-table").tBodies[0];
  body.replaceChildren();
  for (const p of data.props) {
    const row = el("tr", { "data-player": String(p.player_id) });
    const game = `${p.team || "?"} ${p.home ? "vs" : "at"} ${p.opponent || "?"}`;
    const books = p.books_over_probability === null ? "–" : pct(p.books_over_probability);
    const edge = p.edge === null ? "–" : `${signed(100 * p.edge, 1)} pts`;
    const cells = [p.player, game, p.stat, String(p.line), pct(p.over_probability), books, edge,
      bestText(p.best), p.recommendation, p.data_as_of || "–"];
    cells.forEach((text, i) => row.append(el("td", { "data-label": SLATE_COLUMNS[i] }, text)));
    if (p.stale) {
      row.classList.add("stale");
      row.lastChild.append(el("strong", { class: "warn" }, " stale"));
    }
    body.append(row);
  }
  document.getElementById("slate").hidden = false;  // shown first: the chart fits its width
  const chart = document.getElementById("slate-chart");
  chart.replaceChildren(data.props.some((p) => p.books_over_probability !== null)
    ? slateChart(data.props, chartWidth(chart)) : el("p", {}, "No book prices to compare."));
  const others = document.getElementById("slate-dates");
  others.textContent = data.dates.length ? `Other days: ${data.dates.join(", ")}` : "";
}

async function loadSlate(form) {
  const status = document.getElementById("slate-status");
  const params = new URLSearchParams({ limit: "1000" });
  if (form.date.value) params.set("date", form.date.value);
  if (form.stat.value) params.set("stat", form.stat.value);
  const team = form.team.value.trim().toUpperCase();
  if (team) params.set("team", team);
  const edge = Number.parseFloat(form.min_edge.value);
  if (edge > 0) params.set("min_edge", String(edge / 100));
  status.textContent = "Loading…";
  try {
    const response = await fetch(`/api/slate?${params}`, { headers: keyHeaders() });
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      document.getElementById("slate").hidden = true;  // never leave an old slate on screen
      status.textContent = errorText(data, response.status);
      return;
    }
    if (!form.date.value) form.date.value = data.date;
    showSlate(data);
    status.textContent = `${data.count} props for ${data.date}.`;
  } catch (err) {
    document.getElementById("slate").hidden = true;
    status.textContent = `The API could not be reached: ${err.message}`;
  }
}

function initSlate(form) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    loadSlate(form);
  });
  loadSlate(form);
}

// ---- Models page --------------------------------------------------------------------------

function metric(m, key) {
  const v = m.metrics[key];
  return v === null || v === undefined ? "–" : Number(v).toFixed(4);
}

async function initModels(table) {
  const status = document.getElementById("models-status");
  try {
    const response = await fetch("/api/models", { headers: keyHeaders() });
    const data = await response.json();
    if (!response.ok) throw new Error(errorText(data, response.status));
    const body = table.tBodies[0];
    body.replaceChildren();
    for (const m of data) {
      const row = el("tr");
      const name = m.player_id === null ? m.name : `${m.name} (player ${m.player_id})`;
      for (const text of [name, m.version, m.stat, m.alias, m.model_type, metric(m, "mae"),
        metric(m, "brier"), metric(m, "ece"), m.updated_at.slice(0, 16).replace("T", " ")]) {
        row.append(el("td", {}, text));
      }
      // Its MLflow run (parameters, metrics, reports, the bundle) and registry version.
      const links = el("td");
      for (const [href, text] of [[m.run_url, "run"], [m.registry_url, "version"]]) {
        if (!href) continue;
        if (links.childNodes.length) links.append(" · ");
        links.append(el("a", { href, rel: "noopener" }, text));
      }
      if (!links.childNodes.length) links.append("–");
      row.append(links);
      if (m.alias === "production") row.classList.add("production");
      body.append(row);
    }
    table.hidden = data.length === 0;
    status.textContent = data.length ? `${data.length} model versions.` : "No models yet.";
  } catch (err) {
    status.textContent = `Could not load the models: ${err.message}`;
  }
}

// An A/B test's Brier difference (challenger minus production) day by day: the estimate and
// its always-valid confidence sequence, zero and the "no difference" margin.
function abChart(report, width = 640) {
  const height = Math.round(Math.min(260, width * 0.5)), left = 64, right = 12, top = 12,
    bottom = 34;
  const plotW = width - left - right, plotH = height - top - bottom;
  const looks = report.looks.filter((l) => Number.isFinite(l.low) && Number.isFinite(l.high));
  const root = svg("svg", {
    class: "ab-svg", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `${report.stat}: the challenger's Brier minus production's, by day`,
  });
  root.append(svg("title", {}, "Challenger minus production, Brier, with its interval"));
  if (!looks.length) return root;
  const span = Math.max(report.margin * 2, ...looks.slice(-Math.max(1, Math.ceil(looks.length
    * 0.8))).flatMap((l) => [Math.abs(l.low), Math.abs(l.high)]));
  const lo = -span, hi = span;
  const day = (d) => Date.parse(`${d}T00:00:00Z`);
  const t0 = day(looks[0].day), t1 = Math.max(day(looks[looks.length - 1].day), t0 + 864e5);
  const x = (d) => left + ((day(d) - t0) / (t1 - t0)) * plotW;
  const y = (v) => top + plotH - ((Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo)) * plotH;
  for (const v of [lo, -report.margin, 0, report.margin, hi]) {
    root.append(svg("line", { x1: left, x2: width - right, y1: y(v), y2: y(v),
      class: v === 0 ? "axis" : "grid" }));
    root.append(svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" },
      signed(v, 4)));
  }
  const band = looks.map((l) => `${x(l.day)},${y(l.high)}`)
    .concat(looks.slice().reverse().map((l) => `${x(l.day)},${y(l.low)}`));
  root.append(svg("polygon", { points: band.join(" "), class: "band" }));
  root.append(svg("polyline", { points: looks.map((l) => `${x(l.day)},${y(l.estimate)}`)
    .join(" "), class: "estimate" }));
  if (report.decided_on) {
    root.append(svg("line", { x1: x(report.decided_on), x2: x(report.decided_on), y1: top,
      y2: top + plotH, class: "decided" }));
  }
  root.append(svg("text", { x: left, y: height - 8, class: "tick" }, looks[0].day));
  root.append(svg("text", { x: width - right, y: height - 8, "text-anchor": "end",
    class: "tick" }, looks[looks.length - 1].day));
  return root;
}

const VERDICT_WORDS = {
  "keep running": "Keep running: not enough evidence either way yet.",
  "challenger better": "The challenger is better: promote it.",
  "challenger worse": "The challenger is worse: keep production.",
  "no difference": "No difference worth a change (within the margin).",
};

function abSection(r, box) {
  const part = el("article", { class: "ab-test", "data-stat": r.stat });
  part.append(el("h3", {}, `${STAT_WORDS[r.stat] || r.stat}: ${r.challenger_version} ` +
    `against ${r.production_version}`));
  const verdict = el("p", { class: `verdict ${r.verdict.replace(/ /g, "-")}` },
    VERDICT_WORDS[r.verdict] || r.verdict);
  if (r.decided_on) verdict.append(` (decided on ${r.decided_on})`);
  part.append(verdict);
  const d = r.brier_difference;
  part.append(el("p", {}, `Brier, challenger minus production: ${signed(d.estimate, 4)} ` +
    `[${signed(d.low, 4)}, ${signed(d.high, 4)}] on ${r.production.n.toLocaleString()} props ` +
    `settled ${r.first_day} to ${r.last_day} (below zero: the challenger is better; the ` +
    `interval holds ${pct(1 - r.alpha)} however often it is read).`));
  const table = el("table", { class: "ab-arms" });
  const head = el("tr");
  for (const h of ["Arm", "Version", "Props", "Brier", "Log loss", "Hit rate"]) {
    head.append(el("th", { scope: "col" }, h));
  }
  table.append(el("thead"));
  table.tHead.append(head);
  const body = el("tbody");
  for (const [name, arm, version] of [["Production", r.production, r.production_version],
    ["Challenger", r.challenger, r.challenger_version]]) {
    const row = el("tr");
    for (const text of [name, version, arm.n.toLocaleString(), arm.brier.toFixed(4),
      arm.log_loss.toFixed(4), arm.hit_rate === null ? "–" : pct(arm.hit_rate)]) {
      row.append(el("td", {}, text));
    }
    body.append(row);
  }
  table.append(body);
  part.append(el("div", { class: "table-wrap" }, undefined));
  part.lastChild.append(table);
  part.append(abChart(r, chartWidth(box)));
  const b = r.at_books_lines;
  if (b) {
    const vs = (arm) => (arm.brier_vs_books === null ? "–" : signed(arm.brier_vs_books, 4));
    part.append(el("p", { class: "ab-books" }, `On the books' posted lines ` +
      `(${b.production.n.toLocaleString()} props, ${b.first_day} to ${b.last_day}): ` +
      `${VERDICT_WORDS[b.verdict] || b.verdict} Brier against the books' own P(over): ` +
      `production ${vs(b.production)}, challenger ${vs(b.challenger)} (below zero: better ` +
      `than the books).`));
  }
  return part;
}

async function initAbTests(box) {
  const status = box.querySelector("[role=status]");
  try {
    const response = await fetch("/api/models/ab", { headers: keyHeaders() });
    const data = await response.json();
    if (!response.ok) throw new Error(errorText(data, response.status));
    for (const r of data) box.append(abSection(r, box));
    status.textContent = data.length ? "" : "No A/B test is running: one starts when an " +
      "admin pins a version (canary or shadow) or a challenger is staged with the " +
      "predictor's PREDICTOR_AB_SHARE above 0.";
  } catch (err) {
    status.textContent = `Could not load the A/B tests: ${err.message}`;
  }
}

// The training README's markdown tables as HTML tables; other lines as paragraphs.
function markdownToNodes(text) {
  const nodes = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line.startsWith("|")) {
      const rows = [];
      while (i < lines.length && lines[i].trim().startsWith("|")) rows.push(lines[i++].trim());
      i--;
      const cells = (r) => r.replace(/^\||\|$/g, "").split("|").map((c) => c.trim());
      const table = el("table");
      const head = el("tr");
      for (const c of cells(rows[0])) head.append(el("th", { scope: "col" }, c));
      const thead = el("thead");
      thead.append(head);
      table.append(thead);
      const body = el("tbody");
      for (const r of rows.slice(2)) {
        const tr = el("tr");
        for (const c of cells(r)) tr.append(el("td", {}, c));
        body.append(tr);
      }
      table.append(body);
      const wrap = el("div", { class: "table-wrap" });
      wrap.append(table);
      nodes.push(wrap);
    } else if (line.startsWith("#")) {
      nodes.push(el("h3", {}, line.replace(/^#+\s*/, "")));
    } else if (line) {
      let para = line;
      while (i + 1 < lines.length && lines[i + 1].trim() && !/^[|#]/.test(lines[i + 1].trim())) {
        para += ` ${lines[++i].trim()}`;
      }
      nodes.push(el("p", {}, para.replace(/`/g, "")));
    }
  }
  return nodes;
}

async function initTrainingTable(box) {
  try {
    const response = await fetch(box.dataset.src);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    box.replaceChildren(...markdownToNodes(await response.text()));
  } catch (err) {
    box.replaceChildren(el("p", {}, `Could not load the training summary: ${err.message}`));
  }
}

// ---- Age confirmation ----------------------------------------------------------------------

const AGE_OK = "statmuse-age-confirmed";
// Storage can be refused (a private window, a policy): then the question is asked each visit.
function remembered(name) {
  try { return localStorage.getItem(name); } catch { return null; }
}
function remember(name, value) {
  try { localStorage.setItem(name, value); } catch { /* asked again next time */ }
}

function initAgeGate(dialog) {
  if (remembered(AGE_OK) === "yes") return;
  dialog.addEventListener("cancel", (event) => event.preventDefault());  // Esc is no answer
  document.getElementById("age-yes").addEventListener("click", () => {
    remember(AGE_OK, "yes");
    dialog.close();
  });
  document.getElementById("age-no").addEventListener("click", () => {
    document.getElementById("age-refused").hidden = false;
  });
  dialog.showModal();
}

document.addEventListener("DOMContentLoaded", () => {
  const gate = document.getElementById("age-gate");
  if (gate) initAgeGate(gate);
  const form = document.getElementById("predict-form");
  if (form) initPredict(form);
  const slate = document.getElementById("slate-form");
  if (slate) initSlate(slate);
  const table = document.getElementById("models-table");
  if (table) initModels(table);
  const training = document.getElementById("training-table");
  if (training) initTrainingTable(training);
  const ab = document.getElementById("ab-tests");
  if (ab) initAbTests(ab);
});
