"""`printable`: text Strongroom did not write is shown with every invisible character made
visible, so it cannot forge lines, reorder text or drive a terminal."""

import pytest

from strongroom.core.display import printable


@pytest.mark.parametrize("hostile, shown", [
    ("a\nb", "a\\nb"),
    ("conceal\x1b[8m", "conceal\\x1b[8m"),
    ("del\x7f", "del\\x7f"),
    ("c1\x9b31m", "c1\\x9b31m"),
    ("txt.\u202eexe", "txt.\\u202eexe"),
    ("zero\u200bwidth", "zero\\u200bwidth"),
    ("line\u2028sep", "line\\u2028sep"),
    ("bad\udcffbyte", "bad\\xffbyte"),
])
def test_invisible_characters_are_escaped(hostile, shown):
    assert printable(hostile) == shown


def test_ordinary_text_is_unchanged():
    for text in ("SmolLM2-135M-Instruct", "Modèle für Ärzte", "模型", "a b\tc".replace("\t", " ")):
        assert printable(text) == text


def test_newlines_can_be_kept_for_multi_line_views():
    assert printable("one\ntwo\x1b", keep_newlines=True) == "one\ntwo\\x1b"


def test_long_text_is_cut_and_marked():
    shown = printable("x" * 5000, limit=100)
    assert shown == "x" * 100 + "…"
