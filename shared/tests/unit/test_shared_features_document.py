"""docs/FEATURES.md generated from the feature catalogue (statmuse_shared.features.catalogue
.document): the command that writes or checks it, and what the document holds. That the
committed file is the generated one is tests/docs/test_docs_features.py."""

from pathlib import Path

import pytest

from statmuse_shared.features import feature_names
from statmuse_shared.features.catalogue import (
    FAMILIES,
    FINGERPRINT,
    STALE_FINGERPRINT,
    VERSION,
    document,
)


def test_the_command_writes_the_document_then_finds_it_current(tmp_path: Path) -> None:
    doc = tmp_path / "FEATURES.md"
    with pytest.raises(SystemExit) as missing:
        document.main(["--check"], path=doc)
    assert missing.value.code == 1
    document.main([], path=doc)
    assert doc.read_text(encoding="utf-8") == document.render()
    document.main(["--check"], path=doc)  # current: returns
    count = str(len(feature_names()))
    assert count in doc.read_text(encoding="utf-8")
    stale_text = doc.read_text(encoding="utf-8").replace(count, str(int(count) - 1), 1)
    doc.write_text(stale_text, encoding="utf-8")
    with pytest.raises(SystemExit) as stale:
        document.main(["--check"], path=doc)
    assert stale.value.code == 1


def test_the_command_refuses_a_stale_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(document, "FINGERPRINT", "000000000000")
    for argv in ([], ["--check"]):
        with pytest.raises(SystemExit) as refused:
            document.main(argv, path=tmp_path / "FEATURES.md")
        assert refused.value.code == 1
        assert STALE_FINGERPRINT in capsys.readouterr().err
    assert not (tmp_path / "FEATURES.md").exists()


def test_the_document_has_every_name_table_row_and_the_version() -> None:
    text = document.render()
    assert f"# Features (feature set `{VERSION}`)" in text
    assert f"`{FINGERPRINT}`" in text
    for family in FAMILIES:
        assert f"| `{family.template}` |" in text
    listed = text.split("## All ", 1)[1]
    for name in feature_names():
        assert f"`{name}`" in listed
    assert "{{" not in text
