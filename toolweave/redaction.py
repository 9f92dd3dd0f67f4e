"""Secrets kept out of everything toolweave stores or exports: one mechanism, every sink.

Ground floor: imports nothing of toolweave.

The run log, the session store, telemetry spans and ``RunResult.to_json(redact=True)``
all call `redact_text` or `redact_value`; docs/redaction.md lists what each sink hides.
Three kinds of secret are replaced by `REDACTED`, wherever they appear:

- known values: what was given to `register_secret` (the API keys of models, the
  tokens and headers of tool sources), and the values of environment variables whose
  names say they hold one (``*_TOKEN``, ``*_SECRET``, ``*_PASSWORD``, ``*_KEY``,
  ``*CREDENTIALS*``), read when a sink writes (cached while ``os.environ`` is the same);
- the shapes of common credentials: OpenAI-style ``sk-`` keys, GitHub, Slack, AWS and
  Google ``AIza`` keys, JWTs, ``Bearer``/``Basic``/``token`` authorization values,
  private key blocks, and the password in a URL's userinfo;
- the values of fields named like secrets: ``password=``, ``pw=``, ``key=``,
  ``"token": ...``, ``api_key: ...``, a URL's ``?key=`` or ``&access_token=``, and in
  `redact_value` the values of dict keys so named (``{"pass": ...}``).

Redaction runs only when a sink writes; a run that has none never pays for it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import re
import threading
import urllib.parse
from collections.abc import Mapping
from typing import Any

__all__ = [
    "REDACTED",
    "is_secret_name",
    "redact_text",
    "redact_value",
    "register_credentials",
    "register_secret",
]

REDACTED = "[redacted]"
_MIN_SECRET = 6  # shorter values would hide ordinary words and numbers

# -- names -------------------------------------------------------------------------------

# A field's name says it holds a secret when it is one of these, ends in one of the
# strong words, ends in `<allowed>_key`, or ends in `_token` after anything but a word
# that makes it a count, a position or a marker (first_token, page_token, eos_token).
_SEP = r"[_\-.]?"
_WHOLE = r"pass|pw|pwd|key|token|auth"
_STRONG = (
    r"password|passwd|passphrase|secrets?|credentials?|authorization|cookie|api" + _SEP + "key"
)
_KEY_OF = (
    r"access|secret|private|auth|signing|client|encryption|decryption|master|license|licence"
    r"|subscription|service|app|account|consumer|session|webhook|hmac|ssh|gpg|pgp|deploy"
    r"|admin|root|shared|storage|sas|jwt|bot"
)
# fmt: off
_NOT_TOKEN = (
    "first", "last", "next", "prev", "previous", "max", "min", "num", "total", "start", "end",
    "stop", "eos", "bos", "pad", "unk", "sep", "cls", "mask", "special", "page", "continuation",
    "sync", "cursor", "input", "output", "new", "word", "sub",
)
# fmt: on
_TOKEN = "".join(rf"(?<!{w})(?<!{w}[_\-.])" for w in _NOT_TOKEN) + _SEP + "token"
_NAME = rf"(?:{_WHOLE}|[\w\-.]*?(?:{_STRONG}|(?:{_KEY_OF}){_SEP}key|{_TOKEN}))"
_NAME_RE = re.compile(_NAME, re.IGNORECASE)
_WEAK = {"key", "pass"}  # as words in prose: need `=`, or a quoted name, to count


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether a field, parameter or header so named holds a secret (``api_key``, ``pw``)."""
    return _NAME_RE.fullmatch(name.strip().replace(" ", "_")) is not None


# -- shapes in text ----------------------------------------------------------------------

# A field is found from its `=` or `:`: the name before it is read backwards (fields are
# few, text is long), and `is_secret_name` (cached) decides.
_SEPARATOR = re.compile(r"[=:]")
_NAME_BEFORE = re.compile(r"[ \t]*(?P<quote>[\"']\\?|)(?P<name>[\w\-.]{1,80})")  # reversed
_VALUE = re.compile(
    r"\s*(?P<scheme>(?:Bearer|Basic|Token|Bot|Digest|Negotiate|ApiKey|OAuth)\s+)?"
    # a quoted value may be cut short (by the end of the line or the text): it still counts
    r"(?P<value>\"(?:[^\"\\\n]|\\.)*(?:\"|$)|'(?:[^'\\\n]|\\.)*(?:'|$)"
    r"|\\\"(?:[^\"\\\n]|\\[^\"\n])*(?:\\\"|$)"
    r"|[^\s,;)}\]\"'<>\\]+)",
    re.IGNORECASE | re.MULTILINE,
)
_QUERY_VALUE = re.compile(r"[^&#\s\"'<>]+")  # in a URL, a parameter ends at `&`
_QUERY_ONLY = re.compile(r"sig|[\w\-.]*signature", re.IGNORECASE)
# a quoted "value" that is really the end of one string and the start of the next:
# `f(probe="pw=", pw="x")` reads `pw=` then `", pw="`; the real field comes after it
_DESYNC = re.compile(r"\s*[,)\]};].*[=:]", re.DOTALL)


