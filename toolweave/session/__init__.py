"""Conversations: earlier turns carried into the next run, kept in SQLite.

A turn keeps the request, the answer and, compactly, the values its tasks produced.
The next run's planner sees them (the requests and answers as a preamble, the values as
earlier results it may name with ``$N``: task ids go on across turns), so a follow-up
("and Italy?") can refer to the conversation and reuse a value without calling again.
What the planner sees is bounded by a token budget: the oldest turns go first.

Several writers may share a conversation (two processes, two web workers, two
`Session` objects on one id): a run reads the turns from the store when it starts, so
it sees the others' turns; a turn is appended in one write transaction that gives it
its index and, where another writer stored the same task ids first, fresh ids (see
`toolweave.session._numbering`), so that no `$N` ever names two values. Runs on one `Session`
take turns. What is stored is redacted (`toolweave.redaction`): a later turn sees
``[redacted]`` where a secret was. The database is private (0600, `toolweave.storage`).

```python
chat = agent.session()                  # a new conversation, saved in SQLite
await chat.run("What is the population of France?")
await chat.run("And twice that?")       # the plan can use $1 from the first turn
agent.session(chat.id)                  # later, elsewhere: the same conversation
```

Layer: above `planner`, `fetcher` and `result`; a `Session` runs its turns through a
`Runner` (the Agent is one) and never imports the agent.
"""

from toolweave.session._session import Runner, Session, TurnContext
from toolweave.session._store import SessionInfo, SessionStore, Turn, default_path

__all__ = [
    "Runner",
    "Session",
    "SessionInfo",
    "SessionStore",
    "Turn",
    "TurnContext",
    "default_path",
]
