"""The retriever learns from use: `Retriever.learn`, `Agent.learn`, the REPL's /learn."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from rich.console import Console
from support.described_tools import TOOLS, described

from toolweave import Agent, Tool, ToolRegistry
from toolweave.cli._slash import run_command
from toolweave.errors import ToolweaveError, UserError
from toolweave.evals.retrieval import ablation, holdout, learning_log, retrieval_sets
from toolweave.models.testing import ScriptedModel
from toolweave.retrieval import Retriever, WordLlamaEmbedder
from toolweave.retrieval._journal import JOURNAL
from toolweave.retrieval._learning import Learning, checked_log

# A team's own words: "the night shift" is the engineer on call, which no tool says.
TEAM_TOOLS = [
    *TOOLS,
    described(
        "post_to_chat", "Post a message to a team chat channel.", channel="Channel", text="Text"
    ),
    described("page_oncall", "Page the engineer on call.", summary="What happened"),
]
TAUGHT = "give the night shift a heads-up that the build is red"
PAGED = "page the engineer on call: tell the night shift the build is red"
ASKED = ["nudge the night shift about the failing deploy", "holler at the night shift: disk full"]


class Recording(WordLlamaEmbedder):
    """WordLlama, keeping every text it embeds."""

    def __init__(self, seen: list[str]) -> None:
        super().__init__()
        self.seen = seen

    def embed(self, texts):  # type: ignore[no-untyped-def]
        self.seen.extend(texts)
        return super().embed(texts)


def first(retriever: Retriever, query: str) -> str:
    return retriever.search(query, 3)[0].tool.name


def documents(embedded: list[str]) -> list[str]:
    """The tool documents among embedded texts (queries are one line)."""
    return [text.partition("\n")[0] for text in embedded if "\n" in text]


def test_a_learned_request_finds_its_tool_for_requests_phrased_alike() -> None:
    retriever = Retriever(TEAM_TOOLS, embedder=WordLlamaEmbedder())
    assert all(first(retriever, q) != "page_oncall" for q in ASKED)  # the words are new

    assert retriever.learn(TAUGHT, ["page_oncall"]) is True
    assert [first(retriever, q) for q in ASKED] == ["page_oncall"] * 2
    assert TAUGHT in retriever.document("page_oncall")
    assert retriever.learned == {"page_oncall": [TAUGHT]}
    assert retriever.learn(f"  {TAUGHT}\n", ["page_oncall"]) is False  # known: nothing changes
    assert retriever.learn(ASKED[0], "page_oncall") is True  # one tool, by its name alone


def test_learn_refuses_what_it_cannot_index() -> None:
    retriever = Retriever(TEAM_TOOLS, embedder=WordLlamaEmbedder())
    with pytest.raises(KeyError, match="no_such_tool"):
        retriever.learn(TAUGHT, ["page_oncall", "no_such_tool"])
    assert retriever.learned == {}  # nothing half-learned
    with pytest.raises(KeyError, match="no_such_tool"):
        retriever.learn_all([(TAUGHT, ["page_oncall"]), ("another", ["no_such_tool"])])
    assert retriever.learned == {}  # the whole log is checked first
    with pytest.raises(UserError, match="non-empty request"):
        retriever.learn("   ", ["page_oncall"])
    with pytest.raises(UserError, match="none given"):
        retriever.learn(TAUGHT, [])
    with pytest.raises(UserError, match="max_learned"):
        Retriever(TEAM_TOOLS, embedder=WordLlamaEmbedder(), max_learned=-1)


def test_each_tool_keeps_its_most_recent_requests() -> None:
    retriever = Retriever(TEAM_TOOLS, embedder=WordLlamaEmbedder(), max_learned=2)
    tool = TEAM_TOOLS[0]  # a Tool or its name
    for request in ("request a", "request b", "request a", "request c"):
        retriever.learn(request, tool)
    assert retriever.learned[tool.name] == ["request a", "request c"]  # a, learned again, stays
    assert "request b" not in retriever.document(tool.name)

    nothing = Retriever(TEAM_TOOLS, embedder=WordLlamaEmbedder(), max_learned=0)
    assert nothing.learn(TAUGHT, ["page_oncall"]) is False
    assert TAUGHT not in nothing.document("page_oncall")


def test_learned_requests_persist_and_forget_takes_them_back(tmp_path: Path) -> None:
    path = tmp_path / "index"
    embedded: list[str] = []
    retriever = Retriever(TEAM_TOOLS, embedder=Recording(embedded), path=path)
    saved = (path / "index.json").read_text()
    embedded.clear()
    retriever.learn(TAUGHT, ["page_oncall", "post_to_chat"])
    assert sorted(documents(embedded)) == ["page oncall", "post to chat"]  # those two only
    assert (path / "index.json").read_text() == saved  # one journal line, no index rewrite
    embedded.clear()
    log = [("page them: the disk is full", ["page_oncall"]), ("page them again", ["page_oncall"])]
    assert retriever.learn_all(log) == 1
    assert documents(embedded) == ["page oncall"]  # a log re-indexes each tool once
    assert retriever.forget("page_oncall") == 1
    retriever.learn(TAUGHT, ["page_oncall"])

    embedded.clear()
    again = Retriever(TEAM_TOOLS, embedder=Recording(embedded), path=path)
    assert again.learned == {"page_oncall": [TAUGHT], "post_to_chat": [TAUGHT]}
    assert sorted(documents(embedded)) == ["page oncall", "post to chat"]  # brought up to date
    assert first(again, ASKED[0]) == "page_oncall"
    embedded.clear()
    Retriever(TEAM_TOOLS, embedder=Recording(embedded), path=path)
    assert documents(embedded) == []  # and saved so: nothing re-embedded

    changed = [*TEAM_TOOLS[:-1], described("page_oncall", "Page whoever is on call.", summary="")]
    edited = Retriever(changed, embedder=Recording(embedded), path=path)
    assert TAUGHT in edited.document("page_oncall")  # a tool's new description keeps them

    assert edited.forget("page_oncall") == 1
    assert TAUGHT not in edited.document("page_oncall")
    assert edited.forget() == 1  # every tool: post_to_chat's
    assert edited.forget() == 0
    assert Retriever(changed, embedder=Recording(embedded), path=path).learned == {}
    with pytest.raises(KeyError):
        edited.forget("no_such_tool")


def test_a_smaller_max_learned_trims_a_saved_index(tmp_path: Path) -> None:
    path = tmp_path / "index"
    retriever = Retriever(TEAM_TOOLS, embedder=WordLlamaEmbedder(), path=path)
    retriever.learn("first request", ["page_oncall"])
    retriever.learn("second request", ["page_oncall"])
    trimmed = Retriever(TEAM_TOOLS, embedder=WordLlamaEmbedder(), path=path, max_learned=1)
    assert trimmed.learned == {"page_oncall": ["second request"]}
    assert "first request" not in trimmed.document("page_oncall")


def test_processes_sharing_an_index_keep_each_others_lessons(tmp_path: Path) -> None:
    path = tmp_path / "index"
    repl = Retriever(TEAM_TOOLS, embedder=WordLlamaEmbedder(), path=path)
    command_line = Retriever(TEAM_TOOLS, embedder=WordLlamaEmbedder(), path=path)
    command_line.learn(TAUGHT, "page_oncall")
    repl.learn("tell the channel the deploy is done", "post_to_chat")
    repl.save()  # the whole index, written by the one that never saw the other's lesson
    later = Retriever(TEAM_TOOLS, embedder=WordLlamaEmbedder(), path=path)
    assert later.learned == {
        "page_oncall": [TAUGHT],
        "post_to_chat": ["tell the channel the deploy is done"],
    }
    assert first(later, ASKED[0]) == "page_oncall"


def test_a_tool_missing_for_one_load_keeps_its_lessons(tmp_path: Path) -> None:
    path = tmp_path / "index"
    Retriever(TEAM_TOOLS, embedder=WordLlamaEmbedder(), path=path).learn(TAUGHT, "page_oncall")
    without = [t for t in TEAM_TOOLS if t.name != "page_oncall"]  # its server was down
    assert "page_oncall" not in Retriever(without, embedder=WordLlamaEmbedder(), path=path)
    back = Retriever(TEAM_TOOLS, embedder=WordLlamaEmbedder(), path=path)
    assert TAUGHT in back.document("page_oncall")


def test_a_broken_index_is_rebuilt_and_an_older_one_read(tmp_path: Path) -> None:
    path = tmp_path / "index"
    Retriever(TEAM_TOOLS, embedder=WordLlamaEmbedder(), path=path).learn(TAUGHT, "page_oncall")
    Retriever(TEAM_TOOLS, embedder=WordLlamaEmbedder(), path=path)  # saved, lesson included
    meta = json.loads((path / "index.json").read_text())
    (vectors,) = path.glob("vectors-*.npy")
    assert meta["vectors"] == vectors.name
    embedded: list[str] = []

    # as toolweave wrote it before: vectors.npy, not named in index.json
    vectors.rename(path / "vectors.npy")
    del meta["vectors"]
    (path / "index.json").write_text(json.dumps(meta))
    Retriever(TEAM_TOOLS, embedder=Recording(embedded), path=path)
    assert documents(embedded) == []

    # the vectors of another index beside this one's entries (a torn write): rebuilt
    (vectors,) = path.glob("vectors*.npy")
    np.save(vectors, np.zeros((3, WordLlamaEmbedder().dim), np.float32))
    rebuilt = Retriever(TEAM_TOOLS, embedder=Recording(embedded), path=path)
    assert len(documents(embedded)) == len(TEAM_TOOLS)
    assert first(rebuilt, ASKED[0]) == "page_oncall"  # the lesson outlived the index


def test_the_ablation_never_learns_a_request_it_measures() -> None:
    sets = retrieval_sets()
    cases = holdout(sets["toole-multi"].cases(), "test")[:5]
    log = learning_log("toole-multi", cases)
    dev = {
        c for name in ("toole-single", "toole-multi") for c in holdout(sets[name].cases(), "dev")
    }
    assert log
    assert set(log) <= dev  # the dev parts of both sets asked of ToolE's registry
    assert not {c.query for c in log} & {c.query for c in cases}
    with pytest.raises(ValueError, match="among the cases measured"):
        ablation("toole-multi", cases, stages=[], learn=[*log, cases[0]])


def on_call_agent(
    replies: list[str], *, tools: int = 30, index_path: Path | None = None
) -> tuple[Agent, list[str]]:
    called: list[str] = []

    def make(name: str, description: str) -> Tool:
        async def fn(summary: str) -> str:
            called.append(name)
            if name == "broken_pager":
                raise RuntimeError("the pager is down")
            return f"{name}: sent"

        schema = {"type": "object", "properties": {"summary": {"type": "string"}}}
        return Tool.from_schema(name, description, schema, fn)

    registry = ToolRegistry(
        [make(f"garden_{i}", f"Something about gardening number {i}.") for i in range(tools)]
    )
    registry.add(make("page_oncall", "Page the engineer on call."))
    registry.add(make("broken_pager", "Page the engineer on call through the old pager."))
    model = ScriptedModel(replies)
    agent = Agent(
        model, registry, top_k=4, decompose=False, ask_user=lambda q: "no", index_path=index_path
    )
    return agent, called


async def test_agent_learn_teaches_the_tools_that_served_a_finished_run() -> None:
    agent, called = on_call_agent(
        [
            '1. page_oncall(summary="red build")\n2. broken_pager(summary="red build")\n'
            '3. ask_user(question="anything else?")\njoin()\n',
            "Action: Finish(the night shift knows)",
        ]
    )
    assert agent.retriever is not None
    assert agent.retriever.search(ASKED[1], 1)[0].tool.name == "broken_pager"
    result = await agent.run(PAGED)
    assert result.status == "finished"
    assert called == ["page_oncall", "broken_pager"]
    assert agent.learn(result) == ["page_oncall"]  # the failed call teaches nothing, nor ask_user
    assert "ask_user" not in agent.retriever  # offered with every plan: never retrieved
    assert agent.retriever.learned == {"page_oncall": [PAGED]}
    assert agent.retriever.search(ASKED[1], 1)[0].tool.name == "page_oncall"
    agent.learn(result, request="page on call: red build")  # a follow-up, taught whole
    assert agent.retriever.learned["page_oncall"][-1] == "page on call: red build"


async def test_agent_learn_refuses_an_unfinished_run_and_needs_a_retriever() -> None:
    agent, _ = on_call_agent(["this is not a plan\n"] * 4)
    with pytest.raises(ToolweaveError) as failed:
        await agent.run(PAGED)
    result = failed.value.result
    assert result is not None
    assert result.status == "failed"
    with pytest.raises(UserError, match="only a finished run"):
        agent.learn(result)

    small, _ = on_call_agent(
        ['1. page_oncall(summary="x")\njoin()\n', "Action: Finish(done)"], tools=2
    )
    finished = await small.run(PAGED)
    with pytest.raises(UserError, match="give yours a path"):
        Agent(ScriptedModel([]), small.tools, retriever=Retriever(small.tools), index_path="x")
    assert small.retriever is None  # 4 tools: every one is offered to the planner
    assert small.learn(finished) == []


async def test_repl_learn_command_teaches_the_last_run() -> None:
    agent, _ = on_call_agent(['1. page_oncall(summary="x")\njoin()\n', "Action: Finish(done)"])
    console = Console(record=True, width=120)
    repl = SimpleNamespace(console=console, state=SimpleNamespace(last=None), agent=agent)
    await run_command(repl, "/learn")  # type: ignore[arg-type]
    repl.state.last = await agent.run(PAGED)
    await run_command(repl, "/learn")  # type: ignore[arg-type]
    shown = console.export_text()
    assert "no run yet" in shown
    assert "learned: page_oncall for this request" in shown
    assert agent.retriever is not None
    assert agent.retriever.learned == {"page_oncall": [PAGED]}


async def test_an_agents_index_path_keeps_what_it_learned(tmp_path: Path) -> None:
    replies = ['1. page_oncall(summary="red build")\njoin()\n', "Action: Finish(done)"]
    agent, _ = on_call_agent(replies, index_path=tmp_path / "index")
    assert agent.learn(await agent.run(PAGED)) == ["page_oncall"]

    later, _ = on_call_agent([], index_path=tmp_path / "index")  # another process, another day
    assert later.retriever is not None
    assert later.retriever.learned == {"page_oncall": [PAGED]}
    assert later.retriever.search(ASKED[1], 1)[0].tool.name == "page_oncall"


async def test_repl_tools_search_leaves_a_small_registrys_agent_without_a_retriever() -> None:
    agent, _ = on_call_agent([], tools=2)
    console = Console(record=True, width=120)
    repl = SimpleNamespace(
        console=console, state=None, agent=agent, tools=agent.tools, search_index=None
    )
    await run_command(repl, "/tools page the engineer on call")  # type: ignore[arg-type]
    assert "page_oncall" in console.export_text()
    assert agent.retriever is None  # the planner is still offered every tool
    assert repl.search_index is not None


def test_learning_apart_from_the_index_keeps_its_lessons_in_the_journal(tmp_path: Path) -> None:
    indexed = {"page_oncall", "post_to_chat"}
    page = TEAM_TOOLS[-1]
    log = [(f"  {TAUGHT}\n", [page, "page_oncall"]), ("tell the channel", "post_to_chat")]
    assert checked_log(log, indexed) == [
        (TAUGHT, ["page_oncall"]),
        ("tell the channel", ["post_to_chat"]),
    ]
    with pytest.raises(KeyError, match="no_such_tool"):
        checked_log([(TAUGHT, ["page_oncall", "no_such_tool"])], indexed)
    with pytest.raises(UserError, match="non-empty request"):
        checked_log([(" ", "page_oncall")], indexed)

    learning = Learning(tmp_path)
    both = [("first", ["page_oncall", "post_to_chat"]), ("second", ["post_to_chat"])]
    assert learning.teach(both, limit=1) == ["page_oncall", "post_to_chat"]
    assert learning.learned == {"page_oncall": ["first"], "post_to_chat": ["second"]}
    assert learning.teach([("second", ["post_to_chat"])], limit=1) == []  # known: no change
    assert not (tmp_path / JOURNAL).exists()  # nothing kept until asked
    learning.keep()
    replayed = Learning(tmp_path)
    replayed.load(limit=5)  # the journal holds the lessons; the limit applies on replay
    assert replayed.learned == {"page_oncall": ["first"], "post_to_chat": ["first", "second"]}

    assert learning.forget(("page_oncall",), indexed) == ["page_oncall"]
    with pytest.raises(KeyError, match="no_such_tool"):
        learning.forget(("no_such_tool",), indexed)
    learning.keep()
    replayed.load(limit=5)
    assert replayed.learned == {"post_to_chat": ["first", "second"]}
    learning.copy_to(tmp_path / "elsewhere")
    moved = Learning(tmp_path / "elsewhere")
    moved.load(limit=5)
    assert moved.learned == learning.learned == {"post_to_chat": ["second"]}

    alone = Learning(None)  # no index directory: nothing to keep
    assert alone.teach([("first", ["page_oncall"])], limit=3) == ["page_oncall"]
    alone.keep()
    assert alone.learned == {"page_oncall": ["first"]}
