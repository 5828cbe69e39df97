"""statmuse-gateway: serve, migrate."""

from statmuse_gateway.settings import GatewaySettings
from statmuse_shared.runtime import service_cli


def _settings() -> GatewaySettings:
    return GatewaySettings()  # DATABASE_URL comes from the env


def _create_app(settings: GatewaySettings) -> object:
    from statmuse_gateway.app import create_app

    return create_app(settings)


app = service_cli(
    service="gateway", schema="gateway", settings=_settings, create_app=_create_app, help=__doc__
)


def main() -> None:
    app()
