-- API keys for writes, admin and (when required) reads. Only sha256 of the secret is kept;
-- the full key (smp_<key_id>_<secret>) is shown once, when it is created.
CREATE TABLE api_keys (
    key_id        text PRIMARY KEY,
    secret_sha256 text NOT NULL,
    name          text NOT NULL,
    scopes        text[] NOT NULL
        CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['read', 'write', 'admin']::text[]),
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);
