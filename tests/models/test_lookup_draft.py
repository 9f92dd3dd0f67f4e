"""The prompt-lookup drafter of the local model (pure numpy: no model needed)."""

from __future__ import annotations

import pytest

np = pytest.importorskip("numpy")

from toolweave.models._lookup import PromptLookupDraft  # noqa: E402


def ids(*tokens: int) -> object:
    return np.array(tokens, dtype=np.intc)


def test_the_draft_follows_the_latest_occurrence_of_the_longest_ngram() -> None:
    draft = PromptLookupDraft(3)
    # "1 2" occurs twice before the end: the later one (followed by 7 8 9) wins
    assert draft(ids(1, 2, 5, 6, 1, 2, 7, 8, 9, 0, 1, 2)).tolist() == [7, 8, 9]
    # the trigram "4 1 2" beats the later bigram "1 2"
    assert PromptLookupDraft(2)(ids(4, 1, 2, 3, 3, 1, 2, 5, 4, 1, 2)).tolist() == [3, 3]


def test_no_match_no_draft() -> None:
    assert PromptLookupDraft(4)(ids(1, 2, 3, 4, 5)).size == 0


def test_the_length_follows_what_was_kept() -> None:
    draft = PromptLookupDraft(6)
    history = [3, 9, 20, 21, 22, 23, 24, 25, 1, 2, 3, 4, 5, 6, 7, 8, 30, 1, 2]
    assert draft(ids(*history)).tolist() == [3, 4, 5, 6, 7, 8]
    history += [3, 9]  # the model kept one drafted token, then wrote its own
    assert draft(ids(*history)).tolist() == [20, 21]  # one longer than what was kept
    history += [20, 21, 22]  # both kept, then the model's next token
    assert draft(ids(*history)).tolist() == [23, 24, 25, 1]  # two longer
