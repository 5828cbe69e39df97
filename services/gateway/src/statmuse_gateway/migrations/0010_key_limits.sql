-- Per-key limits. rate_limit_per_minute: the key's own budget (NULL: the gateway's default),
-- set when the key is created. daily_limit: predictions a day the key's holder set for
-- themselves (NULL: none); a raise or removal waits for the next UTC day (raised_to and
-- raise_on), a lower limit applies at once.
ALTER TABLE api_keys
    ADD COLUMN rate_limit_per_minute integer CHECK (rate_limit_per_minute > 0),
    ADD COLUMN daily_limit integer CHECK (daily_limit >= 0),
    ADD COLUMN daily_limit_raised_to integer CHECK (daily_limit_raised_to >= 0),
    ADD COLUMN daily_limit_raise_on date;
