"""Where model artifacts live and how they are read back.

The store sits behind one small interface: a local directory now, object storage later. The
registry row and the ModelPublished event carry the URI and a sha256 checksum; a reader
refuses bytes whose checksum does not match. An artifact is JSON (the naive baseline) or an
`.npz` bundle (the fitted count models); `load_model` turns either into a served `Model`.
"""

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from statmuse_shared.models.baseline import RollingMeanArtifact, RollingMeanModel
from statmuse_shared.models.count import CountModel
from statmuse_shared.models.output import Model, ModelInputError


class ArtifactError(RuntimeError):
    pass


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ArtifactStore(Protocol):
    def put(self, key: str, data: bytes) -> tuple[str, str]:
        """Store bytes under a key; returns (uri, sha256)."""
        ...

    def get(self, uri: str, *, checksum: str) -> bytes: ...


class LocalArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def put(self, key: str, data: bytes) -> tuple[str, str]:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise ArtifactError(f"artifact key escapes the store: {key!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees half an artifact.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
        return path.as_uri(), sha256(data)

    def get(self, uri: str, *, checksum: str) -> bytes:
        parts = urlsplit(uri)
        if parts.scheme != "file":
            raise ArtifactError(f"LocalArtifactStore cannot read {uri!r}")
        data = Path(unquote(parts.path)).read_bytes()
        if sha256(data) != checksum:
            raise ArtifactError(f"checksum mismatch for {uri}")
        return data


def open_store(url: str) -> ArtifactStore:
    """file:///abs/path or file://./relative/path."""
    parts = urlsplit(url)
    if parts.scheme != "file":
        raise ArtifactError(f"unsupported artifact store {url!r} (only file:// so far)")
    return LocalArtifactStore(Path(unquote(parts.netloc + parts.path)))


def load_model(data: bytes) -> Model:
    """The served model in an artifact's bytes: an npz bundle, or a baseline's JSON."""
    if data[:2] == b"PK":  # a zip: the npz bundle
        return CountModel.from_bytes(data)
    try:
        raw: Any = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelInputError(f"artifact is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ModelInputError(f"artifact must be a JSON object, got {type(raw).__name__}")
    kind = raw.get("model_type")
    if kind == "rolling_mean":
        return RollingMeanModel(RollingMeanArtifact.model_validate(raw))
    raise ModelInputError(f"unknown model_type {kind!r}")
