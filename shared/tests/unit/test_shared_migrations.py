import hashlib
from pathlib import Path

import pytest

from statmuse_shared.platform.migrations import MigrationError, load_directory


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (folder / name).write_text(sql, encoding="utf-8")
    return folder


def test_loads_in_version_order_and_skips_other_files(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "migrations",
        {
            "0010_add_index.sql": "CREATE INDEX i ON t (a);",
            "0001_init.sql": "CREATE TABLE t (a int);",
            "0002_add_column.sql": "ALTER TABLE t ADD b int;",
            "README.md": "not a migration",
            "__init__.py": "",
        },
    )
    found = load_directory("features", folder)
    assert [(m.version, m.name) for m in found] == [
        (1, "init"),
        (2, "add_column"),
        (10, "add_index"),
    ]
    assert {m.schema for m in found} == {"features"}
    assert found[0].sql == "CREATE TABLE t (a int);"
    assert found[0].checksum == hashlib.sha256(b"CREATE TABLE t (a int);").hexdigest()


def test_empty_directory_gives_no_migrations(tmp_path: Path) -> None:
    assert load_directory("ingest", write(tmp_path / "m", {})) == []


@pytest.mark.parametrize(
    "bad",
    ["1_init.sql", "0001-init.sql", "0001_Init.sql", "00001_init.sql", "0001_.sql", "init.sql"],
)
def test_badly_named_files_are_refused(tmp_path: Path, bad: str) -> None:
    folder = write(tmp_path / "m", {"0001_ok.sql": "SELECT 1;", bad: "SELECT 2;"})
    with pytest.raises(MigrationError, match="NNNN_description.sql"):
        load_directory("features", folder)


def test_duplicate_versions_are_refused(tmp_path: Path) -> None:
    folder = write(tmp_path / "m", {"0001_init.sql": "SELECT 1;", "0001_other.sql": "SELECT 2;"})
    with pytest.raises(MigrationError, match="duplicate migration versions"):
        load_directory("features", folder)


@pytest.mark.parametrize("schema", ["Features", "1abc", "bad-name", "a;drop", ""])
def test_invalid_schema_names_are_refused(tmp_path: Path, schema: str) -> None:
    with pytest.raises(MigrationError, match="invalid schema name"):
        load_directory(schema, write(tmp_path / "m", {"0001_init.sql": "SELECT 1;"}))


def test_checksum_changes_with_the_sql(tmp_path: Path) -> None:
    [a] = load_directory("s", write(tmp_path / "a", {"0001_init.sql": "SELECT 1;"}))
    [b] = load_directory("s", write(tmp_path / "b", {"0001_init.sql": "SELECT 2;"}))
    assert a.checksum != b.checksum
