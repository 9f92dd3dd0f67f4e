"""One field of a result: ``$1.price``, from the plan's text to the call's arguments."""

from __future__ import annotations

import dataclasses
from typing import TypedDict

import pydantic
import pytest
import typing_extensions

from toolweave import Agent, TaskState, Tool, ToolRegistry, tool
from toolweave.models.testing import ScriptedModel
from toolweave.plan import (
    FieldError,
    PlanError,
    PlanTask,
    Ref,
    Template,
    decode_arg,
    encode_arg,
    parse_plan,
    plan_grammar,
)
from toolweave.planner import planner_messages


class Quote(TypedDict):
    ticker: str
    price_usd: float


@tool(read_only=True)
def stock_price(ticker: str) -> Quote:
    """Latest price of a stock in USD."""
    prices = {"AAPL": 227.5, "NVDA": 131.4}
    return {"ticker": ticker, "price_usd": prices[ticker]}


@tool(read_only=True)
def multiply(a: float, b: float) -> float:
    """a times b."""
    return a * b


@tool(read_only=True)
def file_name(stem: str) -> str:
    """A file name."""
    return stem


@tool(read_only=True)
def read(path: str) -> str:
    """Read a file."""
    return f"read {path}"


TOOLS = ToolRegistry([stock_price, multiply, file_name, read])


def test_the_parser_reads_fields_keys_and_indexes_of_a_ref() -> None:
    text = (
        '1. stock_price(ticker="AAPL")\n'
        "2. multiply(a=$1.price_usd, b=0.92)\n"
        '3. multiply(a=$1["price_usd"], b=$2)\n'
        "4. multiply(a=${1}.items[0].price, b=$2[-1])\n"
        '5. read(path="$1.price_usd and $1.50 and $1.items[2]")\n'
    )
    tasks = parse_plan(text, TOOLS)
    assert all(isinstance(t, PlanTask) for t in tasks)
    assert tasks[1].args["a"] == Ref(1, ("price_usd",))
    assert tasks[2].args["a"] == Ref(1, ("price_usd",))
    assert tasks[3].args == {"a": Ref(1, ("items", 0, "price")), "b": Ref(2, (-1,))}
    path = tasks[4].args["path"]
    assert path == Template(
        (Ref(1, ("price_usd",)), " and ", Ref(1), ".50 and ", Ref(1, ("items", 2)))
    )
    assert tasks[3].call_text() == "multiply(a=$1.items[0].price, b=$2[-1])"
    assert str(Ref(1, ("price-usd", 0))) == '$1["price-usd"][0]'


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        ("multiply(a=$1[x], b=1)", "literal key or index"),
        ("multiply(a=$1[True], b=1)", "literal key or index"),
        ("multiply(a=foo.bar, b=1)", "only a ref has fields"),
        ("multiply(a=$1.price(), b=1)", "not allowed"),
    ],
)
def test_the_parser_rejects_what_is_not_a_path(call: str, reason: str) -> None:
    items = parse_plan(f'1. stock_price(ticker="AAPL")\n2. {call}\n', TOOLS)
    assert isinstance(items[1], PlanError)
    assert reason in items[1].reason


def test_refs_with_paths_are_kept_in_a_saved_run() -> None:
    value = {"a": Ref(1, ("items", 0)), "t": Template(("x ", Ref(2, ("name",))))}
    assert decode_arg(encode_arg(value)) == value
    assert encode_arg(Ref(3)) == {"$ref": 3}  # a whole ref is written as before


def test_a_missing_field_says_what_the_result_has() -> None:
    values = {1: {"ticker": "AAPL", "price_usd": 227.5}, 2: [1, 2], 3: "report"}
    assert Ref(1, ("price_usd",)).pick(values) == 227.5
    with pytest.raises(
        FieldError, match=r"\$1 has no field 'price'; its fields: ticker, price_usd"
    ):
        Ref(1, ("price",)).pick(values)
    with pytest.raises(FieldError, match=r"\$2 has no item \[5\]: it is a list of 2"):
        Ref(2, (5,)).pick(values)
    with pytest.raises(FieldError, match=r"\$3 has no field 'name': it is text"):
        Ref(3, ("name",)).pick(values)
    # inside a string, a path the value does not have was text: "$3.txt" is "report.txt"
    assert Template((Ref(3, ("txt",)),)).render(values) == "report.txt"


async def test_a_plan_multiplies_one_field_of_a_result() -> None:
    model = ScriptedModel(
        [
            '1. stock_price(ticker="AAPL")\n2. multiply(a=$1.price_usd, b=2)\n'
            '3. file_name(stem="notes")\n4. read(path="$3.txt")\n'
            "5. multiply(a=$1.price, b=2)\n"
            '6. multiply(a="$1", b=$1)\njoin()\n',
            "Action: Finish(455.0)",
        ]
    )
    result = await Agent(model, TOOLS).run("Two AAPL shares in USD?")
    assert result.tasks[2].value == 455.0
    # a quote, as its tool declares it, holds one number: a number parameter takes it
    assert result.tasks[6].value == 227.5 * 227.5
    assert result.tasks[4].value == "read notes.txt"
    failed = result.tasks[5]
    assert failed.state is TaskState.FAILED
    assert failed.error is not None
    assert failed.error.kind == "invalid_arguments"
    assert "$1 has no field 'price'; its fields: ticker, price_usd" in failed.error.message
    assert "$1 has no field 'price'" in model.calls[1][-1]["content"]  # the joiner reads why


