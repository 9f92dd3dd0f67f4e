"""Secrets kept out of every sink: one mechanism (toolweave.redaction), issue 29 item 10."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from toolweave import Agent, RunResult, ToolRegistry, tool
from toolweave.cli._runlog import RunLog
from toolweave.models.testing import ScriptedModel
from toolweave.redaction import REDACTED, redact_text, redact_value, register_secret

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0"
    ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n"
    "4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u\n"
    "-----END RSA PRIVATE KEY-----"
)

# (text with a secret in it, the secret)
SHAPES = [
    ("use sk-proj-4f9a8b7c6d5e4f3a2b1c0d9e8f7a", "sk-proj-4f9a8b7c6d5e4f3a2b1c0d9e8f7a"),
    (
        "token ghp_16C7e42F292c6912E7710c838347Ae178B4a here",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    ),
    (
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
    ),
    (
        "slack xoxb-123456789012-1234567890123-AbCdEfGhIjKl",
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKl",
    ),
    ("aws AKIAIOSFODNN7EXAMPLE ok", "AKIAIOSFODNN7EXAMPLE"),
    (
        "maps key AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY!",
        "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
    ),
    (f"jwt {JWT}.", JWT),
    ("Authorization: Bearer abc.DEF-123_456~xyz", "abc.DEF-123_456~xyz"),
    ("authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"),
    ("curl -H 'Authorization: token 0123456789abcdef0123'", "0123456789abcdef0123"),
    (f"key file:\n{PEM}\nend", "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo"),
    (
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC (cut)",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
    ),
    ("login pw=hunter2 ok", "hunter2"),
    ("login pwd=hunter2 ok", "hunter2"),
    ("pass=hunter2", "hunter2"),
    ("password = 'correct horse battery'", "correct horse battery"),
    ('{"password": "s3cr3t-value"}', "s3cr3t-value"),
    ("{'api_key': 'k-12345678'}", "k-12345678"),
    ('f(key="k-12345678")', "k-12345678"),
    ("secret=abcdef123", "abcdef123"),
    ("token=abcdef123&x=1", "abcdef123"),
    ("DB_PASSWORD=hunter2 ./run", "hunter2"),
    ("clientSecret: 9f8e7d6c5b", "9f8e7d6c5b"),
    ("X-Api-Key: 0123abcd", "0123abcd"),
    ("postgres://app:pa55word@db.internal:5432/prod", "pa55word"),
    ("redis://:r3d1spw@cache:6379/0", "r3d1spw"),
    ("https://user:p@ss@host/path", "p@ss"),
    ("GET https://api.example.com/v1?key=abc123def&q=paris failed", "abc123def"),
    ("https://x.io/cb?code=1&access_token=tok-987654&state=2", "tok-987654"),
    ("https://s3/obj?X-Amz-Signature=deadbeef0123&X-Amz-Credential=AK%2F1", "deadbeef0123"),
    ('{\\"password\\": \\"inner-secret\\"}', "inner-secret"),
    ("config.password=hunter2", "hunter2"),
]

# text that looks a little like a secret and must stay as it is
ORDINARY = [
    "The primary key: id",
    "f(first_token=3, sort_key='name', max_tokens=128)",
    "next_page_token=abc123",
    "Thought: the password policy needs 12 characters.",
    "https://example.com/path?q=paris&page=2",
    "Basic usage of the API",
    "pass the salt, please",
    "a key idea",
    "ssh://git@github.com/org/repo.git",
    "68,000,000 people",
    "task-12345678 and ask-me-anything",
    '$1 = population(country="France") -> 68,000,000',
]


@pytest.mark.parametrize(("text", "secret"), SHAPES, ids=[s for _, s in SHAPES])
def test_key_shapes_and_secret_fields_in_text_are_hidden(text: str, secret: str) -> None:
    out = redact_text(text)
    assert secret not in out
    assert REDACTED in out


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_kept(text: str) -> None:
    assert redact_text(text) == text


def test_what_surrounds_a_secret_is_kept() -> None:
    assert redact_text("postgres://app:pw9876@db/prod") == f"postgres://app:{REDACTED}@db/prod"
    assert redact_text("see https://h/x?key=abc123&page=2") == (
        f"see https://h/x?key={REDACTED}&page=2"
    )
    assert redact_text('call(api_key="k-123", city="Paris")') == (
        f'call(api_key="{REDACTED}", city="Paris")'
    )
    assert redact_text("Authorization: Bearer abcdefgh12345") == (
        f"Authorization: Bearer {REDACTED}"
    )


def test_registered_secrets_are_hidden_wherever_they_appear() -> None:
    register_secret("Zq7-opaque-credential-91")
    register_secret("abc")  # too short to hide safely: ignored
    text = "it said Zq7-opaque-credential-91 twice: Zq7-opaque-credential-91, abc"
    assert redact_text(text) == f"it said {REDACTED} twice: {REDACTED}, abc"
    # as it appears in a URL, percent-encoded
    register_secret("p@ss/word+1")
    assert "p%40ss" not in redact_text("https://h/?q=p%40ss%2Fword%2B1")


def test_secret_environment_variables_are_read_at_redaction_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert redact_text("value opaque-env-value-1") == "value opaque-env-value-1"
    monkeypatch.setenv("MY_SERVICE_TOKEN", "opaque-env-value-1")
    assert redact_text("value opaque-env-value-1") == f"value {REDACTED}"
    monkeypatch.setenv("MY_SERVICE_TOKEN", "opaque-env-value-2")
    assert redact_text("value opaque-env-value-2") == f"value {REDACTED}"
    monkeypatch.setenv("WAREHOUSE_PASSWORD", "quiet-river-77")
    monkeypatch.setenv("SOME_CREDENTIALS", "cred-blob-4242")
    monkeypatch.setenv("SSH_AUTH_SOCK", "/tmp/ssh-agent.sock")  # a path, not a secret
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "parallel-false")  # not a token
    text = "quiet-river-77 cred-blob-4242 /tmp/ssh-agent.sock parallel-false"
    assert redact_text(text) == f"{REDACTED} {REDACTED} /tmp/ssh-agent.sock parallel-false"


def test_redact_value_hides_secret_fields_keeps_the_rest() -> None:
    value = {
        "pass": "hunter2",
        "key": "k-1",
        "pw": 1234,
        "apiKey": "x",
        "Authorization": "Bearer y",
        "credentials": {"user": "u", "secret": "s"},
        "nested": [{"refresh_token": "r"}, ("db_password", "not a field: kept")],
        "first_token_at": 1.5,
        "prompt_tokens": 3,
        "sort_key": "name",
        "tokenizer": "bpe",
        "key_count": 4,
        "enabled": True,
        "token": None,
        "url": "https://u:pw-in-url@h/",
    }
    out = redact_value(value)
    assert out == {
        "pass": REDACTED,
        "key": REDACTED,
        "pw": REDACTED,
        "apiKey": REDACTED,
        "Authorization": REDACTED,
        "credentials": REDACTED,
        "nested": [{"refresh_token": REDACTED}, ["db_password", "not a field: kept"]],
        "first_token_at": 1.5,
        "prompt_tokens": 3,
        "sort_key": "name",
        "tokenizer": "bpe",
        "key_count": 4,
        "enabled": True,
        "token": None,
        "url": f"https://u:{REDACTED}@h/",
    }
    assert value["pass"] == "hunter2"  # a copy: the input is left alone


def test_a_secret_as_a_dict_key_is_hidden() -> None:
    register_secret("key-as-a-name-0001")
    assert redact_value({"key-as-a-name-0001": 1}) == {REDACTED: 1}


# -- every sink --------------------------------------------------------------------------

REGISTERED = "reg-opaque-9f8e7d6c"  # an API key given to a model or a source
ENV_SECRET = "env-opaque-1a2b3c4d"
PLANTED = [
    REGISTERED,
    ENV_SECRET,
    "hunter2pw",
    "passvalue9",
    "keyvalue77",
    "pa55word",
    "qkey12345",
    "qtok98765",
    "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
    "sk-abcdefghijklmnopqrstuv",
]


@tool(read_only=True)
def connect(dsn: str, pw: str = "") -> dict[str, str]:
    """Connect to a database and fetch the service's keys."""
    return {"status": "ok", "pass": "passvalue9", "key": "keyvalue77", "dsn": dsn}


