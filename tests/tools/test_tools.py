from __future__ import annotations

import asyncio
import functools
from typing import Literal

import pytest

from toolweave import Agent, TaskState, Tool, ToolError, ToolRegistry, UserError, tool
from toolweave.models.testing import ScriptedModel


@tool(read_only=True, timeout=3, max_concurrency=2)
async def search(query: str, limit: int = 5, lang: Literal["en", "fr"] | None = None) -> list[str]:
    """Search the web.

    Longer description line.

    Args:
        query: What to look for. It may span
            two lines.
        limit: How many results.
        lang (str): Language filter.

    Returns:
        The matching titles.
    """
    return [query] * limit


def test_tool_from_function() -> None:
    assert search.name == "search"
    assert search.description == "Search the web.\n\nLonger description line."
    assert search.returns == "The matching titles."
    assert search.read_only
    assert search.timeout == 3
    assert search.max_concurrency == 2
    assert search.is_async
    assert search.parameter_names == ("query", "limit", "lang")
    assert search.required_names == {"query"}
    props = search.parameters["properties"]
    assert props["query"]["description"] == "What to look for. It may span two lines."
    assert props["lang"]["description"] == "Language filter."
    assert search.signature() == (
        'search(query: str, limit: int = 5, lang: Literal["en", "fr"] | None = None) -> list[str]'
    )


def test_openai_strict_schema() -> None:
    schema = search.json_schema()
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["query", "limit", "lang"]
    assert schema["properties"]["limit"]["type"] == ["integer", "null"]
    assert "default" not in schema["properties"]["limit"]
    entry = search.to_openai()
    assert entry["type"] == "function"
    assert entry["function"]["strict"] is True
    assert entry["function"]["name"] == "search"


def test_validation_names_the_argument() -> None:
    assert search.validate({"query": "x", "limit": "3"}) == {"query": "x", "limit": 3, "lang": None}
    with pytest.raises(ToolError) as info:
        search.validate({"query": "x", "limit": "many", "extra": 1})
    err = info.value
    assert err.kind == "invalid_arguments"
    assert "argument 'limit'" in err.message
    assert "unexpected argument 'extra'" in err.message
    assert err.arguments == {"query": "x", "limit": "many", "extra": 1}
    with pytest.raises(ToolError, match="missing argument 'query'"):
        search.validate({})


def test_bare_decorator_and_direct_call() -> None:
    @tool
    def double(x: int) -> int:
        return 2 * x

    assert double(4) == 8
    assert not double.is_async
    assert double.description == ""


def test_bad_definitions_are_user_errors() -> None:
    with pytest.raises(UserError, match="type annotation"):

        @tool
        def untyped(x):  # type: ignore[no-untyped-def]
            return x

    with pytest.raises(UserError, match="named parameter"):

        @tool
        def star(*args: int) -> None:
            pass

    with pytest.raises(UserError, match="identifier"):
        Tool("has space")
    with pytest.raises(UserError, match="identifier"):
        Tool("join")
    with pytest.raises(UserError, match="both"):
        Tool("x", read_only=True, destructive=True)


def test_retryable_only_when_safe() -> None:
    assert Tool("a", read_only=True, retries=2).retryable
    assert Tool("b", idempotent=True, retries=2).retryable
    assert not Tool("c", retries=2).retryable
    assert not Tool("d", idempotent=True, destructive=True, retries=2).retryable
    assert not Tool("e", read_only=True).retryable


def test_from_schema() -> None:
    weather = Tool.from_schema(
        "weather",
        "Current weather.",
        {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["C", "F"]},
            },
            "required": ["city"],
        },
    )
    assert weather.fn is None
    assert weather.parameter_names == ("city", "unit")
    assert weather.required_names == {"city"}
    assert weather.signature() == 'weather(city: str, unit: Literal["C", "F"] = None)'
    assert weather.validate({"city": "Paris"}) == {"city": "Paris"}
    with pytest.raises(ToolError, match="'unit'") as info:
        weather.validate({"city": "Paris", "unit": "K"})
    assert info.value.kind == "invalid_arguments"
    with pytest.raises(ToolError) as info:
        weather(city="Paris")
    assert info.value.kind == "unavailable"
    strict = weather.to_openai()["function"]
    assert strict["strict"] is True
    assert strict["parameters"]["properties"]["unit"] == {
        "anyOf": [{"type": "string", "enum": ["C", "F"]}, {"type": "null"}]
    }


def test_partials_and_callable_objects_as_tools() -> None:
    # Found by probing: tool(functools.partial(...)) raised AttributeError (__name__)
    def convert(amount: float, currency: str, api_key: str) -> str:
        """Convert an amount of euros.

        Args:
            amount: Euros.
            currency: The currency to convert to.
            api_key: The service's key.
        """
        return f"{amount} EUR in {currency} (key {api_key[:2]}...)"

    converter = tool(read_only=True)(functools.partial(convert, api_key="sk-secret"))
    assert converter.name == "convert"
    assert converter.signature() == "convert(amount: float, currency: str) -> str"
    assert converter.description == "Convert an amount of euros."
    with pytest.raises(ToolError, match="unexpected argument 'api_key'"):
        converter.validate({"amount": 1, "currency": "USD", "api_key": "mine"})
    model = ScriptedModel(
        ['1. convert(amount=5, currency="USD")\njoin()\n<END_OF_PLAN>', "Action: Finish(ok)"]
    )
    result = Agent(model, [converter]).run_sync("5 euros in dollars?")
    assert result.tasks[1].value == "5.0 EUR in USD (key sk...)"
    assert "sk-secret" not in str(model.calls)

    class Doubler:
        """Double a number."""

        def __call__(self, x: int) -> int:
            return 2 * x

    with pytest.raises(UserError, match="give the tool one"):
        tool(Doubler())
    double = tool(name="double")(Doubler())
    assert (double.signature(), double.description, double(x=4)) == (
        "double(x: int) -> int",
        "Double a number.",
        8,
    )

    class Fetcher:
        async def __call__(self, url: str) -> str:
            """Fetch a page."""
            await asyncio.sleep(0)
            return f"<html>{url}</html>"

    fetch = tool(name="fetch", read_only=True)(Fetcher())
    assert fetch.is_async  # awaited on the loop, not run on a thread as a coroutine
    model = ScriptedModel(['1. fetch(url="a")\njoin()\n<END_OF_PLAN>', "Action: Finish(ok)"])
    assert Agent(model, [fetch]).run_sync("get a").tasks[1].value == "<html>a</html>"


