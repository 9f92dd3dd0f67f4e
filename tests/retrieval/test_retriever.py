from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest
from support.described_tools import TOOLS, described

from toolweave import Agent, Tool, ToolRegistry
from toolweave.errors import UserError
from toolweave.events import Event, ToolsRetrieved
from toolweave.models.testing import FunctionModel, ScriptedModel
from toolweave.retrieval import (
    EnsembleEmbedder,
    HashingEmbedder,
    Retriever,
    RetrieverSettings,
    WordLlamaEmbedder,
    decompose,
    split_name,
    tool_document,
)
from toolweave.retrieval._bm25 import BM25Index
from toolweave.retrieval._index import ToolIndex
from toolweave.retrieval._persistence import load_index, save_index
from toolweave.retrieval._text import tokenize


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("getWeatherForecast", ["get", "weather", "forecast"]),
        ("get_weather_forecast", ["get", "weather", "forecast"]),
        ("is.workflow.actions.gettext", ["is", "workflow", "actions", "gettext"]),
        ("HTTPServerError2", ["http", "server", "error", "2"]),
        ("book-hotel-v2", ["book", "hotel", "v", "2"]),
    ],
)
def test_name_splitting(name: str, words: list[str]) -> None:
    assert split_name(name) == words


def test_tool_document_holds_every_part() -> None:
    t = Tool.from_schema(
        "setUnitSystem",
        "Choose the unit system.",
        {
            "type": "object",
            "properties": {"unit_system": {"type": "string", "enum": ["metric", "imperial"]}},
        },
        returns="The system now in use.",
    )
    doc = tool_document(t, examples=["switch to miles please"], topics=["units"])
    assert doc.splitlines() == [
        "set unit system",
        "Choose the unit system.",
        "parameter unit system: one of: metric, imperial",
        "returns The system now in use.",
        "example questions: switch to miles please",
        "topics: units",
    ]


def test_bm25_matches_a_fresh_index_after_adds_and_removes() -> None:
    docs = [tokenize(t.description) for t in TOOLS]
    incremental = BM25Index()
    for slot, tokens in enumerate(docs):
        incremental.add(slot, tokens)
    incremental.remove(2)
    incremental.remove(5)
    fresh = BM25Index()
    for slot, tokens in enumerate(docs):
        if slot not in (2, 5):
            fresh.add(slot, tokens)
    query = tokenize("convert money and find a hotel room price")
    np.testing.assert_allclose(incremental.scores(query, 8), fresh.scores(query, 8), rtol=1e-6)
    assert incremental.scores(query, 8)[2] == 0


def test_search_finds_the_right_tool_by_meaning() -> None:
    retriever = Retriever(TOOLS, embedder=WordLlamaEmbedder())
    for query, expected in [
        ("will it rain in Paris tomorrow?", "get_weather_forecast"),
        ("reserve a room for 3 nights in Rome", "book_hotel"),
        ("how much is 100 dollars in euros", "convert_currency"),
        ("what is Apple's share price", "stock_price"),
    ]:
        hits = retriever.search(query, k=3)
        assert hits[0].tool.name == expected, (query, [h.tool.name for h in hits])
        assert hits[0].fused >= hits[-1].fused


def test_hashing_embedder_finds_tools_by_words() -> None:
    retriever = Retriever(TOOLS, embedder=HashingEmbedder())
    assert retriever.search("translate this text", 1)[0].tool.name == "translate_text"
    assert retriever.search("airline flights to Rome", 1)[0].tool.name == "search_flights"


def test_hybrid_fusion_uses_both_sides() -> None:
    retriever = Retriever(TOOLS, embedder=HashingEmbedder())
    query = "ticker"  # only BM25 sees this parameter word; the dense side barely does
    assert retriever.search(query, 1, mode="bm25")[0].tool.name == "stock_price"
    hit = retriever.search(query, 1)[0]
    assert hit.tool.name == "stock_price"
    assert hit.bm25 > 0
    assert -1.0 <= hit.dense <= 1.0


