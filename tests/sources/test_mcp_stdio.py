"""The stdio transport's line reader: linear, bounded, and the same for any chunking."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("mcp")

from toolweave.sources._mcp_stdio import LineSplitter, Oversized, response_id, size_text

KEEP = 4096  # bytes of each end an oversized line keeps

pieces = st.one_of(
    st.binary(max_size=40),
    st.sampled_from([b"\n", b"\r\n", b"\n\n", b'{"jsonrpc": "2.0"}', b"y" * 5000, b"\xff\xfe"]),
)


def expected(data: bytes, limit: int) -> list[bytes | Oversized]:
    """What splitting `data` at once must give (a last line without its end is kept back)."""
    out: list[bytes | Oversized] = []
    for line in data.split(b"\n")[:-1]:
        if len(line) > limit:
            out.append(Oversized(len(line), line[:KEEP], line[-KEEP:]))
        else:
            out.append(line.removesuffix(b"\r"))
    return out


@given(
    st.lists(pieces, max_size=30),
    st.lists(st.integers(0, 10_000), max_size=8),
    st.integers(1, 6000),
)
def test_any_chunking_gives_the_lines_of_the_whole(
    parts: list[bytes], cuts: list[int], limit: int
) -> None:
    data = b"".join(parts)
    splitter = LineSplitter(limit)
    got: list[bytes | Oversized] = []
    start = 0
    for cut in sorted(c % (len(data) + 1) for c in cuts):
        got += splitter.feed(data[start:cut])
        start = cut
    got += splitter.feed(data[start:])
    assert got == expected(data, limit)


def test_a_long_line_is_kept_to_its_ends_only() -> None:
    splitter = LineSplitter(100)
    line = b"<" + b"x" * 1_000_000 + b">"
    chunks = [line[i : i + 65536] for i in range(0, len(line), 65536)]
    out = [item for chunk in chunks for item in splitter.feed(chunk)]
    assert out == []
    (over,) = splitter.feed(b"\nnext")
    assert isinstance(over, Oversized)
    assert over.size == len(line)
    assert over.head == line[:KEEP]
    assert over.tail == line[-KEEP:]
    assert splitter.feed(b"\n") == [b"next"]


@pytest.mark.parametrize(
    ("message", "rid"),
    [
        ({"jsonrpc": "2.0", "id": 7, "result": {"x": {"id": 99}}}, 7),  # Python: id first
        ({"result": {"content": [], "id": 98}, "jsonrpc": "2.0", "id": 8}, 8),  # JavaScript
        ({"id": "req-9", "jsonrpc": "2.0", "error": {"code": 1, "message": "m"}}, "req-9"),  # Go
        ({"jsonrpc": "2.0", "id": 3, "method": "sampling/createMessage", "params": {}}, None),
        ({"method": "notifications/progress", "params": {"id": 4}, "jsonrpc": "2.0"}, None),
        ({"params": {}, "jsonrpc": "2.0", "id": 5, "method": "ping"}, None),
    ],
)
def test_the_request_a_response_answers_is_found_at_either_end(
    message: dict[str, object], rid: object
) -> None:
    line = json.dumps(message).encode()
    assert response_id(line[:KEEP], line[-KEEP:]) == rid
    padded = line.replace(b'"content": []', b'"content": ["' + b"z" * 10 * KEEP + b'"]')
    assert response_id(padded[:KEEP], padded[-KEEP:]) == rid


def test_sizes_in_words() -> None:
    assert [size_text(n) for n in (0, 512, 1536, 16 << 20, 3 << 30)] == [
        "0 bytes",
        "512 bytes",
        "1.5 KiB",
        "16 MiB",
        "3 GiB",
    ]
