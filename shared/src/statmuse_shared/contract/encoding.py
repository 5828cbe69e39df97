"""How a message becomes a record's value, and the content-type header that names it: JSON on
every topic but the feature vectors' (`vectors.PACKED`)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

M_contra = TypeVar("M_contra", bound=BaseModel, contravariant=True)


@dataclass(frozen=True, slots=True)
class Encoding(Generic[M_contra]):
    """A record format: the bytes of a message, and what the record's content-type says they
    are. One value, so a record never goes out with the wrong header for its bytes."""

    content_type: str
    encode: Callable[[M_contra], bytes]


def _json(message: BaseModel) -> bytes:
    return message.model_dump_json().encode()


JSON: Encoding[BaseModel] = Encoding("application/json", _json)
