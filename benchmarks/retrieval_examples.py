"""A second set of example questions for ToolE, in another style: does it add recall?

The cached questions (`evals/cache/examples-toole.json`) come from one prompt and read
alike ("Find the best car for my budget and preferences."). This writes five more a
tool with a prompt that asks for chat messages about different uses with concrete
details (`evals/cache/examples-toole-chat.json`; `--write` to write what is missing,
about 13 s a tool on the local model, 2 CPU cores), then prints ToolE's Recall on the
dev part with no questions, each set alone, and both.

Usage: python benchmarks/retrieval_examples.py [--write] [--part dev|test]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from toolweave.evals.retrieval import Stages, cached_examples, evaluate, holdout, retrieval_sets
from toolweave.retrieval import Retriever, WordLlamaEmbedder
from toolweave.retrieval._examples import ExampleWriter

CHAT_CACHE = Path(__file__).resolve().parents[1] / "evals" / "cache" / "examples-toole-chat.json"
CHAT_PROMPT = """\
Here is a tool an assistant can use:

{document}

Write {n} messages that different users might send to a chat assistant when they need
this tool. Each asks for a different thing the tool can do, in the user's own words,
with concrete details (names, places, dates, amounts). Do not name the tool. One
message per line, nothing else."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the missing questions")
    parser.add_argument("--part", default="dev", choices=["dev", "test"])
    args = parser.parse_args()
    tools = list(retrieval_sets()["toole-single"].registry())
    model = None
    if args.write:
        from toolweave.models import LocalModel

        model = LocalModel()
    writer = ExampleWriter(model, CHAT_CACHE, prompt=CHAT_PROMPT)
    chat = asyncio.run(writer.write(tools)) if args.write else writer.cached(tools)
    plain = cached_examples("toole", tools)
    print(f"tools {len(tools)}; cached questions: plain {len(plain)}, chat {len(chat)}")
    variants = {
        "none": None,
        "plain": plain,
        "chat": chat,
        "both": {name: plain.get(name, []) + chat.get(name, []) for name in plain},
    }
    embedder = WordLlamaEmbedder()
    stage = Stages("+examples", examples=True)
    print(f"{'set':<14}{'questions':<11}{'queries':>8}{'R@1':>6}{'R@5':>6}{'R@10':>6}{'C@5':>6}")
    for set_name in ("toole-single", "toole-multi"):
        cases = holdout(retrieval_sets()[set_name].cases(), args.part)
        for label, examples in variants.items():
            retriever = Retriever(tools, embedder=embedder, examples=examples)
            row = evaluate(retriever, cases, set_name=set_name, stages=[stage])[0].row()
            print(
                f"{set_name:<14}{label:<11}{len(cases):>8}{row['recall@1']:>6}"
                f"{row['recall@5']:>6}{row['recall@10']:>6}{row['complete@5']:>6}",
                flush=True,
            )


if __name__ == "__main__":
    main()
