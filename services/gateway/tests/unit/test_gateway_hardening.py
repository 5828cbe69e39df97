"""Bad input and hostile clients against the whole app (every middleware, the real routes,
in-memory stand-ins for PostgreSQL and Redis): a clear 4xx, never a 500; nothing big echoed
back; security headers on every answer; X-Forwarded-For believed only from a trusted proxy."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from typer.testing import CliRunner

from statmuse_gateway.app import create_app
from statmuse_gateway.cli import app as gateway_cli
from statmuse_gateway.security.errors import MAX_ECHO, safe
from statmuse_gateway.settings import GatewaySettings

from .fakes import fake_runtime

GOOD = {"player": "LeBron James", "stat": "points", "line": 25.5}


def settings(**overrides: Any) -> GatewaySettings:
    return GatewaySettings(database_url="postgresql://x", **overrides)


@pytest.fixture
async def http(tmp_path) -> AsyncIterator[httpx.AsyncClient]:
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "a.png").write_bytes(b"\x89PNG")
    config = settings(reports_dir=tmp_path / "reports", rate_limit_per_minute=10_000)
    app = create_app(config, runtime=fake_runtime(config))
    transport = httpx.ASGITransport(app=app, client=("10.1.1.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


async def post_raw(http: httpx.AsyncClient, path: str, body: bytes) -> httpx.Response:
    return await http.post(path, content=body, headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    ("line", "echoed"),
    [("1e309", "inf"), ("-1e309", "-inf"), ("NaN", "nan"), ("Infinity", "inf")],
)
async def test_non_finite_numbers_are_a_422_not_a_500(http, line, echoed):
    body = b'{"player":"LeBron James","stat":"points","line":%s}' % line.encode()
    r = await post_raw(http, "/api/predict", body)
    assert r.status_code == 422, r.text
    (error,) = r.json()["detail"]
    assert error["loc"] == ["body", "line"]
    assert "finite" in error["msg"]
    assert error["input"] == echoed


async def test_non_finite_numbers_in_a_batch_fail_only_their_item(http):
    body = (
        b'{"items":[{"player":"LeBron James","stat":"points","line":NaN},'
        b'{"player":"LeBron James","stat":"points","line":1e309,"odds_over":-110}]}'
    )
    r = await post_raw(http, "/api/batch_predict", body)
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()["results"]] == ["invalid", "invalid"]
    assert all("finite" in x["error"] for x in r.json()["results"])


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"line": True}, "line", "number"),
        ({"line": "25.5"}, "line", "number"),
        ({"player": 12345}, "player", "string"),
        ({"odds_over": 1_000_000_000_000}, "odds_over", "10000"),
        ({"odds_under": -20_000}, "odds_under", "-10000"),
        ({"odds_over": "-110"}, "odds_over", "integer"),
        ({"odds_over": True}, "odds_over", "integer"),
        ({"opponent": "XYZ"}, "opponent", "team"),
        ({"opponent": "den"}, "opponent", "pattern"),
    ],
)
async def test_strict_types_realistic_odds_and_real_teams(http, change, field, words):
    r = await http.post("/api/predict", json={**GOOD, **change})
    assert r.status_code == 422, r.text
    errors = r.json()["detail"]
    assert [e["loc"] for e in errors] == [["body", field]]
    assert words in errors[0]["msg"]


async def test_realistic_odds_and_a_real_opponent_still_pass_validation(http):
    ok = {**GOOD, "odds_over": -10_000, "odds_under": 10_000, "opponent": "DEN"}
    r = await http.post("/api/predict", json=ok)
    # No such player in the empty read model: the request got past validation to the lookup.
    assert r.status_code == 404, r.text


async def test_the_context_endpoint_refuses_an_unknown_team(http):
    r = await http.get(
        "/api/player_context", params={"player_name": "LeBron James", "opponent": "XYZ"}
    )
    assert r.status_code == 422
    (error,) = r.json()["detail"]  # the documented 422 body: a list of field errors
    assert error["loc"] == ["query", "opponent"]
    assert error["input"] == "XYZ"
    assert "team" in error["msg"]


async def test_a_huge_value_is_not_echoed_back_whole(http):
    name = "x" * 10_000
    r = await http.post("/api/predict", json={**GOOD, "player": name, "sneaky": "y" * 10_000})
    assert r.status_code == 422
    assert len(r.content) < 2_000
    echoed = {tuple(e["loc"]): e.get("input") for e in r.json()["detail"]}
    assert echoed[("body", "player")].startswith("x" * MAX_ECHO)
    assert "10,000 characters" in echoed[("body", "player")]


async def test_a_body_of_many_fields_is_echoed_in_part(http):
    body = {**GOOD, **{f"k{i}": "v" for i in range(500)}}
    r = await http.post("/api/predict", json=body)
    assert r.status_code == 422
    assert len(r.json()["detail"]) <= 10
    assert len(r.content) < 4_000


def test_safe_makes_anything_encodable_and_small():
    value = {"a": float("nan"), "b": [float("-inf")] * 50, "c": b"\xff" * 200, "d": {"e": {"f": 1}}}
    out = safe(value)
    text = json.dumps(out, allow_nan=False)
    assert len(text) < 1_000
    assert out["a"] == "nan"
    assert out["b"][0] == "-inf"
    assert len(out["b"]) == 11
    assert out["d"] == {"e": "…"}


async def test_a_null_byte_in_a_report_path_is_a_404(http):
    assert (await http.get("/dashboard/reports/a.png")).status_code == 200
    for path in ("x%00.png", "a.png%00", "%00"):
        r = await http.get(f"/dashboard/reports/{path}")
        assert r.status_code == 404, path


@pytest.mark.parametrize(
    "path", ["/dashboard", "/dashboard/static/dashboard.js", "/api/models", "/nope", "/health"]
)
async def test_security_headers_on_every_answer(http, path):
    r = await http.get(path)
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"


async def test_security_headers_on_errors_too(http):
    r = await post_raw(http, "/api/predict", b"{not json")
    assert r.status_code == 422
    assert r.headers["x-content-type-options"] == "nosniff"


async def limited_client(peer: str, **overrides: Any) -> tuple[httpx.AsyncClient, GatewaySettings]:
    config = settings(rate_limit_per_minute=3, **overrides)
    app = create_app(config, runtime=fake_runtime(config))
    transport = httpx.ASGITransport(app=app, client=(peer, 5000))
    return httpx.AsyncClient(transport=transport, base_url="http://t"), config


def served(app: Any, config: GatewaySettings, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The ASGI app as `serve` has uvicorn run it (its config's middlewares included)."""
    import uvicorn

    from statmuse_shared.platform import runtime

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, kw=kw))
    runtime.serve("gateway", app, config)
    loaded = uvicorn.Config(seen["app"], **seen["kw"])
    loaded.load()
    return loaded.loaded_app