@pytest.mark.parametrize(
    ("query", "parts"),
    [
        ("What's the weather in Oslo?", 1),
        ("What's the weather in Oslo and book a hotel there for two nights", 2),
        ("Translate this to French. Then send it by email to Ann.", 2),
        ("Find flights to Rome, also convert 300 dollars to euros", 2),
        ("salt and pepper", 1),
    ],
)
def test_decomposition(query: str, parts: int) -> None:
    assert len(decompose(query)) == parts


def test_decomposition_merge_keeps_each_intents_best_tool() -> None:
    retriever = Retriever(TOOLS, embedder=WordLlamaEmbedder())
    query = "Translate this paragraph into Spanish, and then play my workout playlist"
    names = [h.tool.name for h in retriever.search(query, 2)]
    assert set(names) == {"translate_text", "play_music"}
    whole = [h.tool.name for h in retriever.search(query, 2, split=False)]
    assert len(whole) == 2


def test_persistence_round_trip_and_incremental_sync(tmp_path: Path) -> None:
    path = tmp_path / "index"
    first = Retriever(TOOLS, embedder=WordLlamaEmbedder(), path=path)
    assert (path / "index.json").is_file()
    expected = [h.tool.name for h in first.search("send a message to Bob", 3)]

    class CountingEmbedder(WordLlamaEmbedder):
        texts = 0

        def embed(self, texts):  # type: ignore[no-untyped-def]
            CountingEmbedder.texts += len(texts)
            return super().embed(texts)

    embedder = CountingEmbedder()
    again = Retriever(TOOLS, embedder=embedder, path=path)
    assert CountingEmbedder.texts == 0  # nothing re-embedded
    assert [h.tool.name for h in again.search("send a message to Bob", 3)] == expected
    assert again.search("send a message to Bob", 1)[0].tool is TOOLS[6]  # the live tool object

    changed = [*TOOLS[:7], described("play_music", "Play a podcast episode.", show="Show name")]
    changed.append(described("order_pizza", "Order a pizza for delivery.", size="Size"))
    CountingEmbedder.texts = 0
    third = Retriever(changed[1:], embedder=embedder, path=path)  # weather tool removed
    assert CountingEmbedder.texts == 2  # only the changed and the new tool's documents
    assert "get_weather_forecast" not in third
    assert third.search("I'm hungry, get me a pizza", 1)[0].tool.name == "order_pizza"
    assert len(third) == 8


def test_ensemble_similarity_is_the_weighted_mean_of_its_embedders() -> None:
    words, static = HashingEmbedder(dim=128), WordLlamaEmbedder()
    ensemble = EnsembleEmbedder([words, static], weights=[1, 3])
    assert ensemble.dim == 128 + static.dim
    assert ensemble.name == f"hashing-128*0.25+{static.name}*0.75"
    texts = ["book a hotel room in Rome", "reserve lodging for two nights", ""]
    vectors = ensemble.embed(texts)
    assert vectors.shape == (3, ensemble.dim)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[:2], axis=1), 1.0, atol=1e-5)
    assert not vectors[2].any()  # an empty text stays a zero row
    a, b = words.embed(texts[:2]), static.embed(texts[:2])
    expected = 0.25 * float(a[0] @ a[1]) + 0.75 * float(b[0] @ b[1])
    assert float(vectors[0] @ vectors[1]) == pytest.approx(expected, abs=1e-5)


def test_ensemble_refuses_what_it_cannot_average() -> None:
    with pytest.raises(UserError, match="two embedders"):
        EnsembleEmbedder([HashingEmbedder()])
    with pytest.raises(UserError, match="positive weight"):
        EnsembleEmbedder([HashingEmbedder(), HashingEmbedder(64)], weights=[1, 0])
    with pytest.raises(UserError, match="positive weight"):
        EnsembleEmbedder([HashingEmbedder(), HashingEmbedder(64)], weights=[1])
    with pytest.raises(UserError, match="positive weight"):
        EnsembleEmbedder([HashingEmbedder(), HashingEmbedder(64)], weights=[1, float("inf")])