def _fields(text: str) -> str:
    """`text` with the values of secret-named fields replaced."""
    out: list[str] = []
    done = pos = 0
    while separator := _SEPARATOR.search(text, pos):
        at = pos = separator.end()
        before = _NAME_BEFORE.match(text[max(0, at - 90) : at - 1][::-1])
        if before is None:
            continue
        name, quote = before.group("name")[::-1], before.group("quote")
        start = at - 1 - before.end()
        sep = separator.group()
        if start > 0 and text[start - 1] in "?&" and sep == "=":  # a URL's query parameter
            if is_secret_name(name) or _QUERY_ONLY.fullmatch(name):
                value = _QUERY_VALUE.match(text, at)
                if value:
                    out += [text[done:at], REDACTED]
                    done = pos = value.end()
            continue
        if not is_secret_name(name) or (name.lower() in _WEAK and not quote and sep == ":"):
            continue  # "the primary key: id" is prose
        value = _VALUE.match(text, at)
        if value is None:
            continue
        raw = value.group("value")
        opening = '\\"' if raw.startswith('\\"') else raw[0] if raw[0] in "\"'" else ""
        closed = len(raw) > len(opening) and raw.endswith(opening) if opening else False
        inner = raw[len(opening) : len(raw) - len(opening) if closed else None]
        if opening and _DESYNC.match(inner):
            continue
        out += [text[done : value.start("value")], opening, REDACTED, opening if closed else ""]
        done = pos = value.end()
    return "".join(out) + text[done:] if out else text


_SHAPES = re.compile(
    r"(?P<pem>-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.*?-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|.*))"
    # a scheme starts where no scheme character comes before it and is short: a long run
    # of `a.a.a.` would otherwise be tried from each of its dots (quadratic time)
    r"|(?P<userinfo>(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{0,31}://[^\s/?#@:]*:)"
    r"(?P<password>[^\s/?#]*)(?=@)"
    r"|(?P<basic>\b[Bb]asic\s+)(?P<b64>[A-Za-z0-9+/]{8,}={0,2})"
    r"|(?P<bearer>\b(?i:bearer)\s+)(?P<token>[A-Za-z0-9._~+/\-]{8,}=*)"
    r"|\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{16,}"  # OpenAI-style and similar keys
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}"  # GitHub
    r"|\bxox[abeprs]-[A-Za-z0-9\-]{10,}|\bxapp-[A-Za-z0-9\-]{10,}"  # Slack
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"  # AWS access key ids
    r"|\bAIza[0-9A-Za-z_\-]{35}"  # Google API keys
    r"|(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",  # JWTs
    re.DOTALL,
)


# substrings without which no shape can match: most text is passed over in one search
_TRIGGER = re.compile(
    r"-----BEGIN|://|asic|earer|EARER|[spr]k-|gh[pousr]_|github_pat_|xox|xapp-|A(?:KIA|SIA|Iza)|eyJ"
)
_SHORTEST = 8  # no shape is shorter ("a://b:c@")


def _shapes(text: str) -> str:
    if len(text) >= _SHORTEST and _TRIGGER.search(text):
        return _SHAPES.sub(_mask_shape, text)
    return text


def _mask_shape(match: re.Match[str]) -> str:
    if match.group("userinfo") is not None:
        return match.group("userinfo") + (REDACTED if match.group("password") else "")
    if match.group("basic") is not None:
        try:  # "Basic usage" is prose; base64 of "user:password" is a credential
            decoded = base64.b64decode(match.group("b64"), validate=True)
        except (binascii.Error, ValueError):
            return match.group(0)
        return match.group("basic") + REDACTED if b":" in decoded else match.group(0)
    if match.group("bearer") is not None:
        return match.group("bearer") + REDACTED
    return REDACTED


# -- known values ------------------------------------------------------------------------

_ENV_NAME = re.compile(
    r"(?:^|_)(?:TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIALS?|APIKEY)(?:_|$)"
    r"|_(?:KEY|PAT)$|^(?:KEY|PAT)$",
    re.IGNORECASE,
)
# the variable names a place or a setting that goes with a secret, not the secret
_ENV_NOT = re.compile(
    r"_(?:PATH|FILE|DIR|SOCK|URL|URI|ENDPOINT|HOST|PORT|TYPE|NAME|USER|USERNAME|TTL"
    r"|TIMEOUT|EXPIRY|MODE|ENABLED|LENGTH|ID)$",
    re.IGNORECASE,
)

_known: set[str] = set()
_lock = threading.Lock()
_version = 0  # bumped by register_secret: the cached pattern is rebuilt
_cache: tuple[int, frozenset[tuple[str, str]], re.Pattern[str] | None] = (-1, frozenset(), None)


