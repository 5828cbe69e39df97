from pathlib import Path

import pytest

from statmuse_shared.models.artifacts import ArtifactError, LocalArtifactStore, open_store, sha256

DATA = b'{"model_type": "rolling_mean"}'


def test_put_then_get_round_trips(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    uri, checksum = store.put("points/v1.json", DATA)
    assert uri == (tmp_path.resolve() / "points" / "v1.json").as_uri()
    assert checksum == sha256(DATA)
    assert (tmp_path / "points" / "v1.json").read_bytes() == DATA
    assert store.get(uri, checksum=checksum) == DATA
    assert [p.name for p in (tmp_path / "points").iterdir()] == ["v1.json"]  # no temp files left


def test_put_overwrites(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    store.put("a.json", b"old")
    uri, checksum = store.put("a.json", b"new")
    assert store.get(uri, checksum=checksum) == b"new"


def test_checksum_mismatch_is_refused(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    uri, _ = store.put("points/v1.json", DATA)
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        store.get(uri, checksum=sha256(b"something else"))


def test_tampered_file_is_refused(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    uri, checksum = store.put("points/v1.json", DATA)
    (tmp_path / "points" / "v1.json").write_bytes(DATA + b" ")
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        store.get(uri, checksum=checksum)


@pytest.mark.parametrize(
    "key", ["../escape.json", "a/../../escape.json", "/etc/escape.json", "", "."]
)
def test_keys_escaping_the_root_are_refused(tmp_path: Path, key: str) -> None:
    root = tmp_path / "store"
    store = LocalArtifactStore(root)
    with pytest.raises(ArtifactError, match="escapes the store"):
        store.put(key, DATA)
    assert not (tmp_path / "escape.json").exists()


def test_only_file_uris_are_read(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="cannot read"):
        LocalArtifactStore(tmp_path).get("s3://bucket/a.json", checksum=sha256(DATA))


def test_round_trip_with_a_space_in_the_key(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    uri, checksum = store.put("points/model v1.json", DATA)
    assert store.get(uri, checksum=checksum) == DATA


def test_open_store(tmp_path: Path) -> None:
    store = open_store(tmp_path.as_uri())
    assert isinstance(store, LocalArtifactStore)
    assert store.root == tmp_path.resolve()
    relative = open_store("file://./var/artifacts")
    assert isinstance(relative, LocalArtifactStore)
    assert relative.root == Path("./var/artifacts").resolve()
    with pytest.raises(ArtifactError, match="unsupported artifact store"):
        open_store("s3://bucket/prefix")