def test_ensemble_rows_are_unit_vectors_or_zeros() -> None:
    class Blind(HashingEmbedder):
        """Knows no word: zeros for every text."""

        def embed(self, texts):  # type: ignore[no-untyped-def]
            return np.zeros((len(texts), self.dim), np.float32)

    class Eager(HashingEmbedder):
        """A vector even for an empty text, as MiniLM gives one."""

        def embed(self, texts):  # type: ignore[no-untyped-def]
            return super().embed([text or "[CLS]" for text in texts])

    ensemble = EnsembleEmbedder([Blind(dim=32), Eager()])
    vectors = ensemble.embed(["book a hotel", "", "   "])
    assert np.linalg.norm(vectors[0]) == pytest.approx(1.0, abs=1e-6)  # the other one alone
    one = Eager().embed(["book a hotel", "send an email"])
    both = ensemble.embed(["book a hotel", "send an email"])
    assert float(both[0] @ both[1]) == pytest.approx(float(one[0] @ one[1]), abs=1e-5)
    assert not vectors[1:].any()  # empty texts are zeros, whatever a part made of them
    assert EnsembleEmbedder([Eager(), Eager(64)], [1, 1.0001]).name.endswith("*0.500025")


def test_an_ensemble_index_is_kept_and_rebuilt_when_the_shares_change(tmp_path: Path) -> None:
    path = tmp_path / "index"
    ensemble = EnsembleEmbedder([HashingEmbedder(), WordLlamaEmbedder()])
    first = Retriever(TOOLS, embedder=ensemble, path=path)
    query = "will it rain in Oslo tomorrow?"
    assert first.search(query, 1)[0].tool.name == "get_weather_forecast"
    calls: list[int] = []

    class Counting(HashingEmbedder):
        def embed(self, texts):  # type: ignore[no-untyped-def]
            calls.append(len(texts))
            return super().embed(texts)

    again = Retriever(
        TOOLS, embedder=EnsembleEmbedder([Counting(), WordLlamaEmbedder()]), path=path
    )
    assert calls == []  # the same embedders and shares: the saved vectors serve
    assert again.search(query, 1)[0].tool.name == "get_weather_forecast"
    calls.clear()
    other = EnsembleEmbedder([Counting(), WordLlamaEmbedder()], weights=[1, 2])
    Retriever(TOOLS, embedder=other, path=path)
    assert calls == [len(TOOLS)]  # other shares: every document embedded again


def test_add_and_remove_without_rebuild() -> None:
    retriever = Retriever(TOOLS[:4], embedder=HashingEmbedder())
    retriever.add(TOOLS[7])
    assert retriever.search("play a song", 1)[0].tool.name == "play_music"
    retriever.remove("play_music")
    assert all(h.tool.name != "play_music" for h in retriever.search("play a song", 5))
    with pytest.raises(KeyError):
        retriever.remove("play_music")
    assert len(retriever) == 4


REFUSED_SETTINGS = [
    ({"fusion": "max"}, "fusion must be 'zscore' or 'rrf', not 'max'"),
    ({"candidates": 0}, "candidates must be at least 1, not 0"),
    ({"rerank_depth": 0}, "rerank_depth must be at least 1"),
    ({"rrf_k": -1}, "rrf_k must be 0 or more"),
    ({"weights": (-1.0, 1.0)}, "weights must be two numbers, 0 or more, not both 0"),
    ({"weights": (0.0, 0.0)}, "not both 0"),
    ({"weights": (1.0, float("nan"))}, "weights must be two numbers"),
    ({"max_learned": -1}, "max_learned must be 0 or more"),
    ({"family_weight": -0.5}, "family_weight must be 0 or more"),
    ({"diversity": -1.0}, "diversity must be 0 or more"),
    ({"duplicate_similarity": 1.5}, "duplicate_similarity must be above 0 and at most 1"),
]


