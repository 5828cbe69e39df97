"""API keys: the key format, hashing and scopes (pure), and their table (asyncpg).

A key reads `smp_<key_id>_<secret>`. The id is public (it names the key in `apikey list`, in
logs and in the rate limiter); the secret is shown once and only its sha256 is stored. A fast
hash is enough here: the secret is 256 random bits, not a password, so it cannot be guessed.
"""

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg

from statmuse_gateway.ports import KeysUnavailableError
from statmuse_shared.platform.db import Database

Scope = Literal["read", "write", "admin"]
# Each scope includes the ones before it: an admin key may write, a write key may read.
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
PREFIX = "smp"
_ID_HEX = 16


class InvalidKeyError(ValueError):
    """The text is not a key of ours (wrong prefix, id or secret)."""


RAISE_DELAY = dt.timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class DailyLimit:
    """Predictions a day that a key's holder set for themselves (responsible gambling). A
    lower limit applies at once; a higher one, or none, only 24 hours after it was asked
    (`raise_at`), so a limit cannot be lifted in the heat of the moment."""

    limit: int | None = None
    raised_to: int | None = None
    raise_at: dt.datetime | None = None

    def at(self, now: dt.datetime) -> int | None:
        """The limit in force at `now` (None: no limit)."""
        if self.raise_at is not None and now >= self.raise_at:
            return self.raised_to
        return self.limit

    def pending(self, now: dt.datetime) -> bool:
        return self.raise_at is not None and now < self.raise_at

    def set_to(self, wanted: int | None, now: dt.datetime) -> "DailyLimit":
        """The limit after its holder asks for `wanted` at `now`."""
        current = self.at(now)
        if wanted == current or (wanted is not None and current is not None and wanted < current):
            return DailyLimit(wanted)  # stricter or the same: at once, a pending raise gone
        if current is None:
            return DailyLimit(wanted)  # a first limit: at once
        return DailyLimit(current, wanted, now + RAISE_DELAY)


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    name: str
    scopes: tuple[Scope, ...]
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None
    # Requests a minute for this key (set at creation); None: the gateway's default.
    rate_limit: int | None = None
    daily: DailyLimit = DailyLimit()

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def allows(self, needed: Scope) -> bool:
        return not self.revoked and grants(self.scopes, needed)


@dataclass(frozen=True, slots=True)
class NewKey:
    key_id: str
    secret: str

    @property
    def token(self) -> str:
        """What the client sends in X-API-Key."""
        return f"{PREFIX}_{self.key_id}_{self.secret}"


