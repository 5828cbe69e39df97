"""API keys (format, hashing, scopes), the authorization decision and the rate-limit window:
pure logic, no database or Redis."""

import datetime as dt
import hashlib
import logging

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

from statmuse_gateway.adapters import apikeys
from statmuse_gateway.adapters.apikeys import ApiKey, InvalidKeyError
from statmuse_gateway.adapters.counter import RedisWindowCounter
from statmuse_gateway.security.keys import authorize, needs_read_key, require_scope
from statmuse_gateway.security.limiter import Decision, RateLimiter, window

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def key(*scopes: apikeys.Scope, revoked: bool = False) -> ApiKey:
    return ApiKey("0123456789abcdef", "test", scopes, NOW, NOW if revoked else None)


def test_a_new_key_parses_back_to_its_id_and_secret():
    new = apikeys.generate()
    assert new.token.startswith(f"smp_{new.key_id}_")
    assert apikeys.parse(new.token) == (new.key_id, new.secret)
    assert apikeys.parse(f"  {new.token}\n") == (new.key_id, new.secret)


def test_keys_are_random():
    tokens = {apikeys.generate().token for _ in range(100)}
    assert len(tokens) == 100


def test_a_secret_with_underscores_survives_parsing():
    assert apikeys.parse("smp_0123456789abcdef_a_b_c_d_e_f_g_h_i") == (
        "0123456789abcdef",
        "a_b_c_d_e_f_g_h_i",
    )


@pytest.mark.parametrize(
    "token",
    [
        "",
        "smp_",
        "nope_0123456789abcdef_secretsecretsecret",
        "smp_0123456789ABCDEF_secretsecretsecret",  # ids are lower-case hex
        "smp_0123456789abcde_secretsecretsecret",  # short id
        "smp_0123456789abcdef_short",
        "smp_0123456789abcdef",
        "Bearer smp_0123456789abcdef_secretsecretsecret",
    ],
)
def test_malformed_keys_are_refused(token):
    with pytest.raises(InvalidKeyError):
        apikeys.parse(token)


def test_only_the_hash_of_the_secret_is_compared():
    new = apikeys.generate()
    stored = apikeys.hash_secret(new.secret)
    assert new.secret not in stored
    assert len(stored) == 64
    assert apikeys.secret_matches(new.secret, stored)
    assert not apikeys.secret_matches(new.secret + "x", stored)
    assert not apikeys.secret_matches(apikeys.generate().secret, stored)


def test_scopes_are_normalized_in_rank_order():
    assert apikeys.normalize_scopes(["admin", "READ", "write", "read"]) == (
        "read",
        "write",
        "admin",
    )
    with pytest.raises(ValueError, match="unknown scopes"):
        apikeys.normalize_scopes(["read", "root"])
    with pytest.raises(ValueError, match="at least one"):
        apikeys.normalize_scopes([])


@pytest.mark.parametrize(
    ("scopes", "needed", "granted"),
    [
        (["read"], "read", True),
        (["read"], "write", False),
        (["read"], "admin", False),
        (["write"], "read", True),
        (["write"], "write", True),
        (["write"], "admin", False),
        (["admin"], "read", True),
        (["admin"], "write", True),
        (["admin"], "admin", True),
        (["read", "admin"], "write", True),
        ([], "read", False),
        (["superuser"], "read", False),
    ],
)
def test_higher_scopes_include_lower_ones(scopes, needed, granted):
    assert apikeys.grants(scopes, needed) is granted


def test_authorize_says_401_without_valid_credentials_and_403_for_a_weak_key():
    missing = authorize(None, None, "write")
    assert missing is not None
    assert missing.status == 401
    assert "X-API-Key" in missing.detail
    assert missing.headers == {"WWW-Authenticate": 'ApiKey header="X-API-Key"'}
    assert authorize("", None, "read").status == 401  # type: ignore[union-attr]

    unknown = authorize("smp_x", None, "read")
    assert unknown is not None
    # An unknown or revoked key is no credential at all (RFC 9110: 401 with a challenge);
    # 403 is for a valid key that may not do this.
    assert (unknown.status, unknown.detail) == (401, "invalid API key")
    assert unknown.headers == {"WWW-Authenticate": 'ApiKey header="X-API-Key"'}

    revoked = authorize("t", key("admin", revoked=True), "read")
    assert revoked is not None
    assert revoked.status == 401
    assert "revoked" in revoked.detail

    weak = authorize("t", key("read"), "admin")
    assert weak is not None
    assert weak.status == 403
    assert "'admin'" in weak.detail

    assert authorize("t", key("write"), "write") is None
    assert authorize("t", key("admin"), "read") is None


