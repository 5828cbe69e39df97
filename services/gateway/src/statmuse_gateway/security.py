"""API keys, rate limiting and the request-size limit (owned by the security work)."""

from typing import Any

from fastapi import FastAPI

from statmuse_gateway.settings import GatewaySettings


def install(app: FastAPI, settings: GatewaySettings, state: dict[str, Any]) -> None:
    """Add the security middleware to `app` (placeholder until the security work lands)."""
    del app, settings, state
