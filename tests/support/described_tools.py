"""Tools known by their words alone (name, description, parameters), for retrieval tests."""

from __future__ import annotations

from toolweave import Tool


def described(name: str, description: str, **params: str) -> Tool:
    props = {k: {"type": "string", "description": v} for k, v in params.items()}
    return Tool.from_schema(name, description, {"type": "object", "properties": props})


TOOLS = [
    described(
        "get_weather_forecast",
        "Weather forecast for a city: temperature, rain, wind.",
        city="The city",
    ),
    described(
        "book_hotel",
        "Reserve a hotel room for given dates.",
        city="Where",
        nights="How many nights",
    ),
    described(
        "convert_currency", "Convert an amount of money between currencies.", amount="Amount"
    ),
    described("translate_text", "Translate text from one language into another.", text="Text"),
    described(
        "search_flights", "Find airline flights between two airports.", origin="From", dest="To"
    ),
    described("stock_price", "Current share price of a listed company.", ticker="Stock ticker"),
    described("send_email", "Send an email message to a recipient.", to="Address", body="Text"),
    described("play_music", "Play a song or playlist on the speaker.", song="Song title"),
]