def test_require_scope_refuses_unknown_scopes():
    with pytest.raises(ValueError, match="unknown scope"):
        require_scope("root")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("now", "index", "retry_after"),
    [
        (0.0, 0, 60),
        (59.0, 0, 1),
        (59.9, 0, 1),  # rounds up: never "retry in 0 s"
        (60.0, 1, 60),
        (61.5, 1, 59),
        (1_764_072_000.25, 29_401_200, 60),
    ],
)
def test_window_index_and_seconds_left(now, index, retry_after):
    assert window(now) == (index, retry_after)


def test_window_with_another_period():
    assert window(25.0, period=10) == (2, 5)
    assert window(29.99, period=10) == (2, 1)


def test_every_moment_of_a_window_shares_its_index_and_the_reset_is_within_it():
    for tenth in range(600):
        now = 6000.0 + tenth / 10
        index, retry_after = window(now)
        assert index == 100
        assert 1 <= retry_after <= 60
        assert now + retry_after >= 6060.0


@pytest.mark.parametrize(
    ("method", "path", "needed"),
    [
        ("GET", "/api/models", True),
        ("GET", "/api/player_context", True),
        ("HEAD", "/api/models", True),
        ("POST", "/api/predict", True),
        ("POST", "/api/batch_predict", True),
        ("POST", "/api/player_context", True),
        ("POST", "/api/batch_player_context", True),
        ("POST", "/api/models/points/promote", False),  # admin: the route's own dependency
        ("GET", "/health", False),
        ("GET", "/ready", False),
        ("GET", "/metrics", False),
        ("GET", "/docs", False),
        ("GET", "/openapi.json", False),
        ("GET", "/dashboard", False),
        ("GET", "/apix", False),
        ("OPTIONS", "/api/predict", False),
    ],
)
def test_which_requests_need_a_read_key(method, path, needed):
    assert needs_read_key(method, path) is needed


class FakeRedis:
    """Just enough of redis.asyncio for the limiter's script: INCR, and EXPIRE on a new key.
    Like a fresh Redis, it knows no script until one is sent whole (EVAL)."""

    def __init__(self, *, fail: bool = False) -> None:
        self.store: dict[str, int] = {}
        self.expiry: dict[str, int] = {}
        self.scripts: set[str] = set()
        self.fail = fail
        self.calls = 0

    async def evalsha(self, sha: str, numkeys: int, *keys_and_args: object) -> int:
        self.calls += 1
        if self.fail:
            raise RedisConnectionError("connection refused")
        if sha not in self.scripts:
            raise NoScriptError("NOSCRIPT No matching script")
        assert numkeys == 1
        key, seconds = str(keys_and_args[0]), int(keys_and_args[1])  # type: ignore[call-overload]
        self.store[key] = self.store.get(key, 0) + 1
        if self.store[key] == 1:
            self.expiry[key] = seconds
        return self.store[key]

    async def eval(self, text: str, numkeys: int, *keys_and_args: object) -> int:
        self.scripts.add(hashlib.sha1(text.encode()).hexdigest())
        return await self.evalsha(hashlib.sha1(text.encode()).hexdigest(), numkeys, *keys_and_args)


async def test_the_limiter_counts_per_client_and_window():
    fake = FakeRedis()
    now = [120.5]
    limiter = RateLimiter(counter=RedisWindowCounter(fake), limit=2, clock=lambda: now[0])  # type: ignore[arg-type]
    first, second, third = [await limiter.hit("ip", "1.2.3.4") for _ in range(3)]
    assert first == Decision(True, 1, 2, 60)
    assert (second.allowed, second.remaining) == (True, 0)  # type: ignore[union-attr]
    assert (third.allowed, third.retry_after) == (False, 60)  # type: ignore[union-attr]
    assert (await limiter.hit("key", "abc")).allowed  # type: ignore[union-attr]
    now[0] = 180.0
    assert (await limiter.hit("ip", "1.2.3.4")).count == 1  # type: ignore[union-attr]
    assert set(fake.store) == {
        "ratelimit:ip:1.2.3.4:2",
        "ratelimit:key:abc:2",
        "ratelimit:ip:1.2.3.4:3",
    }
    # Every window's counter expires after the window (so none outlives its use).
    assert fake.expiry == dict.fromkeys(fake.store, 61)
    # The script went whole once (Redis did not know it), by its SHA1 after that.
    assert len(fake.scripts) == 1
    assert fake.calls == 5 + 1


async def test_the_limiter_fails_open_backs_off_and_warns_once(caplog):
    fake = FakeRedis(fail=True)
    limiter = RateLimiter(counter=RedisWindowCounter(fake), limit=1)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="statmuse_gateway.security"):
        assert [await limiter.hit("ip", "x") for _ in range(5)] == [None] * 5
    assert fake.calls == 1  # later requests skip Redis for a while instead of timing out
    assert len([r for r in caplog.records if "not rate limiting" in r.message]) == 1
    unreachable = RedisWindowCounter(FakeRedis(fail=True))  # type: ignore[arg-type]
    assert await RateLimiter(counter=unreachable, limit=1).hit("ip", "x") is None
