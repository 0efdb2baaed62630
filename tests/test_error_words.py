"""Form and API mistakes are worded from their code and parameters, in English and German."""

from __future__ import annotations

import re
from pathlib import Path

from web import error_words

ROOT = Path(__file__).resolve().parents[1]


def test_every_code_has_english_and_german() -> None:
    assert set(error_words.EN) == set(error_words.DE)
    for code, text in error_words.EN.items():
        fields = set(re.findall(r"\{(\w+)\}", text))
        assert fields == set(re.findall(r"\{(\w+)\}", error_words.DE[code])), code


def test_every_code_the_manager_raises_is_worded() -> None:
    """Codes given to `problem(...)`, `InvalidInput.one(...)` and `Problem(...)` in the code."""
    source = "\n".join(
        p.read_text() for d in ("manager", "devices", "web") for p in (ROOT / d).rglob("*.py")
    )
    arg = r'(?:f?"[^"\n]*"|[\w.\[\]"\']+(?:\([^()\n]*\))?)'
    raised = set(re.findall(rf'(?<![\w.])problem\(\s*{arg},\s*"(\w+)"', source))
    raised |= set(re.findall(r'(?<![\w.])Problem\(\s*"(\w+)"', source))
    raised |= set(re.findall(rf"InvalidInput\.one\(\s*{arg},\s*{arg},\s*\"(\w+)\"", source))
    assert {"min_above_max_current", "charge_box_id_required", "tag_taken", "immutable"} <= raised
    missing = sorted(raised - set(error_words.EN) - {"invalid"})
    assert not missing


def test_numbers_and_unknown_codes() -> None:
    error = {"code": "min_above_max_current", "params": {"max": 6.5}, "message": "x"}
    assert error_words.message(error, "de").endswith("(6,5 A) liegen.")
    assert error_words.message(error, "en") == "Minimum current must not be above maximum (6.5 A)."
    short = {"code": "string_too_short", "params": {"min_length": 1}, "message": "x"}
    assert error_words.message(short, "de") == "Bitte ausfüllen."
    old = {"code": "something_new", "params": {}, "message": "as the facade said"}
    assert error_words.message(old, "de") == "as the facade said"
    listed = {"code": "literal_error", "params": {"expected": "'off', 'on'"}, "message": ""}
    assert error_words.message(listed, "en") == "Please choose one of: off, on."
