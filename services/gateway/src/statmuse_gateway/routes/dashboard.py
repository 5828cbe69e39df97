"""The dashboard (owned by the dashboard work)."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
