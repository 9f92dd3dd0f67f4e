"""Decode speed of the embedded model on real plans: plain, grammar-constrained, and
speculative (prompt-lookup drafts), side by side in one run.

Each mode writes the plan of each demo question (the planner's own prompt, greedy);
the figure is decode tokens per second, from the first token to the last (the
prompt's evaluation is left out: the prefix cache makes it vary). Also printed: how
many plan lines the parser rejected in each mode.

- ``plain``: `LocalModel` as the agent uses it, no grammar.
- ``grammar``: the same with the plan grammar of the offered tools (the default),
  checked against the top token only (`LocalModel(lazy_grammar=True)`, the default).
- ``free``: the grammar without its numbering (any ids, any refs), as before the
  planner numbered its grammar; compare with ``grammar`` for the numbering's cost.
- ``fullmask``: the same grammar applied to the whole vocabulary at every step
  (llama-cpp-python's sampler, `lazy_grammar=False`); its plans must equal ``grammar``'s.
- ``draft``: ``grammar`` with prompt-lookup drafts verified in one batch
  (`LocalModel(draft_tokens=6)`, the default; the other modes run with 0); its plans
  must equal ``grammar``'s.
- ``lookup``: llama-cpp-python's `LlamaPromptLookupDecoding` (drafts copied from the
  prompt), which needs ``logits_all=True`` (a second copy of the model).

Usage: python benchmarks/local_decode.py [--modes plain,grammar,free,fullmask,draft,lookup]
       [--questions 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from dataclasses import replace
from typing import Any

from toolweave import demo
from toolweave.models import LocalModel, ModelSettings
from toolweave.models._weights import default_model_path
from toolweave.plan import PlanError, parse_plan, plan_grammar
from toolweave.planner import Planner


async def local_plan(
    model: LocalModel, messages: Any, settings: ModelSettings
) -> tuple[str, int, float]:
    first = last = 0.0
    count = 0
    async with model.stream(messages, settings) as response:
        async for _ in response:
            last = time.perf_counter()
            first = first or last
            count += 1
    return response.text, count, last - first


def lookup_plan(llm: Any, messages: Any, settings: ModelSettings) -> tuple[str, int, float]:
    first = last = 0.0
    count = 0
    text = ""
    for chunk in llm.create_chat_completion(
        list(messages),
        stream=True,
        stop=list(settings.stop),
        max_tokens=settings.max_tokens,
        temperature=0.0,
    ):
        delta = chunk["choices"][0]["delta"].get("content")
        if delta:
            last = time.perf_counter()
            first = first or last
            count += 1
            text += delta
    return text, count, last - first


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="plain,grammar,fullmask,draft")
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--draft", type=int, default=6, help="prompt-lookup draft length")
    args = parser.parse_args()
    tools = list(demo.TOOLS)
    planner = Planner(LocalModel(), examples=demo.EXAMPLES)
    base = ModelSettings(stop=planner.settings.stop, max_tokens=300, temperature=0.0)
    questions = demo.QUESTIONS[: args.questions]
    model = LocalModel()
    await model.load()
    rows = []
    plans: dict[str, list[str]] = {}
    for mode in args.modes.split(","):
        rates, rejected, tokens = [], 0, 0
        llm = None
        if mode == "lookup":
            import llama_cpp
            from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

            llm = llama_cpp.Llama(
                model_path=str(default_model_path()),
                n_ctx=2048,  # logits_all keeps n_ctx x vocabulary floats
                n_threads=os.cpu_count(),
                logits_all=True,
                verbose=False,
                draft_model=LlamaPromptLookupDecoding(num_pred_tokens=args.draft),
            )
        for question in questions:
            messages = planner.messages(question, tools)
            if mode == "lookup":
                lookup_plan(llm, messages, base)  # prompt evaluated once, as for the others
                text, count, seconds = lookup_plan(llm, messages, base)
            else:
                settings = base
                model.lazy_grammar = mode != "fullmask"
                model.draft_tokens = args.draft if mode == "draft" else 0
                if mode in ("grammar", "fullmask", "draft"):  # the planner's: numbered
                    settings = replace(base, grammar=plan_grammar(tools, first_id=1).gbnf())
                elif mode == "free":
                    settings = replace(base, grammar=plan_grammar(tools).gbnf())
                await local_plan(model, messages, settings)
                text, count, seconds = await local_plan(model, messages, settings)
            plans.setdefault(mode, []).append(text)
            rates.append((count - 1) / seconds if seconds > 0 else 0.0)
            tokens += count
            rejected += sum(isinstance(i, PlanError) for i in parse_plan(text, tools))
        if llm is not None:
            llm.close()
        rows.append((mode, statistics.median(rates), tokens, rejected))
        print(f"  {mode}: {[round(r, 1) for r in rates]} tokens/s", flush=True)
    model.close()
    base_rate = rows[0][1]
    print(f"decode tokens/s on {len(questions)} demo plans (median over plans)")
    for mode, rate, tokens, rejected in rows:
        print(
            f"{mode:>8}: {rate:6.1f} tokens/s  ({rate / base_rate:.2f}x {rows[0][0]})  "
            f"{tokens} tokens, {rejected} rejected line(s)"
        )
    for other in ("free", "fullmask", "draft"):
        if "grammar" in plans and other in plans:
            same = plans["grammar"] == plans[other]
            print(f"grammar and {other} wrote the same plans: {same}")


if __name__ == "__main__":
    asyncio.run(main())
