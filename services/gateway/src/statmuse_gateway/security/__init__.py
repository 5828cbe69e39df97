"""What stands between a request and the routes, as three ASGI middlewares (outermost first,
all inside CORS so that a browser can read their refusals; `app.create_app` installs them):

1. `body.BodyLimitMiddleware`: a body over `max_body_bytes` is refused (413).
2. `ratelimit.RateLimitMiddleware`: every request is counted once for its client, and refused
   (429) over the limit, before any route or database work.
3. `keys.ReadKeyMiddleware` (only with `require_key_for_reads`): the read endpoints need a
   "read" key (401/403; 503 when the keys cannot be checked).

Writes and admin routes declare `Depends(keys.require_scope("write" | "admin"))` themselves.
"""