def _forms(value: str) -> set[str]:
    """A secret as it may be written: as is, percent-encoded, JSON-escaped."""
    forms = {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}
    forms.add(value.replace("\\", "\\\\").replace('"', '\\"'))
    return {f for f in forms if len(f) >= _MIN_SECRET}


def register_secret(value: str | None) -> None:
    """Hide `value` wherever it appears in what toolweave stores (short ones are ignored).

    Whoever is given a credential (an API key, a bearer token, a header's value, a
    secret environment variable passed to a server) calls this.
    """
    global _version
    if value and len(value.strip()) >= _MIN_SECRET:
        with _lock:
            new = _forms(value.strip()) - _known
            if new:
                _known.update(new)
                _version += 1


def register_credentials(
    headers: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None
) -> None:
    """Register the credentials among what a source was given, by the sinks' rules.

    Headers count whose names `is_secret_name` (``Authorization``, ``X-API-Key``,
    ``Cookie``), environment variables whose names say secret (``GITHUB_TOKEN``). For
    ``Authorization: Bearer xyz``, both the whole value and ``xyz`` are registered.
    """
    values = [v for k, v in (headers or {}).items() if is_secret_name(k)]
    values += [v for k, v in (env or {}).items() if _secret_variable(k)]
    for value in values:
        register_secret(value)
        scheme, _, rest = value.strip().partition(" ")
        if rest.strip() and scheme.isalpha():
            register_secret(rest.strip())


@functools.lru_cache(maxsize=1024)
def _secret_variable(name: str) -> bool:
    return _ENV_NAME.search(name) is not None and _ENV_NOT.search(name) is None


_environ: tuple[int, frozenset[tuple[str, str]]] = (0, frozenset())


def _env_secrets() -> frozenset[tuple[str, str]]:
    """The secret variables now: read at each redaction, cheaply.

    The environment is fingerprinted by its raw items (no decoding), and read again
    only when that changes; variable names are judged once each.
    """
    global _environ
    raw = getattr(os.environ, "_data", None)  # CPython's bytes mapping behind os.environ
    fingerprint = hash(frozenset(raw.items())) if isinstance(raw, dict) else 0
    if fingerprint and fingerprint == _environ[0]:
        return _environ[1]
    found = frozenset(
        (name, value)
        for name, value in os.environ.items()
        if _secret_variable(name) and len(value) >= _MIN_SECRET
    )
    _environ = (fingerprint, found)
    return found


def _known_pattern() -> re.Pattern[str] | None:
    """One pattern for every known value; rebuilt when they change."""
    global _cache
    env = _env_secrets()
    version, cached_env, pattern = _cache
    if version == _version and cached_env == env:
        return pattern
    with _lock:
        values = set(_known)
        version = _version
    for _, value in env:
        values |= _forms(value)
    ordered = sorted(values, key=len, reverse=True)  # a longer secret before its prefix
    pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
    _cache = (version, env, pattern)
    return pattern


def _text(text: str, known: re.Pattern[str] | None) -> str:
    if known is not None:
        text = known.sub(REDACTED, text)
    return _shapes(_fields(text) if "=" in text or ":" in text else text)


def redact_text(text: str) -> str:
    """`text` with every known secret, credential shape and secret field's value replaced."""
    return _text(text, _known_pattern())


def redact_value(value: Any) -> Any:
    """A copy of JSON-like `value` with secrets hidden.

    Strings are redacted as by `redact_text`; the value of a dict key named like a
    secret (``password``, ``key``, ``access_token``) is replaced whole, whatever its
    type (`None`, booleans and empty strings are kept); tuples become lists. Anything
    else that is not JSON (a dataclass a tool returned) becomes its redacted text.
    """
    return _value(value, _known_pattern())


def _blank(value: object) -> bool:
    """Nothing to hide: no value, an empty text, a flag."""
    return (
        value is None or value is True or value is False or (isinstance(value, str) and not value)
    )


@functools.lru_cache(maxsize=4096)
def _key(name: str, known: re.Pattern[str] | None) -> str:
    """A dict key, redacted (keys repeat: each is looked at once per set of secrets)."""
    return _text(name, known)


def _value(value: Any, known: re.Pattern[str] | None) -> Any:
    # the common types first: an ABC's isinstance check is slow
    if isinstance(value, str):
        return _text(value, known)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [_value(item, known) for item in value]
    if isinstance(value, dict) or isinstance(value, Mapping):  # noqa: SIM101
        out: dict[Any, Any] = {}
        for key, item in value.items():
            name = key if isinstance(key, str) else str(key)
            hidden = is_secret_name(name) and not _blank(item)
            out[_key(name, known) if isinstance(key, str) else key] = (
                REDACTED if hidden else _value(item, known)
            )
        return out
    if isinstance(value, set | frozenset):
        return [_value(item, known) for item in value]
    return _text(str(value), known)