class Weather(TypedDict):
    city: str
    celsius: float
    humidity: float


@tool(read_only=True)
def weather(city: str) -> Weather:
    """Current weather in a city."""
    return {"city": city, "celsius": 4.0, "humidity": 81.0}


@tool(read_only=True)
def fahrenheit(celsius: float) -> float:
    """Celsius to Fahrenheit."""
    return celsius * 9 / 5 + 32


@tool(read_only=True)
def forecast(city: str) -> str:
    """Tomorrow's forecast."""
    return f"mild in {city}"


async def test_a_declared_record_gives_the_field_named_like_the_parameter() -> None:
    model = ScriptedModel(
        [
            '1. weather(city="Oslo")\n2. fahrenheit(celsius=$1)\n3. forecast(city=$1)\n'
            "4. multiply(a=$1, b=2)\njoin()\n",
            "Action: Finish(39.2 F)",
        ]
    )
    result = await Agent(model, [weather, fahrenheit, forecast, multiply]).run("Oslo in F?")
    assert result.tasks[2].args == {"celsius": 4.0}
    assert result.tasks[2].value == 39.2
    assert result.tasks[3].value == "mild in Oslo"  # not the record's JSON text
    failed = result.tasks[4].error  # two numbers, neither named a: not guessed
    assert failed is not None
    assert "$1 is a record (city, celsius, humidity), not a number" in failed.message
    assert "as $1.<field>" in failed.message


class Ext(typing_extensions.TypedDict):  # what pydantic asks for before 3.12
    name: str


class Rate(pydantic.BaseModel):
    base: str
    rate: float


@dataclasses.dataclass
class Place:
    name: str
    population: int


def test_tools_declare_the_fields_of_their_results() -> None:
    @tool
    def rate(base: str) -> Rate:
        """A rate."""
        return Rate(base=base, rate=1.0)

    @tool
    def place(name: str) -> Place:
        """A place."""
        return Place(name, 1)

    @tool
    def plain(name: str) -> dict[str, float]:
        """No declared fields."""
        return {}

    spec = Tool.from_schema(
        "get_user",
        "A user.",
        {"type": "object", "properties": {"id": {"type": "string"}}},
        return_schema={
            "type": "object",
            "properties": {"name": {"type": "string"}, "tags": {"type": "array"}},
        },
    )

    @tool
    def ext(name: str) -> Ext:
        """typing_extensions' TypedDict."""
        return {"name": name}

    assert ext.output_fields == {"name": "str"}
    assert stock_price.output_fields == {"ticker": "str", "price_usd": "float"}
    assert rate.output_fields == {"base": "str", "rate": "float"}
    assert place.output_fields == {"name": "str", "population": "int"}
    assert plain.output_fields == {}
    assert spec.output_fields == {"name": "str", "tags": "list"}
    assert stock_price.signature() == "stock_price(ticker: str) -> {ticker: str, price_usd: float}"
    assert plain.signature() == "plain(name: str) -> dict[str, float]"
    # an attribute of a model or dataclass result is a field too
    assert Ref(1, ("rate",)).pick({1: Rate(base="USD", rate=0.9)}) == 0.9
    assert Ref(1, ("population",)).pick({1: Place("Oslo", 709_000)}) == 709_000


def test_the_planner_is_told_how_to_take_a_field() -> None:
    system = planner_messages("q", list(TOOLS))[0]["content"]
    assert "stock_price(ticker: str) -> {ticker: str, price_usd: float}" in system
    assert "gives one of them as $N.field: x=$1.ticker" in system
    without = planner_messages("q", [multiply, read])[0]["content"]
    assert "$N.field" not in without


def test_the_grammar_lets_a_ref_name_a_declared_field() -> None:
    grammar = plan_grammar(TOOLS, first_id=1)
    one = 'stock_price(ticker="AAPL")'
    assert grammar.accepts(f"1. {one}\n2. multiply(a=$1.price_usd, b=$1.price_usd)\njoin()")
    assert grammar.accepts(f"1. {one}\n2. multiply(a=$1[0], b=2)\njoin()")
    assert not grammar.accepts(f"1. {one}\n2. multiply(a=$1.price, b=2)\njoin()")
    assert grammar.accepts(f'1. {one}\n2. read(path="$1.anything")\njoin()')  # text
    # no offered tool declares fields: no path, as before
    plain = plan_grammar([multiply, read], first_id=1)
    assert not plain.accepts('1. read(path="a")\n2. multiply(a=$1.price_usd, b=2)\njoin()')
