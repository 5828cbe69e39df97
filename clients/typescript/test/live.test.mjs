// The client against a real gateway (GATEWAY_URL; tests/e2e/test_typescript_client.py starts
// one on the embedded stack with the shipped models). Skipped without one.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiError, StatMuseClient } from "../dist/client.js";

const base = process.env.GATEWAY_URL;
const live = { skip: base ? false : "GATEWAY_URL is not set" };

test("a prediction, typed as the OpenAPI document says", live, async () => {
  const c = new StatMuseClient({ baseUrl: base });
  const p = await c.predict({ player: "LeBron James", stat: "points", line: 25.5 });
  assert.equal(p.player, "LeBron James");
  assert.equal(p.stat, "points");
  const total = p.over_probability + p.under_probability + p.push_probability;
  assert.ok(Math.abs(total - 1) < 1e-9);
  assert.ok(p.distribution.length > 5);
  assert.ok(["OVER", "UNDER", "PASS"].includes(p.recommendation));
});

test("a batch answers each item, an invalid one included", live, async () => {
  const c = new StatMuseClient({ baseUrl: base });
  const batch = await c.batchPredict([
    { player: "LeBron James", stat: "rebounds", line: 7.5 },
    { player: "LeBron James", stat: "points", line: 25.3 },
  ]);
  assert.deepEqual(batch.results.map((r) => r.status), ["ok", "invalid"]);
  assert.match(batch.results[1].error ?? "", /line/);
});

test("an unknown player is an ApiError with suggestions", live, async () => {
  const c = new StatMuseClient({ baseUrl: base });
  await assert.rejects(c.predict({ player: "Lebron Jame", stat: "points", line: 25.5 }),
    (err) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.status, 404);
      assert.ok(err.body.suggestions.includes("LeBron James"));
      return true;
    });
});

test("the models and the slate", live, async () => {
  const c = new StatMuseClient({ baseUrl: base });
  const models = await c.models();
  assert.ok(models.length >= 5);
  assert.ok(models.every((m) => typeof m.version === "string"));
  const slate = await c.slate();
  assert.ok(Array.isArray(slate.props));
});