@pytest.mark.parametrize(("setting", "message"), REFUSED_SETTINGS)
def test_settings_that_would_rank_nothing_or_be_ignored_are_refused(
    setting: dict[str, object], message: str
) -> None:
    # found by probing: these were taken silently (an unknown fusion was z-scores, no
    # candidates ranked nothing, and numpy warned)
    with pytest.raises(UserError, match=message):
        Retriever(TOOLS, embedder=HashingEmbedder(), **setting)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        *REFUSED_SETTINGS,
        ({"hnsw_threshold": -1}, "hnsw_threshold must be 0 or more"),
        ({"weights": (1.0,)}, "weights must be two numbers"),
        ({"weights": "ab"}, "weights must be two numbers"),
        ({"weights": (1.0, "x")}, "weights must be two numbers"),
        ({"duplicate_similarity": 0.0}, "duplicate_similarity must be above 0"),
    ],
)
def test_the_settings_object_refuses_the_same_values_and_so_do_its_attributes(
    setting: dict[str, object], message: str
) -> None:
    with pytest.raises(UserError, match=message) as refused:
        RetrieverSettings(**setting)  # type: ignore[arg-type]
    assert str(refused.value).startswith(f"Retriever: {next(iter(setting))} must be ")
    retriever = Retriever(TOOLS, embedder=HashingEmbedder())
    before = retriever.settings
    ((name, value),) = setting.items()
    with pytest.raises(UserError, match=message):
        setattr(retriever, name, value)  # an attribute write is checked too
    assert retriever.settings is before  # and a refused one changes nothing


def test_settings_are_one_frozen_value_given_whole_or_by_keyword() -> None:
    settings = RetrieverSettings(weights=[1, 2], candidates=7, diversity=0.0)  # type: ignore[arg-type]
    assert settings.weights == (1.0, 2.0)  # kept as a tuple of floats
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.candidates = 3  # type: ignore[misc]
    whole = Retriever(TOOLS, embedder=HashingEmbedder(), settings=settings)
    assert whole.settings is settings
    assert (whole.candidates, whole.weights, whole.diversity) == (7, (1.0, 2.0), 0.0)
    keyword = Retriever(TOOLS, embedder=HashingEmbedder(), settings=settings, candidates=3)
    assert keyword.settings == dataclasses.replace(settings, candidates=3)  # keywords win
    assert Retriever(TOOLS, embedder=HashingEmbedder()).settings == RetrieverSettings()
    keyword.weights = (0.0, 1.0)
    assert keyword.settings.weights == (0.0, 1.0)
    assert keyword.settings.candidates == 3  # the other settings stay
    assert [h.tool.name for h in keyword.search("airline flights to Rome", 3)] == [
        h.tool.name for h in keyword.search("airline flights to Rome", 3, mode="dense")
    ]  # the BM25 side weighs nothing now
    keyword.settings = dataclasses.replace(keyword.settings, hnsw_threshold=5)
    assert keyword.settings.hnsw_threshold == 5
    assert len(keyword.search("airline flights to Rome", 3, mode="dense")) == 3


def test_mistakes_in_use_are_named(tmp_path: Path) -> None:
    retriever = Retriever(TOOLS, embedder=HashingEmbedder())
    with pytest.raises(UserError, match="mode must be one of hybrid, bm25, dense, not 'fuzzy'"):
        retriever.search("play a song", mode="fuzzy")  # type: ignore[arg-type]
    assert retriever.search("play a song", 1, mode="bm25")[0].tool.name == "play_music"
    with pytest.raises(UserError, match="indexes Tool objects, not 'play_music'"):
        Retriever(["play_music"], embedder=HashingEmbedder())  # type: ignore[list-item]
    (tmp_path / "index").write_text("not a directory")
    with pytest.raises(UserError, match="is a file; give a directory"):
        Retriever(TOOLS, embedder=HashingEmbedder(), path=tmp_path / "index")
    registry = ToolRegistry(TOOLS)
    with pytest.raises(TypeError, match=r"tools are found by name, not by 0; registry\.names\(\)"):
        registry[0]  # type: ignore[index]
    assert registry["play_music"].name == "play_music"


