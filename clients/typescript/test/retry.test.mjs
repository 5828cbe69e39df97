// The client's retries, against a local HTTP server that answers what each test scripts.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";

import { ApiError, StatMuseClient, retryAfterMs } from "../dist/client.js";

let server;
let base;
let script = [];
const seen = [];

before(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => { body += chunk; });
    req.on("end", () => {
      seen.push({ method: req.method, url: req.url, key: req.headers["x-api-key"], body });
      const [status, headers, payload] = script.shift() ?? [500, {}, { detail: "unscripted" }];
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(payload));
    });
  });
  await new Promise((done) => server.listen(0, "127.0.0.1", done));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => server.close());

function client(extra = {}) {
  const waits = [];
  const c = new StatMuseClient({ baseUrl: base, apiKey: "smp_k", sleep: async (ms) => {
    waits.push(ms);
  }, ...extra });
  return { c, waits };
}

test("a 429 is retried after its Retry-After, then the answer comes back", async () => {
  seen.length = 0;
  script = [[429, { "retry-after": "2" }, { detail: "rate limit" }], [200, {}, [{ name: "m" }]]];
  const { c, waits } = client();
  assert.deepEqual(await c.models(), [{ name: "m" }]);
  assert.deepEqual(waits, [2000]);
  assert.equal(seen.length, 2);
  assert.equal(seen[0].key, "smp_k");
});

test("a 503 with an HTTP date waits until then", async () => {
  const at = new Date(Date.now() + 3000).toUTCString();
  script = [[503, { "retry-after": at }, { detail: "down" }], [200, {}, []]];
  const { c, waits } = client();
  await c.models();
  assert.equal(waits.length, 1);
  assert.ok(waits[0] > 1000 && waits[0] <= 3000, `waited ${waits[0]}`);
});

test("without Retry-After the waits double; after maxRetries the error is thrown", async () => {
  script = [[503, {}, { detail: "down" }], [503, {}, { detail: "down" }],
    [503, {}, { detail: "still down" }]];
  const { c, waits } = client({ maxRetries: 2, backoffMs: 100 });
  await assert.rejects(c.models(), (err) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 503);
    assert.match(err.message, /still down/);
    return true;
  });
  assert.deepEqual(waits, [100, 200]);
});

test("a wait longer than maxWaitMs (a daily limit until midnight) is not waited for", async () => {
  script = [[429, { "retry-after": "40000" }, { detail: "daily limit reached", help_links: {} }]];
  const { c, waits } = client();
  await assert.rejects(c.predict({ player: "X Y", stat: "points", line: 20.5 }), (err) => {
    assert.equal(err.status, 429);
    assert.equal(err.retryAfterMs, 40_000_000);
    assert.ok("help_links" in err.body);
    return true;
  });
  assert.deepEqual(waits, []);
});

test("other errors are not retried and say what the server said", async () => {
  script = [[422, {}, { detail: [{ loc: ["body", "line"], msg: "Input should be a finite number" }] }]];
  const { c, waits } = client();
  await assert.rejects(c.predict({ player: "X Y", stat: "points", line: 1 }),
    /line: Input should be a finite number/);
  assert.deepEqual(waits, []);
});

test("queries skip empty values and bodies are JSON", async () => {
  seen.length = 0;
  script = [[200, {}, { date: "2024-03-18", props: [] }], [200, {}, { results: [] }]];
  const { c } = client();
  await c.slate({ stat: "points", team: undefined });
  await c.batchPredict([{ player: "A B", stat: "rebounds", line: 7.5 }]);
  assert.equal(seen[0].url, "/api/slate?stat=points");
  assert.deepEqual(JSON.parse(seen[1].body), { items: [{ player: "A B", stat: "rebounds", line: 7.5 }] });
});

test("retryAfterMs reads seconds and dates", () => {
  assert.equal(retryAfterMs("5"), 5000);
  assert.equal(retryAfterMs(null), null);
  assert.equal(retryAfterMs("soon"), null);
  assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4_000), 6000);
});
