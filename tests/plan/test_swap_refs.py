"""The plan parser's shortcut: a call with no ref and no keyword-named argument as is."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from toolweave.plan._values import _swap_each, _swap_refs

CHARACTERS = "abcdefor_ =$\"'\\(),.[]{}0123456789é\ue000\ue001"
WORDS = ("from", "class", "if", "None", "$1", "${2}", "$x", '"""', "'''", " = ", "==")
PIECES = st.sampled_from([*CHARACTERS, *WORDS])


@given(st.lists(PIECES, max_size=30).map("".join))
def test_the_shortcut_gives_what_the_scan_gives(call: str) -> None:
    def swapped(fn: object) -> object:
        try:
            return fn(call)  # type: ignore[operator]
        except Exception as exc:  # a stray "$": both must reject it alike
            return type(exc), str(exc)

    assert swapped(_swap_refs) == swapped(_swap_each)


def test_a_plain_call_is_not_copied() -> None:
    call = 'search(query="movie 57", limit=3)'
    assert _swap_refs(call) is call
    assert _swap_refs('f(x=$1, from="a")') == 'f(x=__tw_ref_1__, __tw_kw_from__="a")'
