import uuid

import pytest

from statmuse_shared.contract.ids import NAMESPACE, event_id


def test_event_id_is_deterministic_uuid5() -> None:
    first = event_id("files", "2023-10-24:LAL@DEN", 2544)
    assert first == event_id("files", "2023-10-24:LAL@DEN", 2544)
    assert first == str(uuid.uuid5(NAMESPACE, '["files", "2023-10-24:LAL@DEN", "2544"]'))
    assert uuid.UUID(first).version == 5


@pytest.mark.parametrize(
    "other",
    [
        ("files", "2023-10-24:LAL@DEN", 203999),
        ("nba_api", "2023-10-24:LAL@DEN", 2544),
        ("files", "2023-10-26:PHX@LAL", 2544),
        ("2023-10-24:LAL@DEN", "files", 2544),
        ("files", "2023-10-24:LAL@DEN"),
    ],
)
def test_different_parts_give_different_ids(other: tuple[object, ...]) -> None:
    assert event_id(*other) != event_id("files", "2023-10-24:LAL@DEN", 2544)


def test_event_id_needs_parts() -> None:
    with pytest.raises(ValueError, match="at least one part"):
        event_id()


def test_parts_containing_the_separator_do_not_collide() -> None:
    assert event_id("files", "a|b") != event_id("files", "a", "b")
