"""Prompt-lookup speculative decoding for the local model, without `logits_all`.

Plans copy most of their text from the prompt: tool and argument names from the tool
list, entities from the question, whole lines from the examples. A draft copied from
where the last few tokens last occurred is verified in one batch: the model's own
token at each drafted position is sampled as usual, and the draft is kept up to the
first token that differs, so the output is the same as without drafts.

llama-cpp-python's own path (`LlamaPromptLookupDecoding`) needs ``logits_all=True``,
which computes the vocabulary's logits for every prompt token too (a 152k-wide
product per token for Qwen) and made plans 3.7x slower here. Here only a decode
batch (the last token and its draft) asks for logits at every position.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PromptLookupDraft", "install_drafts"]


class PromptLookupDraft:
    """Drafts the tokens that followed the latest earlier occurrence of the last n-gram.

    The draft's length adapts: after a draft that was kept whole the next may be two
    tokens longer (up to `max_tokens`); after one cut short, it is one token longer
    than what was kept. Each drafted position costs about a quarter of a decode step
    on a 2-core CPU, so long drafts that fail cost more than they save.

    Args:
        max_tokens: Longest draft.
        max_ngram: Longest n-gram matched (then shorter ones, down to `min_ngram`).
        min_ngram: Shortest n-gram matched.
    """

    def __init__(self, max_tokens: int = 6, *, max_ngram: int = 3, min_ngram: int = 2) -> None:
        self.max_tokens = max_tokens
        self.max_ngram = max_ngram
        self.min_ngram = min_ngram
        self._length = max_tokens
        self._last: tuple[int, int] = (0, 0)  # the history's length and the draft's

    def __call__(self, input_ids: Any, /, **_: Any) -> Any:
        import numpy as np

        n = int(input_ids.shape[0])
        before, drafted = self._last
        if drafted and before < n <= before + drafted + 1:  # the tokens since the last draft
            kept = n - before - 1
            self._length = kept + 2 if kept == drafted else kept + 1
        self._length = max(1, min(self._length, self.max_tokens))
        self._last = (n, 0)
        for size in range(min(self.max_ngram, n - 1), self.min_ngram - 1, -1):
            windows = np.lib.stride_tricks.sliding_window_view(input_ids[:-1], size)
            hits = np.flatnonzero((windows == input_ids[-size:]).all(axis=1))
            if hits.size:
                start = int(hits[-1]) + size  # the latest occurrence: the nearest context
                draft = input_ids[start : start + self._length].copy()
                self._last = (n, len(draft))
                return draft
        return np.empty(0, dtype=np.intc)


def install_drafts(llm: Any, draft: PromptLookupDraft, count: Any) -> None:
    """Give `llm` (a `llama_cpp.Llama`) an eval that can verify `draft`'s drafts.

    Drafting is on while ``llm.draft_model`` is `draft` (`None` turns it off).
    `count` is called with each eval's tokens already in the context and its new
    tokens (a completion's first eval: the prefix reused, the prompt's rest). With
    drafting on, a batch no longer than a draft plus one token asks for logits at
    every position; prompt batches ask only for the last.
    """

    def eval_tokens(tokens: Any) -> None:
        count(llm.n_tokens, len(tokens))
        ctx, batch = llm._ctx, llm._batch
        ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)
        every = llm.draft_model is not None and len(tokens) <= draft.max_tokens + 1
        for i in range(0, len(tokens), llm.n_batch):
            chunk = tokens[i : i + llm.n_batch]
            n_past = llm.n_tokens
            batch.set_batch(batch=chunk, n_past=n_past, logits_all=every)
            ctx.decode(batch)
            llm.input_ids[n_past : n_past + len(chunk)] = chunk
            llm.n_tokens += len(chunk)
            llm._requires_eval = False

    llm.eval = eval_tokens