def test_large_registries_switch_to_hnsw() -> None:
    many = [described(f"tool_{i}", f"Tool number {i} about topic {i % 97}.") for i in range(600)]
    exact = Retriever(many, embedder=HashingEmbedder(dim=64))
    approx = Retriever(many, embedder=HashingEmbedder(dim=64), hnsw_threshold=100)
    query = "topic 42 tool"
    top_exact = {h.tool.name for h in exact.search(query, 10, mode="dense")}
    top_approx = {h.tool.name for h in approx.search(query, 10, mode="dense")}
    assert len(top_exact & top_approx) >= 8
    approx.remove(next(iter(top_approx)))
    assert len(approx.search(query, 10, mode="dense")) == 10


async def test_agent_retrieves_before_planning_and_again_on_replan() -> None:
    calls: list[str] = []

    def make(name: str, description: str) -> Tool:
        async def fn(city: str) -> str:
            calls.append(name)
            return f"{name}:{city}"

        return Tool.from_schema(
            name, description, {"type": "object", "properties": {"city": {"type": "string"}}}, fn
        )

    registry = ToolRegistry(
        [make(f"unrelated_{i}", f"Something about gardening number {i}.") for i in range(40)]
    )
    registry.add(make("get_weather", "Weather forecast for a city."))
    registry.add(make("find_hotel", "Find a hotel room in a city."))
    model = ScriptedModel(
        [
            '1. get_weather(city="Oslo")\njoin()\n',
            "Action: Replan(also find a hotel room)",
            '2. find_hotel(city="Oslo")\njoin()\n',
            "Action: Finish(done)",
        ]
    )
    agent = Agent(
        model,
        registry,
        top_k=3,
        ask_user=lambda question: "Oslo",
        decompose=False,
        replan_on_success=True,  # the plan succeeded, yet the joiner asks for more
    )
    events: list[Event] = []
    async with agent.stream("What is the weather forecast in Oslo?") as stream:
        events = [e async for e in stream]
    retrieved = [e for e in events if isinstance(e, ToolsRetrieved)]
    assert len(retrieved) == 2
    assert retrieved[0].hits[0].tool.name == "get_weather"
    assert retrieved[1].query == "also find a hotel room"  # tools added for the reason
    assert "find_hotel" in [h.tool.name for h in retrieved[1].hits]
    first_prompt = model.calls[0][0]["content"]
    assert "get_weather(city: str = None)" in first_prompt
    assert first_prompt.count("unrelated_") <= 2  # 3 tools offered, not 42...
    assert "ask_user(question: str)" in first_prompt  # ...and asking the user, always
    assert calls == ["get_weather", "find_hotel"]


def test_scale_smoke() -> None:
    many = [described(f"tool_{i}", f"Does task {i}.") for i in range(3000)]
    start = time.perf_counter()
    retriever = Retriever(many, embedder=WordLlamaEmbedder())
    assert time.perf_counter() - start < 30
    assert retriever.search("task 1234", 1)[0].tool.name == "tool_1234"


