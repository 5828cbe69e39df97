import pytest

from statmuse_gateway.service import Outputs, suggest
from statmuse_shared.contract.names import normalize_name

# Real 2023-24 names (player_game_logs/2023-24.csv.gz).
NAMES = [
    "LeBron James",
    "James Harden",
    "James Wiseman",
    "Nikola Jokić",
    "Bogdan Bogdanović",
    "Jaren Jackson Jr.",
    "Gary Payton II",
    "Greg Brown III",
    "De'Aaron Fox",
    "Kentavious Caldwell-Pope",
    "Reggie Jackson",
]


@pytest.mark.parametrize(
    ("name", "normal"),
    [
        ("Nikola Jokić", "nikola jokic"),
        ("Bogdan Bogdanović", "bogdan bogdanovic"),
        ("Luka Dončić", "luka doncic"),
        ("Jaren Jackson Jr.", "jaren jackson"),
        ("Jaren Jackson Jr", "jaren jackson"),
        ("Greg Brown III", "greg brown"),
        ("Gary Payton II", "gary payton"),
        ("Dereck Lively II", "dereck lively"),
        ("De'Aaron Fox", "deaaron fox"),
        ("D'Angelo Russell", "dangelo russell"),
        ("P.J. Washington", "pj washington"),
        ("Kentavious Caldwell-Pope", "kentavious caldwell pope"),
        ("  LeBron   JAMES ", "lebron james"),
    ],
)
def test_normalize_name(name: str, normal: str) -> None:
    assert normalize_name(name) == normal


def test_book_spellings_match_the_box_score_spelling() -> None:
    assert normalize_name("Nikola Jokic") == normalize_name("Nikola Jokić")
    assert normalize_name("Jaren Jackson") == normalize_name("Jaren Jackson Jr.")
    assert normalize_name("PJ Washington") == normalize_name("P.J. Washington")
    assert normalize_name("Deaaron Fox") == normalize_name("De'Aaron Fox")


def test_suffix_only_removed_as_a_whole_word() -> None:
    assert normalize_name("Ivica Zubac") == "ivica zubac"  # no "iv" stripped from "ivica"
    assert normalize_name("Jrue Holiday") == "jrue holiday"


def test_suggest_finds_a_typo() -> None:
    assert suggest("Lebron Jmes", NAMES)[0] == "LeBron James"


def test_suggest_finds_a_surname() -> None:
    got = suggest("james", NAMES)
    assert "LeBron James" in got
    assert set(got) == {"LeBron James", "James Harden", "James Wiseman"}


def test_suggest_ignores_accents_and_suffixes_in_the_query() -> None:
    assert suggest("nikola jokic", NAMES)[0] == "Nikola Jokić"
    assert suggest("Jaren Jackson Jr.", NAMES)[0] == "Jaren Jackson Jr."


def test_suggest_limits_and_finds_nothing_for_nonsense() -> None:
    assert len(suggest("james", NAMES, n=2)) == 2
    assert suggest("zzzz qqqq", NAMES) == []
    assert suggest("", NAMES) == []


def test_nicknames_find_the_player():
    assert suggest("Herb Jones", ["Herbert Jones", "Tyus Jones"])[0] == "Herbert Jones"
    assert normalize_name("Moe Wagner") == normalize_name("Moritz Wagner")


def test_model_outputs_are_bounded_and_the_least_recently_used_leaves_first():
    outputs = Outputs(capacity=2)
    a, b, c = object(), object(), object()
    outputs.put(("v1", "a"), a)  # type: ignore[arg-type]
    outputs.put(("v1", "b"), b)  # type: ignore[arg-type]
    assert outputs.get(("v1", "a")) is a  # a used last: b is the oldest now
    outputs.put(("v1", "c"), c)  # type: ignore[arg-type]
    assert outputs.get(("v1", "b")) is None
    assert outputs.get(("v1", "a")) is a
    assert outputs.get(("v1", "c")) is c
    assert outputs.get(("v2", "a")) is None  # another model version is another entry
