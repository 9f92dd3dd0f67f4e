"""Greedy decoding under a grammar that checks only the token it is about to take.

llama-cpp-python applies a grammar to the whole vocabulary at every step (Qwen's is
152k tokens), which costs about as much as the step's matrix work on a small model.
Under greedy decoding only one token is ever taken: if the grammar accepts the
model's top token, that token is the answer of the masked argmax too. So the sampler
here asks the grammar about that one token and masks the vocabulary only when it is
rejected (llama.cpp's own `common_sampler` does the same). The tokens are the same
as with the full mask; `benchmarks/local_decode.py` shows the speed of each.
"""

from __future__ import annotations

import ctypes
import math
from typing import Any

__all__ = ["GreedyGrammarSampler", "greedy_grammar_sampler"]


class GreedyGrammarSampler:
    """A stand-in for llama-cpp-python's sampler chain: greedy, under a grammar.

    It offers the one method `Llama.sample` calls, ``sample(ctx, idx)``, and keeps
    the grammar's state across a generation (a new one is made for each).
    """

    def __init__(self, llama_cpp: Any, vocab: Any, n_vocab: int, gbnf: str, root: str) -> None:
        import numpy as np

        self._np = np
        self._lib = llama_cpp
        self._n_vocab = n_vocab
        self._grammar = llama_cpp.llama_sampler_init_grammar(
            vocab, gbnf.encode("utf-8"), root.encode("utf-8")
        )
        if not self._grammar:
            raise ValueError("the grammar does not compile")
        self._one = (llama_cpp.llama_token_data * 1)()
        self._one_array = llama_cpp.llama_token_data_array(self._one, 1, -1, False)
        self._all = (llama_cpp.llama_token_data * n_vocab)()
        record = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)])
        self._all_view = np.frombuffer(self._all, dtype=record)
        self._ids = np.arange(n_vocab, dtype=np.intc)
        self.full_masks = 0
        """Steps where the top token was rejected and the whole vocabulary was masked."""

    def sample(self, ctx: Any, idx: int = -1) -> int:
        lib, np = self._lib, self._np
        pointer = lib.llama_get_logits_ith(ctx.ctx, idx)
        logits = np.ctypeslib.as_array(pointer, shape=(self._n_vocab,))
        token = int(logits.argmax())
        self._one[0].id, self._one[0].logit, self._one[0].p = token, float(logits[token]), 0.0
        self._one_array.data = ctypes.cast(self._one, lib.llama_token_data_p)
        self._one_array.size, self._one_array.selected = 1, -1
        lib.llama_sampler_apply(self._grammar, ctypes.byref(self._one_array))
        if math.isinf(self._one[0].logit):
            token = self._masked_argmax(logits)
        lib.llama_sampler_accept(self._grammar, token)
        return token

    def _masked_argmax(self, logits: Any) -> int:
        lib = self._lib
        self.full_masks += 1
        view = self._all_view
        view["id"], view["logit"], view["p"] = self._ids, logits, 0.0
        array = lib.llama_token_data_array(
            ctypes.cast(self._all, lib.llama_token_data_p), self._n_vocab, -1, False
        )
        lib.llama_sampler_apply(self._grammar, ctypes.byref(array))
        # the grammar may point `data` elsewhere and shrink `size`: read what it left
        size = int(array.size)
        left = self._np.ctypeslib.as_array(
            ctypes.cast(array.data, ctypes.POINTER(ctypes.c_byte)),
            shape=(size * ctypes.sizeof(lib.llama_token_data),),
        ).view(view.dtype)
        return int(left["id"][int(left["logit"].argmax())])

    def close(self) -> None:
        grammar, self._grammar = self._grammar, None
        if grammar:
            self._lib.llama_sampler_free(grammar)

    def __del__(self) -> None:
        self.close()


def greedy_grammar_sampler(llm: Any, grammar: Any) -> GreedyGrammarSampler:
    """The sampler for one greedy generation of `llm` under `grammar` (a `LlamaGrammar`)."""
    import llama_cpp

    vocab = llm._model.vocab
    return GreedyGrammarSampler(
        llama_cpp, vocab, llama_cpp.llama_vocab_n_tokens(vocab), grammar._grammar, grammar._root
    )