@tool(read_only=True)
def fetch(url: str) -> str:
    """Fetch a URL."""
    raise RuntimeError(f"GET {url}?key=qkey12345&token=qtok98765 failed: 403 ({ENV_SECRET})")


def _planted_run(monkeypatch: pytest.MonkeyPatch) -> RunResult:
    monkeypatch.setenv("ACME_API_TOKEN", ENV_SECRET)
    register_secret(REGISTERED)
    plan = (
        '1. connect(dsn="postgres://app:pa55word@db/prod", pw="hunter2pw")\n'
        '2. fetch(url="https://maps.example.com/v1")\n'
        "join()\n<END_OF_PLAN>"
    )
    model = ScriptedModel(
        [
            plan,
            f"Thought: used AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY.\nAction: Finish({REGISTERED})",
        ]
    )
    agent = Agent(model, ToolRegistry([connect, fetch]))
    return agent.run_sync("connect with sk-abcdefghijklmnopqrstuv please")


def _leaks(text: str) -> list[str]:
    return [secret for secret in PLANTED if secret in text]


def test_run_log_keeps_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _planted_run(monkeypatch)
    assert result.tasks[1].value["pass"] == "passvalue9"  # the run itself is not redacted
    RunLog(tmp_path / "runs.sqlite").add(result, "scripted")
    with sqlite3.connect(tmp_path / "runs.sqlite") as db:
        dump = "\n".join(db.iterdump())
    assert _leaks(dump) == []
    assert "maps.example.com" in dump  # what is not secret is kept


