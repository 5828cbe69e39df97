"""docs/FEATURES.md lists every feature the code computes, and nothing it does not."""

import re
from pathlib import Path

from statmuse_shared.features import feature_names

DOC = Path(__file__).resolve().parents[2] / "docs" / "FEATURES.md"


def test_the_name_list_matches_the_code_exactly():
    text = DOC.read_text()
    listed = text.split("## All ", 1)[1]
    names = re.findall(r"`([a-z0-9_]+)`", listed)
    assert sorted(names) == feature_names()
    assert len(names) == len(set(names))


def test_every_feature_template_is_defined_in_the_tables():
    text = DOC.read_text().split("## All ", 1)[0]
    for name in feature_names():
        template = re.sub(r"^(points|rebounds|assists|threes|pra|minutes)_", "{stat}_", name)
        windowed = re.sub(r"_(3|5|10)$", "_{w}", template)
        wma = re.sub(r"_(3|5)$", "_{3,5}", template)
        assert any(f"`{form}`" in text for form in (name, template, windowed, wma)), (
            f"{name} is not defined in the tables"
        )
