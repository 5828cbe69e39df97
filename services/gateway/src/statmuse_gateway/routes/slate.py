"""GET /api/slate: a day's posted prop lines as the predictor priced them, with filters."""

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from statmuse_gateway.dependencies import Gateway
from statmuse_gateway.schemas import ErrorBody, SlateProp, SlateResponse
from statmuse_shared.contract.stats import Stat

router = APIRouter(prefix="/api", tags=["predictions"])


def default_day(dates: list[dt.date], today: dt.date) -> dt.date | None:
    """Today's slate, else the next one to come, else the last one there is."""
    upcoming = [d for d in dates if d >= today]
    if upcoming:
        return upcoming[0]
    return dates[-1] if dates else None


@router.get(
    "/slate",
    response_model=SlateResponse,
    responses={404: {"model": ErrorBody, "description": "No posted props on that date"}},
    summary="A day's posted props with our P(over), the books' de-vigged P and the edge",
)
async def get_slate(
    rt: Gateway,
    date: Annotated[
        dt.date | None,
        Query(description="Default: today's slate, else the next one, else the last one"),
    ] = None,
    stat: Stat | None = None,
    team: Annotated[
        str | None,
        Query(pattern=r"^[A-Z]{2,3}$", description="The player's team", examples=["LAL"]),
    ] = None,
    min_edge: Annotated[
        float,
        Query(ge=0, le=1, allow_inf_nan=False, description="Minimum |edge|, e.g. 0.03"),
    ] = 0.0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> SlateResponse | JSONResponse:
    today = dt.datetime.now(dt.UTC).date()
    dates = await rt.read_model.slate_dates()
    day = date if date is not None else default_day(dates, today)
    if day is None or day not in dates:
        nearby = [d for d in dates if day is None or abs((d - day).days) <= 7]
        detail = "no posted props yet" if day is None else f"no posted props on {day}"
        if nearby:
            detail += "; dates with props: " + ", ".join(d.isoformat() for d in nearby[:15])
        return JSONResponse(ErrorBody(detail=detail).model_dump(), status_code=404)
    found = await rt.read_model.slate(
        day,
        stat=None if stat is None else stat.value,
        team=team,
        min_edge=min_edge,
        limit=limit,
    )
    after = rt.settings.stale_after_days
    props = []
    for raw in found:
        prop = SlateProp.model_validate_json(raw)
        if prop.data_as_of is not None:
            prop.stale = (day - prop.data_as_of).days > after
        props.append(prop)
    return SlateResponse(
        date=day,
        count=len(props),
        props=props,
        dates=[d for d in dates if d != day and abs((d - day).days) <= 7],
    )