async def test_rotating_x_forwarded_for_does_not_reset_the_limit(monkeypatch):
    # From loopback, where uvicorn's default (proxy_headers on, trusting 127.0.0.1) believed
    # the header, so each new address was a new budget.
    config = settings(rate_limit_per_minute=3)
    app = served(create_app(config, runtime=fake_runtime(config)), config, monkeypatch)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        codes = [
            (
                await client.get("/api/models", headers={"X-Forwarded-For": f"203.0.113.{i}"})
            ).status_code
            for i in range(6)
        ]
    assert codes == [200, 200, 200, 429, 429, 429]


async def test_a_configured_proxy_names_the_client():
    client, _ = await limited_client("10.0.0.9", trusted_proxies=("10.0.0.0/24",))
    async with client:
        # Each forwarded client has its own budget behind the trusted proxy...
        first = [
            (
                await client.get("/api/models", headers={"X-Forwarded-For": "203.0.113.1"})
            ).status_code
            for _ in range(4)
        ]
        other = await client.get("/api/models", headers={"X-Forwarded-For": "203.0.113.2"})
    assert first == [200, 200, 200, 429]
    assert other.status_code == 200
    # ...but a peer that is not the proxy cannot pick one.
    untrusted, _ = await limited_client("10.0.1.9", trusted_proxies=("10.0.0.0/24",))
    async with untrusted:
        codes = [
            (
                await untrusted.get("/api/models", headers={"X-Forwarded-For": f"198.51.100.{i}"})
            ).status_code
            for i in range(4)
        ]
    assert codes == [200, 200, 200, 429]


