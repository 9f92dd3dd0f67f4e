"""OpenAPI services as tool sources, against a real service on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from support.openapi_service import DELAY, SPEC, TOKEN, PetStore, serve

from toolweave import Agent, TaskState, Tool, ToolError, ToolRegistry, UserError
from toolweave.models.testing import ScriptedModel
from toolweave.sources import OpenAPISource, registry_from_specs

FINISH = "Thought: done.\nAction: Finish({})"


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, PetStore]]:
    monkeypatch.setenv("PETS_TOKEN", TOKEN)
    with serve() as running:
        yield running


def pets(url: str) -> OpenAPISource:
    return OpenAPISource(f"{url}/openapi.json", bearer_env="PETS_TOKEN")


def one_call(call: str, answer: str = "ok") -> ScriptedModel:
    return ScriptedModel([f"1. {call}\njoin()\n<END_OF_PLAN>", FINISH.format(answer)])


async def test_operations_become_tools(service: tuple[str, PetStore]) -> None:
    url, _ = service
    async with ToolRegistry([pets(url)]) as tools:
        assert tools.names == [
            "listPets",
            "createPet",
            "getPet",
            "deletePet",
            "petAge",
            "get_compare",  # no operationId: named by its method and path
            "broken",
        ]
        get_pet, create = tools["getPet"], tools["createPet"]
        assert (get_pet.read_only, get_pet.destructive) == (True, False)
        assert (create.read_only, create.destructive) == (False, True)
        assert tools["deletePet"].destructive
        # a path parameter from a $ref'd component, shared by the path's operations
        assert get_pet.parameters["properties"]["petId"] == {
            "type": "integer",
            "description": "The pet's id.",
        }
        assert get_pet.required_names == {"petId"}
        # the JSON body's properties ($ref'd schema) are the arguments, with its enum
        assert create.signature() == (  # a Pet: NewPet's fields and an id (allOf)
            'createPet(name: str, species: Literal["cat", "dog"], age: int | None = None) -> '
            '{name: str, species: Literal["cat", "dog"], age: int | None, id: int}'
        )
        assert tools["listPets"].signature() == (
            "listPets(species: str = None, limit: int = None) -> list[Any]"
        )
        assert tools["get_compare"].description == (
            "Compare two ages. Which is older, and by how many years."
        )
        assert tools["petAge"].returns == "The age."
        assert get_pet.metadata["operation"] == "GET /pets/{petId}"
        assert get_pet.metadata["source"] == "pet_store"  # from the spec's title


async def test_a_plan_calls_two_operations_in_parallel_then_one_on_their_results(
    service: tuple[str, PetStore],
) -> None:
    url, store = service
    plan = """Thought: both ages at once, then compare them.