def generate() -> NewKey:
    return NewKey(key_id=secrets.token_hex(_ID_HEX // 2), secret=secrets.token_urlsafe(32))


def parse(token: str) -> tuple[str, str]:
    """`smp_<id>_<secret>` -> (id, secret). The secret may itself contain `_`."""
    prefix, _, rest = token.strip().partition("_")
    key_id, _, secret = rest.partition("_")
    if (
        prefix != PREFIX
        or len(key_id) != _ID_HEX
        or any(c not in "0123456789abcdef" for c in key_id)
        or len(secret) < 16
    ):
        raise InvalidKeyError("not a StatMusePicks API key (expected smp_<id>_<secret>)")
    return key_id, secret


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_sha256: str) -> bool:
    # Constant time, so response timing says nothing about how much of the hash matched.
    return hmac.compare_digest(hash_secret(secret), stored_sha256)


def normalize_scopes(scopes: Iterable[str]) -> tuple[Scope, ...]:
    wanted = {s.strip().lower() for s in scopes}
    unknown = wanted - set(SCOPES)
    if unknown:
        raise ValueError(f"unknown scopes {sorted(unknown)}; choose from {', '.join(SCOPES)}")
    if not wanted:
        raise ValueError("a key needs at least one scope")
    return tuple(s for s in SCOPES if s in wanted)


def grants(scopes: Iterable[str], needed: Scope) -> bool:
    """Whether keys with `scopes` may do what needs `needed` (higher scopes include lower)."""
    rank: dict[str, int] = {s: i for i, s in enumerate(SCOPES)}
    return any(rank.get(s, -1) >= rank[needed] for s in scopes)


_COLUMNS = (
    "key_id, name, scopes, created_at, revoked_at, rate_limit_per_minute, daily_limit, "
    "daily_limit_raised_to, daily_limit_raise_at"
)


def _key(row: asyncpg.Record) -> ApiKey:
    return ApiKey(
        key_id=row["key_id"],
        name=row["name"],
        scopes=normalize_scopes(row["scopes"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        rate_limit=row["rate_limit_per_minute"],
        daily=DailyLimit(
            row["daily_limit"], row["daily_limit_raised_to"], row["daily_limit_raise_at"]
        ),
    )


async def create_key(
    *,
    conn: asyncpg.Connection | asyncpg.Pool,
    name: str,
    scopes: Iterable[str],
    rate_limit: int | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key (with its own requests a minute, or the gateway's default); returns it
    and the full token (the only time the secret exists)."""
    wanted = normalize_scopes(scopes)
    if not name.strip():
        raise ValueError("a key needs a name")
    if rate_limit is not None and rate_limit < 1:
        raise ValueError("a rate limit is at least 1 request a minute")
    new = generate()
    row = await conn.fetchrow(
        "INSERT INTO gateway.api_keys (key_id, secret_sha256, name, scopes, "
        f"rate_limit_per_minute) VALUES ($1, $2, $3, $4, $5) RETURNING {_COLUMNS}",
        new.key_id,
        hash_secret(new.secret),
        name.strip(),
        list(wanted),
        rate_limit,
    )
    assert row is not None
    return _key(row), new.token


async def list_keys(*, conn: asyncpg.Connection | asyncpg.Pool) -> list[ApiKey]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM gateway.api_keys ORDER BY created_at, key_id")
    return [_key(r) for r in rows]


async def revoke_key(*, conn: asyncpg.Connection | asyncpg.Pool, key_id: str) -> ApiKey | None:
    """Revoke a key (idempotent: the first revocation time stays); None if there is none."""
    row = await conn.fetchrow(
        "UPDATE gateway.api_keys SET revoked_at = coalesce(revoked_at, now()) "
        f"WHERE key_id = $1 RETURNING {_COLUMNS}",
        key_id,
    )
    return None if row is None else _key(row)


async def authenticate(*, conn: asyncpg.Connection | asyncpg.Pool, token: str) -> ApiKey | None:
    """The key a client presented, or None when it is malformed, unknown or wrong. A revoked
    key is returned (with `revoked_at` set) so the caller can say so."""
    try:
        key_id, secret = parse(token)
    except InvalidKeyError:
        return None
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS}, secret_sha256 FROM gateway.api_keys WHERE key_id = $1", key_id
    )
    if row is None or not secret_matches(secret, row["secret_sha256"]):
        return None
    return _key(row)


class PostgresApiKeys:
    """The `ApiKeys` of the service: keys looked up in the service's database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def authenticate(self, token: str) -> ApiKey | None:
        return await self._run(  # type: ignore[no-any-return]
            lambda pool: authenticate(conn=pool, token=token)
        )

    async def _run(self, work: Any) -> Any:
        if not self.db.is_open:
            raise KeysUnavailableError("the database pool is not open")
        try:
            return await work(self.db.pool)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise KeysUnavailableError(str(exc)) from exc

    async def change_daily_limit(
        self, key_id: str, wanted: int | None, now: dt.datetime
    ) -> DailyLimit | None:
        return await self._run(  # type: ignore[no-any-return]
            lambda pool: change_daily_limit(conn=pool, key_id=key_id, wanted=wanted, now=now)
        )

    async def spend(self, key_id: str, day: dt.date, n: int, limit: int) -> tuple[bool, int]:
        return await self._run(  # type: ignore[no-any-return]
            lambda pool: spend(conn=pool, key_id=key_id, day=day, n=n, limit=limit)
        )

    async def used_on(self, key_id: str, day: dt.date) -> int:
        return await self._run(  # type: ignore[no-any-return]
            lambda pool: used_on(conn=pool, key_id=key_id, day=day)
        )


async def change_daily_limit(
    *, conn: asyncpg.Pool, key_id: str, wanted: int | None, now: dt.datetime
) -> DailyLimit | None:
    """The key's daily limit after its holder asks for `wanted` (None: no such key). Read,
    decided and written in one transaction with the row locked, so two changes at once cannot
    undo a lowering."""
    async with conn.acquire() as c, c.transaction():
        row = await c.fetchrow(
            f"SELECT {_COLUMNS} FROM gateway.api_keys WHERE key_id = $1 FOR UPDATE", key_id
        )
        if row is None:
            return None
        changed = _key(row).daily.set_to(wanted, now)
        await c.execute(
            "UPDATE gateway.api_keys SET daily_limit = $2, daily_limit_raised_to = $3, "
            "daily_limit_raise_at = $4 WHERE key_id = $1",
            key_id,
            changed.limit,
            changed.raised_to,
            changed.raise_at,
        )
        return changed


async def spend(
    *, conn: asyncpg.Connection | asyncpg.Pool, key_id: str, day: dt.date, n: int, limit: int
) -> tuple[bool, int]:
    """Count `n` predictions of the key on `day` if they fit within `limit`, in one statement
    (concurrent requests cannot both take the last one): (counted, the day's count)."""
    if n <= limit:
        used = await conn.fetchval(
            "INSERT INTO gateway.key_usage AS u (key_id, day, used) VALUES ($1, $2, $3) "
            "ON CONFLICT (key_id, day) DO UPDATE SET used = u.used + EXCLUDED.used "
            "WHERE u.used + EXCLUDED.used <= $4 RETURNING used",
            key_id,
            day,
            n,
            limit,
        )
        if used is not None:
            return True, int(used)
    return False, await used_on(conn=conn, key_id=key_id, day=day)


async def used_on(*, conn: asyncpg.Connection | asyncpg.Pool, key_id: str, day: dt.date) -> int:
    used = await conn.fetchval(
        "SELECT used FROM gateway.key_usage WHERE key_id = $1 AND day = $2", key_id, day
    )
    return int(used or 0)
