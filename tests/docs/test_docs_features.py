"""docs/FEATURES.md lists every feature the code computes, and nothing it does not: it is
generated from the feature catalogue, and the committed file must be the generated one."""

import re
import subprocess
import sys
from pathlib import Path

from statmuse_shared.features import feature_names
from statmuse_shared.features.catalogue import FAMILIES, FEATURE_SET_VERSION, document
from statmuse_shared.features.player import COMPACT_STATS
from statmuse_shared.features.player import STATS as FULL_STATS

STATS = (*FULL_STATS, *COMPACT_STATS)

DOC = Path(__file__).resolve().parents[2] / "docs" / "FEATURES.md"


def test_the_committed_document_is_the_generated_one():
    assert DOC == document.DOC
    assert DOC.read_text(encoding="utf-8") == document.render(), (
        "docs/FEATURES.md is stale: run `make features-doc` "
        "(python -m statmuse_shared.features.catalogue) and commit the result"
    )


def test_the_command_finds_the_committed_document_current():
    """What `make features-doc` runs, with --check; -W error: the command runs without
    executing the catalogue twice (runpy warns when it would)."""
    done = subprocess.run(
        [sys.executable, "-W", "error", "-m", "statmuse_shared.features.catalogue", "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_the_name_list_matches_the_code_exactly():
    text = DOC.read_text()
    listed = text.split("## All ", 1)[1]
    names = re.findall(r"`([a-z0-9_]+)`", listed)
    assert sorted(names) == feature_names()
    assert len(names) == len(set(names))


def test_every_feature_template_is_defined_in_the_tables():
    text = DOC.read_text().split("## All ", 1)[0]
    for name in feature_names():
        template = re.sub(rf"^({'|'.join(STATS)})_", "{stat}_", name)
        windowed = re.sub(r"_(3|5|10)$", "_{w}", template)
        wma = re.sub(r"_(3|5)$", "_{3,5}", template)
        assert any(f"`{form}`" in text for form in (name, template, windowed, wma)), (
            f"{name} is not defined in the tables"
        )


def test_every_family_has_one_table_row_and_the_version_is_the_codes():
    text = DOC.read_text()
    rows = re.findall(r"^\| `([^`]+)` \|", text, flags=re.MULTILINE)
    assert sorted(rows) == sorted(f.template for f in FAMILIES)
    assert f"(feature set `{FEATURE_SET_VERSION}`)" in text.splitlines()[0]
