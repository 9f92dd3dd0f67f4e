"""Checkable answers on the embedded model: sums and "which is largest" over country data.

A small probe, not the `countries` evaluation suite: questions built from templates
with the demo's real tools (population, area, calculator), each with its gold answer
computed from the same data. The joiner is run with and without the list of compared
values (`Prompts.compare`), side by side, so that the figure says what the list does.
Also printed per mode: replans, evaluated (not cached) prompt tokens, seconds.

A sum is right when the answer holds the gold number (to 0.5%, commas and ``.0``
ignored); a ranking, when the answer names the right country and no other one first.

Usage: python benchmarks/answers.py [--modes compare,plain] [--limit 8]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time

from toolweave import Agent, ToolweaveError, demo
from toolweave.demo import _country
from toolweave.models import LocalModel
from toolweave.planner import Prompts

PAIRS = [("Chile", "Peru"), ("Norway", "Sweden"), ("Kenya", "Egypt"), ("Spain", "Italy")]
TRIPLES = [
    ("Canada", "Brazil", "Australia"),
    ("Germany", "France", "Poland"),
    ("Mexico", "Argentina", "Colombia"),
    ("Japan", "Vietnam", "Thailand"),
]


def cases() -> list[tuple[str, str, object]]:
    """A sum, then a ranking, alternately (so that any `--limit` has both)."""
    out: list[tuple[str, str, object]] = []
    for index, ((a, b), triple) in enumerate(zip(PAIRS, TRIPLES, strict=True)):
        gold = _country(a)["area"] + _country(b)["area"]
        out.append((f"What is the combined area of {a} and {b}?", "sum", gold))
        field = "area" if index % 2 else "population"
        best = max(triple, key=lambda c: _country(c)[field])
        noun = "the largest area" if field == "area" else "the most people"
        out.append((f"Which of {', '.join(triple)} has {noun}?", "max", (best, triple)))
    return out


def numbers(text: str) -> list[float]:
    return [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", text)]


def right(kind: str, gold: object, answer: str) -> bool:
    if kind == "sum":
        assert isinstance(gold, int | float)
        return any(abs(n - gold) <= 0.005 * gold for n in numbers(answer))
    name, triple = gold  # type: ignore[misc]
    positions = {c: answer.find(c) for c in triple if c in answer}
    return name in positions and min(positions, key=positions.__getitem__) == name


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="compare,plain")
    parser.add_argument("--limit", type=int, default=8)
    args = parser.parse_args()
    demo.LATENCY = 0.0  # the model's time is the subject here
    model = LocalModel()
    await model.load()
    chosen = cases()[: args.limit]
    for mode in args.modes.split(","):
        prompts = Prompts(examples=demo.EXAMPLES, compare=mode == "compare")
        ok = replans = evaluated = 0
        seconds = 0.0
        for question, kind, gold in chosen:
            agent = Agent(model, demo.TOOLS, prompts=prompts, max_replans=1)
            start = time.perf_counter()
            try:
                result = await agent.run(question)
            except ToolweaveError as exc:
                if exc.result is None:
                    raise
                result = exc.result
            seconds += time.perf_counter() - start
            good = right(kind, gold, result.answer or "")
            ok += good
            replans += result.replans
            evaluated += result.usage.evaluated_prompt_tokens
            print(
                f"  [{mode}] {'ok ' if good else 'BAD'} {question} -> {result.answer!r}",
                flush=True,
            )
        n = len(chosen)
        print(
            f"{mode:>8}: {ok}/{n} right, {replans} replans, "
            f"{evaluated / n:.0f} evaluated prompt tokens/run, {seconds / n:.1f} s/run",
            flush=True,
        )
    model.close()


if __name__ == "__main__":
    asyncio.run(main())
