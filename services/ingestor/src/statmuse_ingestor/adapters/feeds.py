"""Schema `ingest`, the feeds table through asyncpg: `PostgresFeeds`, the service's
`FeedRepository`. An item is rewritten (and queued for publishing) only when its content
changed, so reading the same feed again changes nothing."""

from collections.abc import Sequence

import asyncpg

from statmuse_ingestor.ports import Feed, FeedItem, StoreResult
from statmuse_shared.platform.db import Database


class PostgresFeeds:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def store_feed(self, feed: Feed, items: Sequence[FeedItem]) -> StoreResult:
        # The last item of a key wins when a run read it twice.
        latest = {item.key: item for item in items}
        if not latest:
            return StoreResult(0, 0)
        async with self.db.acquire() as conn:
            status = await conn.execute(
                """INSERT INTO ingest.feeds (feed, key, game_date, checksum, payload)
                   SELECT $1, k.key, k.game_date, k.checksum, k.payload::jsonb
                   FROM unnest($2::text[], $3::date[], $4::text[], $5::text[])
                        AS k(key, game_date, checksum, payload)
                   ON CONFLICT (feed, key) DO UPDATE
                   SET game_date = EXCLUDED.game_date, checksum = EXCLUDED.checksum,
                       payload = EXCLUDED.payload, updated_at = now(), published_at = NULL
                   WHERE ingest.feeds.checksum IS DISTINCT FROM EXCLUDED.checksum""",
                feed,
                [i.key for i in latest.values()],
                [i.game_date for i in latest.values()],
                [i.checksum for i in latest.values()],
                [i.payload for i in latest.values()],
            )
        stored = int(status.split()[-1])
        return StoreResult(stored, len(latest) - stored)

    async def unpublished_feed(self, feed: Feed, *, limit: int) -> list[FeedItem]:
        async with self.db.acquire() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(
                """SELECT key, game_date, checksum, payload::text AS payload FROM ingest.feeds
                   WHERE feed = $1 AND published_at IS NULL
                   ORDER BY game_date, key LIMIT $2""",
                feed,
                limit,
            )
        return [FeedItem(r["key"], r["game_date"], r["checksum"], r["payload"]) for r in rows]

    async def mark_feed_published(self, feed: Feed, items: Sequence[FeedItem]) -> None:
        async with self.db.acquire() as conn:
            await conn.execute(
                """UPDATE ingest.feeds f SET published_at = now()
                   FROM unnest($2::text[], $3::text[]) AS k(key, checksum)
                   WHERE f.feed = $1 AND f.key = k.key AND f.checksum = k.checksum""",
                feed,
                [i.key for i in items],
                [i.checksum for i in items],
            )