async def test_model_decomposition_splits_the_query_before_retrieval() -> None:
    def respond(messages: list, settings: object) -> str:  # type: ignore[type-arg]
        prompt = messages[-1]["content"]
        if prompt.startswith("List the separate things"):
            return "1. weather forecast for Oslo\n2. reserve a hotel room in Oslo\n"
        if "<results>" in prompt:  # the joiner, continuing the planner's conversation
            return "Action: Finish(ok)"
        return '1. get_weather_forecast(city="Oslo")\njoin()\n'

    many = [described(f"garden_{i}", f"Gardening tip number {i}.") for i in range(40)]
    agent = Agent(FunctionModel(respond), [*TOOLS, *many], top_k=3)
    result = await agent.run("I'm going to Oslo: what's it like there, and where do I sleep?")
    offered = [h.tool.name for h in (await agent.offered_tools("x"))[1]]
    assert len(offered) == 3
    assert [c.role for c in result.calls] == ["decomposer", "planner", "joiner"]
    assert result.calls[0].text == "weather forecast for Oslo\nreserve a hotel room in Oslo"
    planner_prompt = agent.model.calls[1][0]["content"]  # type: ignore[attr-defined]
    assert "get_weather_forecast(" in planner_prompt
    assert "book_hotel(" in planner_prompt


def test_reporting_embedder_embeds_in_slices_and_keeps_the_index_name(tmp_path: Path) -> None:
    """The command line's index builds say how far they got, and write the same index."""
    from toolweave.retrieval._embedders import ReportingEmbedder

    inner = HashingEmbedder()
    reports: list[tuple[int, int]] = []
    reporting = ReportingEmbedder(inner, lambda done, total: reports.append((done, total)), 64)
    texts = [f"text {'long ' * (i % 7)}number {i}" for i in range(150)]  # taken by length
    np.testing.assert_array_equal(reporting.embed(texts), inner.embed(texts))
    assert reports == [(64, 150), (128, 150), (150, 150)]
    reporting.embed(texts[:10])  # a query: at once, no report
    assert len(reports) == 3
    assert (reporting.name, reporting.dim) == (inner.name, inner.dim)
    tools = [Tool.from_schema(f"tool_{i}", f"does thing {i}", {}) for i in range(100)]
    Retriever(tools, embedder=reporting, path=tmp_path)
    assert reports[-1] == (100, 100)  # the documents, reported
    embedded: list[int] = []

    class Counting(HashingEmbedder):
        def embed(self, texts):  # type: ignore[no-untyped-def]
            embedded.append(len(texts))
            return super().embed(texts)

    again = Retriever(tools, embedder=Counting(), path=tmp_path)
    assert embedded == []  # the index written through the wrapper is the inner one's
    assert again.search("does thing 7", 1)[0].tool.name == "tool_7"


def test_an_index_saved_and_loaded_apart_from_the_retriever(tmp_path: Path) -> None:
    examples = {"book_hotel": ["where can I sleep in Rome?"]}
    retriever = Retriever(TOOLS, embedder=HashingEmbedder(), examples=examples)
    retriever.remove("play_music")  # a removed tool's slot is not written
    save_index(retriever._index, retriever.examples, tmp_path)
    index = ToolIndex(HashingEmbedder(), hnsw_threshold=50_000)
    loaded: dict[str, list[str]] = {"book_hotel": ["given wins"]}
    assert load_index(index, tmp_path, loaded) is False
    assert loaded == {"book_hotel": ["given wins"]}  # the questions given win over the saved
    assert [name for name, _ in index.live()] == [t.name for t in TOOLS if t.name != "play_music"]
    assert index.docs == [retriever.document(t.name) for t in retriever.tools]
    assert "where can I sleep in Rome?" in retriever.document("book_hotel")
    np.testing.assert_array_equal(
        index.vectors.matrix, retriever._index.vectors.matrix[: len(TOOLS) - 1]
    )
    fresh: dict[str, list[str]] = {}
    assert load_index(ToolIndex(HashingEmbedder(), hnsw_threshold=10), tmp_path, fresh) is False
    assert fresh == examples  # an index's saved questions come back with it
    other = ToolIndex(HashingEmbedder(dim=64), hnsw_threshold=50_000)
    assert load_index(other, tmp_path, {}) is True  # another embedder's index: rebuild
    assert len(other) == 0
