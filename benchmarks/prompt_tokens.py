"""Prompt tokens the embedded model evaluates per run, counted inside llama.cpp.

The count comes from llama-cpp-python itself (the tokens of each completion's prompt
that its `eval` had to process, after the prefix cache), not from toolweave's own
`Usage`, so the same script measures any version of the library: run it once as is
and once with an older checkout first on ``PYTHONPATH`` to compare, e.g.

    git archive 00373ab toolweave | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before python benchmarks/prompt_tokens.py
    python benchmarks/prompt_tokens.py

Each run is one demo question, after ``agent.warm_up()`` (the stable prefixes are
cached, as in a long-lived process).

Usage: python benchmarks/prompt_tokens.py [--questions 4]
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import toolweave
from toolweave import Agent, ToolweaveError, demo
from toolweave.models import LocalModel

QUESTIONS = [
    *demo.QUESTIONS,
    "Which of Japan, Vietnam and Thailand has the largest area?",
    "What are the capitals of Kenya and Peru?",
]


def count_prompt_evals(llm: Any, calls: list[list[int]]) -> None:
    """Record, for each completion, how many tokens each of its evals processed."""
    complete, evaluate = llm.create_chat_completion, llm.eval

    def create_chat_completion(*args: Any, **kwargs: Any) -> Any:
        calls.append([])
        return complete(*args, **kwargs)

    def eval_(tokens: Any) -> Any:
        if calls:
            calls[-1].append(len(tokens))
        return evaluate(tokens)

    llm.create_chat_completion, llm.eval = create_chat_completion, eval_


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=4)
    args = parser.parse_args()
    demo.LATENCY = 0.0
    model = LocalModel()
    await model.load()
    calls: list[list[int]] = []
    count_prompt_evals(model._llm, calls)
    agent = Agent(model, demo.TOOLS, examples=demo.EXAMPLES, max_replans=1)
    await agent.warm_up()
    rows = []
    for question in QUESTIONS[: args.questions]:
        calls.clear()
        try:
            result = await agent.run(question)
        except ToolweaveError as exc:
            if exc.result is None:
                raise
            result = exc.result
        evaluated = sum(c[0] for c in calls if c)  # each completion's prompt eval
        rows.append((question, len(calls), result.usage.prompt_tokens, evaluated))
    print(f"toolweave from {toolweave.__file__}")
    for question, n, prompt, evaluated in rows:
        print(f"  {n} calls, prompt {prompt:5d}, evaluated {evaluated:5d}  {question}")
    n = len(rows)
    print(
        f"per run: {sum(r[2] for r in rows) / n:.0f} prompt tokens, "
        f"{sum(r[3] for r in rows) / n:.0f} evaluated by llama.cpp, "
        f"{sum(r[1] for r in rows) / n:.1f} model calls"
    )
    model.close()


if __name__ == "__main__":
    asyncio.run(main())
