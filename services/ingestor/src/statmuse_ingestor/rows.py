"""A row as a source gave it, before validation."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RawRow:
    location: str  # file:line or endpoint:params:row, for the reject report and audit trail
    record: dict[str, str]  # the source's own column names, values as text
