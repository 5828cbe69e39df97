"""The artifact store behind one small interface: a local directory now, object storage later.

The registry row and the ModelPublished event carry the URI and a sha256 checksum; a reader
refuses bytes whose checksum does not match.
"""

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit


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