async def test_session_store_keeps_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_API_TOKEN", ENV_SECRET)
    register_secret(REGISTERED)
    plan = (
        '1. connect(dsn="postgres://app:pa55word@db/prod", pw="hunter2pw")\njoin()\n<END_OF_PLAN>'
    )
    model = ScriptedModel(
        [plan, f"Action: Finish({REGISTERED} AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY)"]
    )
    chat = Agent(model, ToolRegistry([connect])).session(store=tmp_path / "s.sqlite")
    await chat.run(f"connect, key {ENV_SECRET} and sk-abcdefghijklmnopqrstuv")
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        dump = "\n".join(db.iterdump())
    assert _leaks(dump) == []
    assert "db/prod" in dump
    # what a later turn sees is what was stored: the secret's place, not the secret
    (turn,) = chat.turns
    assert turn.results[0].value == {
        "status": "ok",
        "pass": REDACTED,
        "key": REDACTED,
        "dsn": f"postgres://app:{REDACTED}@db/prod",
    }


def test_a_whole_run_result_survives_redaction(monkeypatch: pytest.MonkeyPatch) -> None:
    result = _planted_run(monkeypatch)
    data = redact_value(result.to_dict())
    assert _leaks(json.dumps(data)) == []
    back = RunResult.from_dict(data)  # still a run's state: every field where it was
    assert back.status == result.status
    assert sorted(back.tasks) == sorted(result.tasks)
    assert back.usage == result.usage
    assert [p.task_ids for p in back.plans] == [p.task_ids for p in result.plans]
    assert data["tasks"][1]["error_kind"] == "exception"
    assert data["usage"] == result.to_dict()["usage"]


@pytest.mark.parametrize(
    ("piece", "tail"),
    [("a.", "://x"), ("eyJ-", ""), ("=", "://x"), ("a:", "@"), ('"key": "', ""), ("x:", "\n")],
)
@pytest.mark.slow  # 1 MB inputs: about 10 s in all
def test_hostile_text_is_redacted_in_linear_time(piece: str, tail: str) -> None:
    """A long run that a pattern could start matching at every character (found by review:
    1 MB of ``a.a.a.`` before ``://`` took about 13 minutes)."""
    import time

    text = piece * (1_000_000 // len(piece)) + tail
    started = time.perf_counter()
    redact_text(text)
    assert time.perf_counter() - started < 20  # quadratic: minutes; linear: about a second


def test_sources_register_credentials_by_the_sinks_rules() -> None:
    """Found by review: a looser rule in the MCP source hid AUTHOR_NAME and KEYBOARD_LAYOUT
    values from every sink."""
    from toolweave.redaction import register_credentials

    register_credentials(
        {"Authorization": "Bearer tok-3f9a1c2e77", "X-Request-Source": "nightly-batch"},
        {
            "AUTHOR_NAME": "Ada Lovelace",
            "KEYBOARD_LAYOUT": "us-intl",
            "DEPLOY_TOKEN": "dt-81f2c9aa",
        },
    )
    shown = redact_text(
        "Ada Lovelace typed on us-intl for nightly-batch with tok-3f9a1c2e77 and dt-81f2c9aa"
    )
    assert shown == (
        "Ada Lovelace typed on us-intl for nightly-batch with [redacted] and [redacted]"
    )
