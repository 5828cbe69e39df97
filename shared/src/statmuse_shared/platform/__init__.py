"""Process plumbing every service shares: settings bases, logging, the asyncpg pool and
advisory locks, the schema migrations runner, the Kafka broker (publishing, consuming with
dead letters), the small HTTP face (/health, /ready, /metrics), the service runtime and the
scheduler. Nothing here knows about NBA data."""
