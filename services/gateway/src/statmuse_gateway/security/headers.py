"""Security headers on every answer, and the proxies whose X-Forwarded-For is believed.

Every page the gateway serves (the dashboard, the API docs, the AsyncAPI viewer) loads its
scripts and styles from the gateway itself, with no inline script, so one Content-Security-
Policy covers them all: nothing from elsewhere, no inline script, no framing
(`frame-ancestors 'none'`), no plugins. `nosniff` stops a browser from running a report file
or a JSON answer as something else; no Referer leaves for the help links. One exception,
`EVAL_PAGES`: see there.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
# The AsyncAPI viewer validates the document with ajv, which compiles its schemas with
# `new Function`: that page alone may evaluate code (still no inline script, nothing from
# elsewhere). Nothing on it is user input: it renders the gateway's own committed document.
EVAL_PAGES = frozenset({"/docs/asyncapi"})
_EVAL_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-eval'").encode()
_NAMES = {name for name, _ in HEADERS}


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        extra = HEADERS
        if scope["path"] in EVAL_PAGES:
            extra = [(b"content-security-policy", _EVAL_CSP), *HEADERS[1:]]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _NAMES]
                message = {**message, "headers": kept + extra}
            await send(message)

        await self.app(scope, receive, with_headers)
