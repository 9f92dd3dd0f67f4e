"""The retriever's stages: families, diversity, described names, the second stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from toolweave import Tool
from toolweave.errors import UserError
from toolweave.evals.retrieval import (
    RetrievalCase,
    Stages,
    evaluate,
    holdout,
    retrieval_sets,
    set_retriever,
)
from toolweave.models import ModelSettings
from toolweave.models.testing import FunctionModel
from toolweave.retrieval import (
    HashingEmbedder,
    ModelReranker,
    Retriever,
    WordLlamaEmbedder,
    by_prefix,
    by_suffix,
    decompose,
    family_of,
    tool_document,
)
from toolweave.retrieval import _stages as stages
from toolweave.retrieval._families import sibling_support
from toolweave.retrieval._mmr import diversify, near_copies
from toolweave.retrieval._rerank import numbers_grammar
from toolweave.retrieval._stages import MODES, Candidates, hits, pipeline, run


def api(name: str, description: str, **params: str) -> Tool:
    props = {k: {"type": "string", "description": v} for k, v in params.items()}
    return Tool.from_schema(name, description, {"type": "object", "properties": props})


PROVIDERS = ["bolt", "zap", "flux", "quill", "nitro"]  # nitro last: no tie goes its way


def rapid_registry() -> list[Tool]:
    """A RapidAPI-like registry: five providers with the same "rates" API.

    Only nitro also has an account API; the others have unrelated siblings.
    """
    tools = [
        api(f"rates_for_{p}", "Current exchange rates between two currencies.", base="Currency")
        for p in PROVIDERS
    ]
    tools.append(api("account_for_nitro", "The user's account balance and its details."))
    tools += [api("news_for_bolt", "Latest news headlines."), api("joke_for_zap", "A random joke.")]
    tools += [api(f"weather_{i}_for_flux", f"Weather report number {i}.") for i in range(3)]
    return tools


REQUEST = "Show my account balance and the current exchange rates"


def test_family_rules() -> None:
    tool = api("rates_for_nitro", "Rates.")
    assert by_suffix("_for_")(tool) == "nitro"
    assert by_prefix("__")(api("github__create_issue", "")) == "github"
    assert by_prefix("__")(tool) is None
    declared = Tool.from_schema("rates_for_nitro", "Rates.", family="Nitro API")
    assert by_suffix("_for_")(declared) == "Nitro API"  # a declared family wins
    app = Tool.from_schema("open_note", "Open a note.", metadata={"app": "com.apple.notes"})
    assert family_of(app) == "com.apple.notes"
    assert family_of(tool) is None


def test_families_lift_the_sibling_that_completes_the_request() -> None:
    tools = rapid_registry()
    retriever = Retriever(tools, embedder=WordLlamaEmbedder(), families=by_suffix("_for_"))
    assert retriever.family("account_for_nitro") == "nitro"
    with_families = {h.tool.name for h in retriever.search(REQUEST, 2)}
    assert with_families == {"account_for_nitro", "rates_for_nitro"}
    without = {h.tool.name for h in retriever.search(REQUEST, 2, families=False)}
    assert "account_for_nitro" in without
    assert "rates_for_nitro" not in without  # another provider's copy of the API wins the tie
    off = Retriever(tools, embedder=WordLlamaEmbedder(), families=None)
    assert off.family("account_for_nitro") is None
    assert "rates_for_nitro" not in {h.tool.name for h in off.search(REQUEST, 2)}


def test_sibling_support_is_the_best_other_member() -> None:
    families = np.array([0, 0, 1, -1, 0], np.int64)
    whole = np.array([2.0, 1.0, 3.0, 5.0, -1.0], np.float32)
    support = sibling_support(families, [whole])
    # family 0: 2.0 and 1.0 lend each other; the negative member gets the best
    assert support.tolist() == [1.0, 2.0, 0.0, 0.0, 2.0]
    tied = sibling_support(np.array([0, 0], np.int64), [np.array([1.0, 1.0], np.float32)])
    assert tied.tolist() == [1.0, 1.0]


def test_diversified_top_k_holds_one_copy_of_each_api() -> None:
    copies = [
        api(f"rates_for_{p}", "Current exchange rates between two currencies.", base="Currency")
        for p in PROVIDERS
    ]
    others = [
        api("convert_amount", "Convert an amount of money from one currency into another."),
        api("currency_symbols", "The symbols and names of every currency."),
        api("bank_holidays", "Bank holidays of a country's currency markets."),
    ]
    retriever = Retriever(
        [*copies, *others], embedder=WordLlamaEmbedder(), families=by_suffix("_for_")
    )
    query = "exchange rates and currency conversion"
    plain = [h.tool.name for h in retriever.search(query, 4, diversify=False, split=False)]
    assert sum(name.startswith("rates_for_") for name in plain) >= 3
    diverse = [h.tool.name for h in retriever.search(query, 4, split=False)]
    assert sum(name.startswith("rates_for_") for name in diverse) == 1
    assert diverse[0] == plain[0]  # the best stays first
    assert "convert_amount" in diverse


def test_diversify_picks_by_marginal_relevance() -> None:
    vectors = np.array([[1, 0], [1, 0], [0.6, 0.8], [0, 1]], np.float32)
    similarity = near_copies(vectors, [frozenset()] * 4, np.arange(4))
    relevance = np.array([3.0, 2.9, 1.0, 0.5], np.float32)
    assert diversify(relevance, similarity, 3) == [0, 2, 3]  # the copy of 0 goes last
    assert diversify(relevance, similarity, 3, penalty=0) == [0, 1, 2]
    assert diversify(relevance, similarity, 3, penalty=1.0) == [0, 1, 2]  # a copy costs 1
    assert diversify(relevance, similarity, 9) == [0, 2, 3, 1]
    assert diversify(relevance[:0], similarity[:0, :0], 3) == []


def test_near_copies_see_through_the_provider_name() -> None:
    vectors = np.eye(4, dtype=np.float32)  # the embedder sees four different texts
    rates = frozenset({"rate", "exchang"})
    words = [rates, rates, frozenset({"joke"}), rates]
    similarity = near_copies(vectors, words, np.array([0, 1, 2, 0], np.int64))
    assert similarity[0, 1] == similarity[1, 0] == 1.0  # one API, two providers
    assert similarity[0, 2] == 0.0
    assert similarity[0, 3] == 0.0  # one provider's two APIs are not copies
    alone = near_copies(vectors, words, np.array([-1, -1, 2, 0], np.int64))
    assert not alone[:2].any()  # no family, nobody's copy


def test_a_tool_without_description_is_found_by_its_name() -> None:
    bare = Tool.from_schema(
        "get_free_games_for_epic_games_store",
        "",
        {"type": "object", "properties": {"country": {"type": "string"}}},
    )
    others = [
        api("rates_for_nitro", "Current exchange rates between two currencies."),
        api("top_charts_for_spotify", "The most played songs this week."),
        api("search_games_for_steam", "Search the Steam catalogue of paid games by title."),
    ]
    document = tool_document(bare, family="epic games store")
    assert "Get free games for epic games store, given country." in document
    assert "provided by epic games store" in document
    retriever = Retriever([*others, bare], embedder=WordLlamaEmbedder())
    for query in ("which games are free on Epic this week?", "free epic games"):
        assert retriever.search(query, 1)[0].tool is bare


def test_persistence_and_updates_keep_families_and_examples(tmp_path: Path) -> None:
    class Counting(HashingEmbedder):
        texts = 0

        def embed(self, texts):  # type: ignore[no-untyped-def]
            Counting.texts += len(texts)
            return super().embed(texts)

    tools = rapid_registry()
    examples = {"account_for_nitro": ["how much money is left on my account?"]}
    options = {"families": by_suffix("_for_"), "path": tmp_path / "index"}
    first = Retriever(tools, embedder=Counting(), examples=examples, **options)  # type: ignore[arg-type]
    expected = [h.tool.name for h in first.search(REQUEST, 3)]
    assert "how much money is left" in first.document("account_for_nitro")

    Counting.texts = 0
    again = Retriever(tools, embedder=Counting(), examples=examples, **options)  # type: ignore[arg-type]
    assert Counting.texts == 0  # loaded, nothing embedded
    assert again.family("rates_for_nitro") == "nitro"
    assert [h.tool.name for h in again.search(REQUEST, 3)] == expected

    more = {**examples, "rates_for_zap": ["what is the euro worth in dollars?"]}
    moved = Tool.from_schema("news_for_bolt", "Latest news headlines.", family="zap")
    changed = [moved if t.name == "news_for_bolt" else t for t in tools]
    Counting.texts = 0
    third = Retriever(changed, embedder=Counting(), examples=more, **options)  # type: ignore[arg-type]
    assert Counting.texts == 2  # the tool with new examples, the tool in a new family
    assert third.family("news_for_bolt") == "zap"
    assert "euro worth in dollars" in third.document("rates_for_zap")


async def test_aenrich_writes_questions_once_and_reindexes_only_those(tmp_path: Path) -> None:
    asked: list[str] = []

    def write(messages: list, settings: object) -> str:  # type: ignore[type-arg]
        prompt = messages[-1]["content"]
        asked.append(prompt)
        topic = "balance of my bank account" if "account" in prompt else "a random fact"
        return f"1. What is the {topic} today?\n2. Tell me the {topic}, please.\n"

    tools = rapid_registry()
    retriever = Retriever(tools, embedder=HashingEmbedder(), path=tmp_path / "index")
    cache = tmp_path / "examples.json"
    assert await retriever.aenrich(FunctionModel(write), cache) == len(tools)
    assert "balance of my bank account today" in retriever.document("account_for_nitro")
    assert len(asked) == len(tools)
    reloaded = Retriever(tools, embedder=HashingEmbedder(), path=tmp_path / "index")
    assert "balance of my bank account" in reloaded.document("account_for_nitro")
    assert await reloaded.aenrich(FunctionModel(write), cache) == 0  # cached and indexed
    assert len(asked) == len(tools)
    # a registry above the limit reads the cache only; unknown tools are left as they are
    fresh = Retriever(tools, embedder=HashingEmbedder())
    assert await fresh.aenrich(FunctionModel(write), cache, max_tools=3) == len(tools)
    assert len(asked) == len(tools)


async def test_the_second_stage_reorders_and_is_left_out_when_over_budget() -> None:
    def judge(messages: list, settings: object) -> str:  # type: ignore[type-arg]
        prompt = messages[-1]["content"]
        listed = [line for line in prompt.splitlines() if line[:1].isdigit()]
        wanted = [line.split(".")[0] for line in listed if "account_for_nitro" in line]
        return ", ".join([*wanted, "99", "1"])  # out of range numbers are ignored

    tools = rapid_registry()
    model = FunctionModel(judge)
    reranker = ModelReranker(model)
    retriever = Retriever(tools, embedder=HashingEmbedder(), reranker=reranker, rerank_depth=8)
    query = "exchange rates"
    first = await retriever.asearch(query, 3, rerank=False)
    assert first[0].tool.name != "account_for_nitro"
    assert reranker.expected_ms is None
    reranked = await retriever.asearch(query, 3)
    assert reranked[0].tool.name == "account_for_nitro"
    assert reranked[1].tool is first[0].tool  # named next, then the rest in order
    assert reranker.expected_ms is not None
    assert len(model.calls) == 1
    assert [h.tool for h in await retriever.asearch(query, 3, budget_ms=-1.0)] == [
        h.tool for h in first
    ]
    assert len(model.calls) == 1  # over budget: no call
    slow = ModelReranker(FunctionModel(judge), estimate_ms=60_000.0)
    patient = Retriever(tools, embedder=HashingEmbedder(), reranker=slow, rerank_depth=8)
    await patient.asearch(query, 3, budget_ms=500.0)
    assert slow.expected_ms == 60_000.0  # estimated over budget: never called
    assert (await patient.asearch(query, 3))[0].tool.name == "account_for_nitro"  # no budget
    with pytest.raises(UserError, match="reranker"):
        await Retriever(tools, embedder=HashingEmbedder()).asearch(query, rerank=True)


def test_the_ablation_rows_score_each_stage() -> None:
    def judge(messages: list, settings: object) -> str:  # type: ignore[type-arg]
        listed = [line for line in messages[-1]["content"].splitlines() if line[:1].isdigit()]
        return ", ".join(line.split(".")[0] for line in listed if "_for_nitro" in line)

    tools = rapid_registry()
    retriever = Retriever(
        tools,
        embedder=WordLlamaEmbedder(),
        families=by_suffix("_for_"),
        reranker=ModelReranker(FunctionModel(judge)),
    )
    cases = [RetrievalCase(REQUEST, frozenset({"account_for_nitro", "rates_for_nitro"}))]
    rows = {
        r.stage: r
        for r in evaluate(
            retriever,
            cases,
            stages=[
                Stages("hybrid"),
                Stages("+families", families=True),
                Stages("+rerank", rerank=True),
            ],
            ks=(2,),
        )
    }
    assert rows["hybrid"].recall[2] == 0.5
    assert rows["+families"].complete5 == 1.0
    assert rows["+families"].ndcg5 > rows["hybrid"].ndcg5
    assert rows["+families"].recall[2] == 1.0
    assert rows["+rerank"].recall[2] == 1.0  # the judge named nitro's two tools first
    assert rows["+rerank"].p50_ms > 0
    two = [*cases, RetrievalCase("rates of nitro", frozenset({"rates_for_nitro"}))]
    (row,) = evaluate(retriever, two, stages=[Stages("hybrid")])
    assert row.p95_ms >= row.p50_ms  # the slower of two (it was the faster: a low index)


def test_holdout_parts_are_disjoint_and_cover_the_set() -> None:
    cases = [RetrievalCase(f"q{i}", frozenset({"t"})) for i in range(12)]
    dev, test = holdout(cases, "dev"), holdout(cases, "test")
    assert [c.query for c in dev] == ["q0", "q5", "q10"]
    assert len(test) == 9
    assert not {c.query for c in dev} & {c.query for c in test}
    assert holdout(cases, "all") == cases
    with pytest.raises(ValueError, match="dev, test or all"):
        holdout(cases, "train")


@pytest.mark.slow  # indexing ToolE's registry takes seconds
def test_a_sets_retriever_indexes_its_registry_with_the_cached_questions() -> None:
    retriever = set_retriever("toole-multi")  # asks ToolE's registry, whose cache exists
    assert len(retriever) == len(retrieval_sets()["toole-multi"].registry())
    assert retriever.examples  # the cached questions are in
    name, questions = next(iter(retriever.examples.items()))
    assert questions[0] in retriever.document(name)
    plain = set_retriever("sealtools")  # no cache: documents without questions
    assert not plain.examples


async def test_the_second_stage_asks_for_numbers_only_with_the_request_last() -> None:
    asked: list[tuple[str, str | None]] = []

    def judge(messages: list, settings: ModelSettings) -> str:  # type: ignore[type-arg]
        asked.append((messages[-1]["content"], settings.grammar))
        return "2"

    tools = rapid_registry()
    retriever = Retriever(
        tools,
        embedder=HashingEmbedder(),
        reranker=ModelReranker(FunctionModel(judge)),
        rerank_depth=8,
    )
    first = await retriever.asearch("exchange rates", 3, rerank=False)
    reranked = await retriever.asearch("exchange rates", 3)
    assert reranked[0].tool is first[1].tool
    ((prompt, grammar),) = asked
    assert prompt.endswith("Request: exchange rates")
    assert grammar == numbers_grammar(8)
    assert numbers_grammar(3) == 'root ::= n ("," " "? n){0,2}\nn ::= "3" | "2" | "1"\n'
    plain = ModelReranker(FunctionModel(judge), grammar=False)
    await plain.rerank("exchange rates", first)
    assert asked[-1][1] is None


def test_the_stages_fed_a_candidate_state_rank_as_the_facade() -> None:
    retriever = Retriever(
        rapid_registry(), embedder=WordLlamaEmbedder(), families=by_suffix("_for_")
    )
    index, settings = retriever._index, retriever.settings
    several = "Tell me a random joke. Then show the latest news headlines"
    assert len(decompose(several)) == 2
    for query in (REQUEST, "exchange rates and currency conversion", several):
        intents = decompose(query)
        queries = [query] if len(intents) == 1 else [query, *intents]
        for mode in MODES:
            ranking = pipeline(index, settings, k=4, mode=mode)
            state = run(ranking, Candidates.start(index, queries))
            assert hits(index, state, 4) == retriever.search(query, 4, mode=mode), (query, mode)

    # composed by hand: a stage left out is a stage switched off
    start = Candidates.start(index, [REQUEST])
    recall = [stages.lexical(settings.candidates), stages.dense(index, settings.candidates)]
    plain = run([*recall, stages.fusion(index, "hybrid", settings)], start)
    assert hits(index, plain, 3) == retriever.search(
        REQUEST, 3, split=False, families=False, diversify=False
    )
    lifted = stages.families(index, settings.family_weight)(plain)
    assert hits(index, lifted, 2) == retriever.search(REQUEST, 2, split=False, diversify=False)
    assert {h.tool.name for h in hits(index, lifted, 2)} == {"account_for_nitro", "rates_for_nitro"}
    spread = stages.diversify(index, 3, penalty=settings.diversity, threshold=0.85)(plain)
    assert hits(index, spread, 3) == retriever.search(REQUEST, 3, split=False, families=False)
    assert sum(h.tool.name.startswith("rates_for_") for h in hits(index, spread, 3)) == 1
    assert not plain.orders  # each stage made a new state; the one it took is unchanged
    assert len(spread.orders) == 1

    # the recall stages widen the pool; only `fusion` scores it
    assert len(start.pool) == 0
    assert set(run(recall, start).pool.tolist()) == set(plain.pool.tolist())
    with pytest.raises(ValueError, match="run `fusion` after the recall stages"):
        stages.families(index, 0.5)(stages.lexical(10)(start))
    lexical_only = run([recall[0], stages.fusion(index, "hybrid", settings)], start)
    assert len(lexical_only.pool) < len(plain.pool)
    with pytest.raises(ValueError, match="run `fusion`"):
        hits(index, recall[1](lexical_only), 3)  # widened after fusion: scores out of date


def test_a_lexical_recall_that_finds_nothing_ranks_nothing() -> None:
    retriever = Retriever(rapid_registry(), embedder=HashingEmbedder())
    index, settings = retriever._index, retriever.settings
    ranking = pipeline(index, settings, k=3, mode="bm25")
    state = run(ranking, Candidates.start(index, ["zzzz qqqq"]))
    assert len(state.pool) == 0
    assert hits(index, state, 3) == retriever.search("zzzz qqqq", 3, mode="bm25") == []


def test_many_queries_fall_back_to_exact_search_without_hnswlib(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over the HNSW threshold without the ``scale`` extra, both searches stay exact."""
    from toolweave.retrieval import _vectors

    monkeypatch.setattr(_vectors, "hnswlib_module", lambda: None)  # as if not installed
    index = _vectors.VectorIndex(4, hnsw_threshold=2)
    vectors = np.eye(4, dtype=np.float32)[:3]
    index.add(0, vectors)
    queries = np.asarray([[0.9, 0.1, 0.0, 0.0], [0.0, 0.2, 0.8, 0.0]], np.float32)
    many = index.search_many(queries, 2)
    assert [list(slots) for slots in many] == [list(index.search(q, 2)[0]) for q in queries]
    assert [int(slots[0]) for slots in many] == [0, 2]