1. petAge(petId=1)
2. petAge(petId=2)
3. get_compare(a=$1, b=$2)
join()
<END_OF_PLAN>"""
    model = ScriptedModel([plan, FINISH.format("Rex is 4 years older than Tom.")])
    async with Agent(model, tools=[pets(url)]) as agent:
        result = await agent.run("How much older is Rex than Tom?")
    assert result.answer == "Rex is 4 years older than Tom."
    tasks = result.tasks
    assert {tid: t.value for tid, t in tasks.items()} == {
        1: 3,
        2: 7,
        3: {"older": "b", "years": 4},
    }
    one, two, three = tasks[1], tasks[2], tasks[3]
    assert one.started_at is not None
    assert two.started_at is not None
    assert one.finished_at is not None
    assert two.finished_at is not None
    assert three.started_at is not None
    assert max(one.started_at, two.started_at) < min(one.finished_at, two.finished_at)
    assert max(one.finished_at, two.finished_at) - min(one.started_at, two.started_at) < 2 * DELAY
    assert three.started_at >= max(one.finished_at, two.finished_at)
    assert store.authorizations == [f"Bearer {TOKEN}"] * 3  # the token went with each call


async def test_a_plan_takes_one_field_of_an_operations_record(
    service: tuple[str, PetStore],
) -> None:
    url, _ = service
    plan = "1. getPet(petId=2)\n2. petAge(petId=$1.id)\njoin()\n<END_OF_PLAN>"
    model = ScriptedModel([plan, FINISH.format("Tom is 7.")])
    async with Agent(model, tools=[pets(url)]) as agent:
        result = await agent.run("How old is Tom?")
    assert result.tasks[2].args == {"petId": 2}  # the record's id, not the record
    assert result.tasks[2].value == 7


async def test_http_errors_reach_the_joiner(service: tuple[str, PetStore]) -> None:
    url, _ = service
    plan = "1. getPet(petId=99)\n2. broken()\njoin()\n<END_OF_PLAN>"
    model = ScriptedModel([plan, FINISH.format("No such pet, and the service is down.")])
    async with Agent(model, tools=[pets(url)]) as agent:
        result = await agent.run("Tell me about pet 99")
    missing, broken = result.tasks[1], result.tasks[2]
    assert missing.state is TaskState.FAILED
    assert broken.state is TaskState.FAILED
    assert isinstance(missing.error, ToolError)
    assert isinstance(broken.error, ToolError)
    assert missing.error.message == 'HTTP 404 Not Found: {"error": "no pet 99"}'
    assert broken.error.message.startswith("HTTP 500 Internal Server Error")
    joiner_prompt = model.calls[1][-1]["content"]
    assert "HTTP 404 Not Found" in joiner_prompt
    assert "the database is on fire" in joiner_prompt


async def test_delete_and_post_need_approval(service: tuple[str, PetStore]) -> None:
    url, store = service
    asked: list[tuple[str, Mapping[str, object]]] = []

    def approve(tool: Tool, args: Mapping[str, object]) -> bool:
        asked.append((tool.name, dict(args)))
        return True

    async with ToolRegistry([pets(url)]) as tools:
        refused = await Agent(one_call("deletePet(petId=1)"), tools).run("delete Tom")
        assert refused.tasks[1].error is not None
        assert refused.tasks[1].error.kind == "refused"
        assert 1 in store.pets  # the request was never sent
        agent = Agent(one_call("deletePet(petId=1)"), tools, approve=approve)
        assert (await agent.run("delete Tom")).tasks[1].state is TaskState.SUCCEEDED
        agent = Agent(one_call('createPet(name="Bo", species="dog")'), tools, approve=approve)
        created = await agent.run("add a dog called Bo")
    assert 1 not in store.pets
    assert created.tasks[1].value == {"id": 3, "name": "Bo", "species": "dog"}
    assert asked == [("deletePet", {"petId": 1}), ("createPet", {"name": "Bo", "species": "dog"})]


async def test_flags_mark_an_operation_otherwise(service: tuple[str, PetStore]) -> None:
    url, _ = service
    source = OpenAPISource(
        f"{url}/openapi.json", bearer_env="PETS_TOKEN", flags={"createPet": {"destructive": False}}
    )
    async with ToolRegistry([source]) as tools:
        result = await Agent(one_call('createPet(name="Bo", species="cat")'), tools).run("add Bo")
    assert result.tasks[1].value == {"id": 3, "name": "Bo", "species": "cat"}


async def test_without_the_token_the_service_refuses(
    service: tuple[str, PetStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, store = service
    monkeypatch.delenv("PETS_TOKEN")
    async with ToolRegistry([pets(url)]) as tools:
        with pytest.raises(ToolError, match="HTTP 401"):
            await tools["petAge"].fn(petId=1)
    assert store.authorizations == [None]


async def test_a_spec_file_with_headers_and_a_base_url(
    service: tuple[str, PetStore], tmp_path: Path
) -> None:
    url, store = service
    store.pets[3] = {"id": 3, "name": "Ace", "species": "dog", "age": 1}
    spec = tmp_path / "pets.json"
    spec.write_text(json.dumps(SPEC))
    source = OpenAPISource(
        spec, base_url=f"{url}/api", headers={"Authorization": f"Bearer {TOKEN}"}, name="pets"
    )
    async with ToolRegistry([source]) as tools:
        assert await tools["listPets"].fn(species="dog", limit=1) == [
            {"id": 2, "name": "Rex", "species": "dog", "age": 7}
        ]
        assert tools["listPets"].metadata["source"] == "pets"
    assert len(tools) == 0
    assert store.authorizations == [f"Bearer {TOKEN}"]


async def test_a_tools_string_gives_a_spec_file_its_service_address(
    service: tuple[str, PetStore], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the spec's server is relative ("/api"): a file alone cannot say where it runs
    url, store = service
    monkeypatch.setenv("TOOLWEAVE_OPENAPI_TOKEN", TOKEN)
    spec = tmp_path / "pets.json"
    spec.write_text(json.dumps(SPEC))
    with pytest.raises(UserError, match=r"openapi:SPEC@URL"):
        async with registry_from_specs(f"openapi:{spec}"):
            pass
    async with registry_from_specs(f"openapi:{spec}@{url}/api") as tools:
        assert await tools["listPets"].fn(species="dog", limit=1) == [
            {"id": 2, "name": "Rex", "species": "dog", "age": 7}
        ]
    assert store.authorizations == [f"Bearer {TOKEN}"]


async def test_bad_specs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no OpenAPI spec at"):
        await OpenAPISource(tmp_path / "missing.json").open()
    with pytest.raises(UserError, match="not an OpenAPI 3 document"):
        await OpenAPISource({"swagger": "2.0", "paths": {}}).open()
    relative = {"openapi": "3.1.0", "info": {"title": "x"}, "paths": {}}
    with pytest.raises(UserError, match=r"openapi:SPEC@URL"):
        await OpenAPISource(relative).open()
    dangling = {
        "openapi": "3.1.0",
        "servers": [{"url": "http://127.0.0.1:9"}],
        "paths": {"/x": {"get": {"parameters": [{"$ref": "#/components/parameters/Nope"}]}}},
    }
    with pytest.raises(UserError, match="points nowhere"):
        await OpenAPISource(dangling).open()


async def test_a_large_spec_goes_through_the_retriever(service: tuple[str, PetStore]) -> None:
    url, _ = service
    topics = ["weather", "stocks", "flights", "recipes", "movies", "football", "music"]
    paths = {
        f"/{topic}/{n}": {
            "get": {
                "operationId": f"{topic}_{n}",
                "summary": f"Look up {topic} facts, part {n}.",
                "responses": {"200": {"description": "Facts."}},
            }
        }
        for topic in topics
        for n in range(6)
    }
    paths["/pets/{petId}/age"] = SPEC["paths"]["/pets/{petId}/age"]
    spec = {**SPEC, "paths": paths}
    source = OpenAPISource(spec, base_url=f"{url}/api", bearer_env="PETS_TOKEN")
    agent = Agent(ScriptedModel([]), tools=[source], decompose=False, top_k=5)
    async with agent:
        assert len(agent.tools) == 43
        offered, hits, _ = await agent.offered_tools("How old is my pet?")
    assert len(offered) == 5
    assert hits[0].tool.name == "petAge"