@pytest.mark.parametrize("name", ["", "   "])
def test_creating_a_key_without_a_name_is_a_clean_cli_error(name, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(gateway_cli, ["apikey", "create", "--name", name])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "name" in result.output
    assert "Traceback" not in result.output


async def test_the_docs_pages_load_only_the_gateways_own_files(http):
    for page, needed in (
        ("/docs", "swagger-ui-bundle.js"),
        ("/docs/asyncapi", "asyncapi-standalone.js"),
    ):
        r = await http.get(page)
        assert r.status_code == 200
        assert "<script>" not in r.text  # no inline script
        assert "http://" not in r.text
        assert "https://" not in r.text
        sources = [part.split('"')[1] for part in r.text.split("src=")[1:]]
        assert any(s.endswith(needed) for s in sources)
        for src in sources + [h.split('"')[1] for h in r.text.split('rel="stylesheet" href=')[1:]]:
            asset = await http.get(src)
            assert asset.status_code == 200, src
            assert len(asset.content) > 100, src
    assert (await http.get("/docs/static/../app.py")).status_code == 404
    assert (await http.get("/docs/static/nope.js")).status_code == 404
    # Only the AsyncAPI viewer may evaluate code (its validator compiles schemas).
    assert "unsafe-eval" in (await http.get("/docs/asyncapi")).headers["content-security-policy"]
    assert "unsafe-eval" not in (await http.get("/docs")).headers["content-security-policy"]


# Any JSON at all in any field of a prediction request: a 4xx or an answer, never a 5xx, and
# never more than a few kB back (the fuzzing counterpart of the cases above).
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=3_000),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=20), inner, max_size=5)
    ),
    max_leaves=20,
)
_fields = st.sampled_from(
    ["player", "stat", "line", "odds_over", "odds_under", "opponent", "game_date", "extra"]
)


@hsettings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(changes=st.dictionaries(_fields, _json_values, max_size=4), batch=st.booleans())
def test_no_json_in_any_field_gets_a_5xx(changes: dict[str, Any], batch: bool) -> None:
    body = {**GOOD, **changes}
    raw = json.dumps(body, allow_nan=True).encode()  # NaN and Infinity as Python writes them
    config = settings(rate_limit_per_minute=10**6)
    app = create_app(config, runtime=fake_runtime(config))

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("10.9.9.9", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            if batch:
                payload = b'{"items":[' + raw + b"," + json.dumps(GOOD).encode() + b"]}"
                return await post_raw(client, "/api/batch_predict", payload)
            return await post_raw(client, "/api/predict", raw)

    r = asyncio.run(call())
    assert r.status_code < 500, r.text
    assert len(r.content) < 8_000
    if batch:
        assert r.status_code == 200
        assert len(r.json()["results"]) == 2


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "proxy.example.com", "10.0.0.300"])
def test_a_trusted_proxy_must_be_an_address_or_network(bad):
    with pytest.raises(ValueError, match="not an address or network"):
        settings(trusted_proxies=(bad,))
    assert settings(trusted_proxies=("10.0.0.0/8", "192.168.1.7", "::1")).trusted_proxies


async def test_a_browser_may_put_and_read_retry_after():
    config = settings()
    app = create_app(config, runtime=fake_runtime(config))
    transport = httpx.ASGITransport(app=app, client=("10.1.1.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        pre = await client.options(
            "/api/keys/me/daily_limit",
            headers={
                "Origin": "http://localhost:3000",
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "content-type,x-api-key",
            },
        )
        answer = await client.get("/api/models", headers={"Origin": "http://localhost:3000"})
    assert pre.status_code == 200
    assert "PUT" in pre.headers["access-control-allow-methods"]
    assert "retry-after" in answer.headers["access-control-expose-headers"].lower()


async def test_a_huge_number_is_echoed_in_part(http):
    r = await post_raw(
        http,
        "/api/predict",
        b'{"player":"LeBron James","stat":"points","line":' + b"9" * 4000 + b"}",
    )
    assert r.status_code == 422
    assert len(r.content) < 1_000
