"""statmuse-gateway: serve, migrate, apikey (create, list, revoke), openapi."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from statmuse_gateway.settings import GatewaySettings
from statmuse_shared.platform.runtime import service_cli

T = TypeVar("T")


def _settings() -> GatewaySettings:
    return GatewaySettings()  # DATABASE_URL comes from the env


def _create_app(settings: GatewaySettings) -> object:
    from statmuse_gateway.app import create_app

    return create_app(settings)


app = service_cli(
    service="gateway", schema="gateway", settings=_settings, create_app=_create_app, help=__doc__
)
apikey = typer.Typer(no_args_is_help=True, help="Create, list and revoke API keys.")
app.add_typer(apikey, name="apikey")


def _with_conn(work: Callable[..., Awaitable[T]]) -> T:
    import asyncpg

    async def run() -> T:
        conn = await asyncpg.connect(_settings().dsn)
        try:
            return await work(conn=conn)
        finally:
            await conn.close()

    try:
        return asyncio.run(run())
    except asyncpg.UndefinedTableError as exc:
        typer.echo("error: no API key table; run `statmuse-gateway migrate` first", err=True)
        raise typer.Exit(1) from exc
    except (OSError, asyncpg.PostgresError) as exc:
        typer.echo(f"error: cannot reach the database: {exc}", err=True)
        raise typer.Exit(1) from exc


@apikey.command("create")
def apikey_create(
    name: Annotated[str, typer.Option(help="Who or what the key is for")],
    scope: Annotated[
        list[str] | None,
        typer.Option(help="read, write or admin; repeatable; default read (higher includes lower)"),
    ] = None,
    rate_limit: Annotated[
        int | None,
        typer.Option(
            min=1, help="Requests a minute for this key; default: GATEWAY_RATE_LIMIT_PER_MINUTE"
        ),
    ] = None,
) -> None:
    """Create a key and print it: this is the only time it is shown."""
    from statmuse_gateway.adapters import apikeys

    if not name.strip():
        raise typer.BadParameter("give the key a name (who or what it is for)", param_hint="--name")
    try:
        apikeys.normalize_scopes(scope or ["read"])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scope") from exc
    key, token = _with_conn(
        lambda conn: apikeys.create_key(
            conn=conn, name=name, scopes=scope or ["read"], rate_limit=rate_limit
        )
    )
    quota = f"; {key.rate_limit} requests a minute" if key.rate_limit else ""
    typer.echo(f"created key {key.key_id} ({key.name}; {', '.join(key.scopes)}{quota})", err=True)
    typer.echo("store it now: it cannot be shown again", err=True)
    typer.echo(token)


@apikey.command("list")
def apikey_list() -> None:
    """Every key: id, name, scopes, created, revoked (never the secret)."""
    from statmuse_gateway.adapters import apikeys

    keys = _with_conn(lambda conn: apikeys.list_keys(conn=conn))
    if not keys:
        typer.echo("no API keys", err=True)
        return
    for k in keys:
        revoked = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
        rate = f"{k.rate_limit}/min" if k.rate_limit else "default/min"
        typer.echo(
            f"{k.key_id}  {k.name:20}  {','.join(k.scopes):16}  {rate:12}  "
            f"created {k.created_at:%Y-%m-%d %H:%M}  {revoked}"
        )


@apikey.command("revoke")
def apikey_revoke(key_id: Annotated[str, typer.Argument(help="The key id (from `list`)")]) -> None:
    """Revoke a key; it is refused from the next request on."""
    from statmuse_gateway.adapters import apikeys

    key = _with_conn(lambda conn: apikeys.revoke_key(conn=conn, key_id=key_id))
    if key is None:
        typer.echo(f"error: no API key {key_id!r}", err=True)
        raise typer.Exit(2)
    typer.echo(f"revoked {key.key_id} ({key.name}) at {key.revoked_at:%Y-%m-%d %H:%M:%S %Z}")


@apikey.command("daily-limit")
def apikey_daily_limit(
    key_id: Annotated[str, typer.Argument(help="The key id (from `list`)")],
    limit: Annotated[
        int | None, typer.Option(min=0, help="Predictions a day; omit to remove the limit")
    ] = None,
) -> None:
    """Set or remove a key's daily limit at once (an operator's override: the key's holder
    can only lower it at once, `PUT /api/keys/me/daily_limit`)."""

    async def store(conn: Any) -> bool:
        done = await conn.execute(
            "UPDATE gateway.api_keys SET daily_limit = $2, daily_limit_raised_to = NULL, "
            "daily_limit_raise_at = NULL WHERE key_id = $1",
            key_id,
            limit,
        )
        return bool(done.endswith(" 1"))

    if not _with_conn(store):
        typer.echo(f"error: no API key {key_id!r}", err=True)
        raise typer.Exit(2)
    shown = "no daily limit" if limit is None else f"{limit} predictions a day"
    typer.echo(f"{key_id}: {shown}")


@app.command("openapi")
def openapi_document(
    out: Annotated[
        Path | None, typer.Option(help="Write it here (default: standard output)")
    ] = None,
) -> None:
    """The gateway's OpenAPI document, as it serves it at /openapi.json (the TypeScript
    client's types are generated from it: clients/typescript)."""
    from statmuse_gateway.app import create_app

    # Nothing connects: the document needs the routes only.
    document = create_app(GatewaySettings(database_url="postgresql://unused@localhost/none"))
    text = json.dumps(document.openapi(), indent=2, sort_keys=False) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text)


def main() -> None:
    app()