def test_parameters_a_plan_cannot_name_are_offered_as_identifiers() -> None:
    # Found by probing: JSON schemas (OpenAI tools, MCP servers) allow `user-name` or
    # OData's `$top`, and no plan line could pass them (`f(user-name="x")` is no call).
    received: list[dict[str, object]] = []

    async def lookup(**arguments: object) -> str:
        received.append(arguments)
        return "ok"

    schema = {
        "type": "object",
        "properties": {
            "user-name": {"type": "string"},
            "user_name": {"type": "string"},
            "$top": {"type": "integer"},
            "2fa": {"type": "string"},
        },
        "required": ["user-name", "$top"],
    }
    users = Tool.from_schema("users", "Find users.", schema, lookup, read_only=True)
    assert users.signature() == (
        "users(user_name_: str, user_name: str = None, top: int, p_2fa: str = None)"
    )
    assert users.required_names == {"user_name_", "top"}
    plan = '1. users(user_name_="ada", top=2, p_2fa="123456")\njoin()\n<END_OF_PLAN>'
    model = ScriptedModel([plan, "Thought: done.\nAction: Finish(ok)"])
    result = Agent(model, [users]).run_sync("find ada")
    assert result.tasks[1].state is TaskState.SUCCEEDED
    assert received == [{"user-name": "ada", "$top": 2, "2fa": "123456"}]
    with pytest.raises(ToolError, match="top"):
        users.validate({"user_name_": "ada"})


def test_none_for_an_optional_parameter_that_takes_no_null_means_unset() -> None:
    """The signature shows such a parameter as `= None`; a plan that writes it runs."""
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["C", "F"]},
            "note": {"type": ["string", "null"]},
            "days": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "extra": {},
        },
        "required": ["city"],
    }
    weather = Tool.from_schema("weather", "Current weather.", schema)
    given = {"city": "Oslo", "unit": None, "note": None, "days": None, "extra": None}
    assert weather.validate(given) == {"city": "Oslo", "note": None, "days": None, "extra": None}
    with pytest.raises(ToolError, match="'city'"):  # a required one is never dropped
        weather.validate({"city": None})
    # a function's parameter with a default takes that default; an Optional one takes None
    assert search.validate({"query": "q", "limit": None, "lang": None}) == {
        "query": "q",
        "limit": 5,
        "lang": None,
    }


def test_free_form_object_is_not_strict() -> None:
    loose = Tool.from_schema(
        "loose", "x", {"type": "object", "properties": {"o": {"type": "object"}}}
    )
    assert "strict" not in loose.to_openai()["function"]


def test_registry() -> None:
    registry = ToolRegistry([search])
    assert "search" in registry
    assert registry["search"] is search
    assert len(registry) == 1
    with pytest.raises(UserError, match="already registered"):
        registry.add(search)
    with pytest.raises(KeyError, match="did you mean search"):
        registry["serch"]
    with pytest.raises(UserError, match="expected a Tool"):
        registry.add(lambda: None)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="decorate functions with @tool"):
        ToolRegistry([len])  # type: ignore[list-item]
    registry.remove("search")
    assert len(registry) == 0


def test_registry_holds_many_tools() -> None:
    registry = ToolRegistry(
        Tool.from_schema(f"tool_{i}", f"Tool number {i}.", {"type": "object"})
        for i in range(20_000)
    )
    assert len(registry) == 20_000
    assert registry["tool_19999"].description == "Tool number 19999."


def test_a_published_spec_with_capitalised_type_names_still_validates() -> None:
    # AutoTools' food API writes "String"; every call failed with "Unknown type" before
    search = Tool.from_schema(
        "search_menu_items",
        "Search menu items.",
        {
            "type": "object",
            "properties": {
                "query": {"type": "String", "description": "The search query."},
                "number": {"type": "Integer"},
                "type": {"type": "Widget"},  # names no JSON type: anything goes
            },
            "required": ["query"],
        },
    )
    assert search.validate({"query": "pasta", "number": 2, "type": [1]}) == {
        "query": "pasta",
        "number": 2,
        "type": [1],
    }
    with pytest.raises(ToolError, match="number"):
        search.validate({"query": "pasta", "number": "two"})


@pytest.mark.parametrize(
    "prop",
    [{"type": 7}, {"$ref": "#/nowhere"}],
)
def test_a_schema_that_cannot_check_a_call_refuses_it(prop: dict[str, object]) -> None:
    ran: list[object] = []
    broken = Tool.from_schema(
        "broken", "d", {"type": "object", "properties": {"a": prop}}, lambda **k: ran.append(k)
    )
    with pytest.raises(ToolError) as caught:
        broken.validate({"a": {"a": 1}})
    assert caught.value.kind == "unavailable"
    assert "parameter schema cannot check a call" in str(caught.value)
    assert ran == []
