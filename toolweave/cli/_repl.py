"""``toolweave repl``: ask, watch the plan run live, cancel with Ctrl-C, approve inline.

The prompt (prompt_toolkit) and the live panel (rich) never share the terminal: the
prompt returns before a run starts, and a question asked during a run (an approval,
``ask_user``) stops the panel, prompts, then resumes it.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from rich.console import Console
from rich.live import Live
from rich.text import Text

from toolweave.agent import Agent, RunEvents
from toolweave.cli._render import RunView, print_result
from toolweave.cli._repl_state import ReplState
from toolweave.cli._runlog import RunLog, state_dir
from toolweave.cli._safe import clean, one_line, redact_text
from toolweave.cli._slash import COMMANDS, run_command
from toolweave.errors import ToolweaveError
from toolweave.events import Event, RunFinished
from toolweave.models import LocalModel, Model, resolve_model
from toolweave.plan import format_call
from toolweave.result import RunResult
from toolweave.retrieval import Retriever
from toolweave.session import Session as Conversation
from toolweave.storage import private_file
from toolweave.tools import Tool, ToolRegistry

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

__all__ = ["Repl", "history_file"]


class _Completer(Completer):
    """Slash commands at the start of the line; tool names after /tools."""

    def __init__(self, tools: ToolRegistry) -> None:
        self.tools = tools

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterator[Completion]:
        text = document.text_before_cursor
        if text.startswith("/tools "):
            word = document.get_word_before_cursor()
            for name in self.tools.names:
                if name.startswith(word):
                    yield Completion(name, start_position=-len(word))
        elif text.startswith("/") and " " not in text:
            for name, command in COMMANDS.items():
                if name.startswith(text):
                    yield Completion(name, start_position=-len(text), display_meta=command.help)


class Repl:
    """The interactive loop.

    Args:
        console: Where output goes.
        model: The model string or model.
        tools: The tools.
        examples: Plan examples for these tools, if any.
        index_path: Where the retriever of a large registry keeps its index (what
            /learn teaches included).
        vi: Vi key bindings instead of Emacs ones.
        log: Where runs are logged.
        resume: Continue the stored conversation with this id.
        tracer_provider: Where the runs' OpenTelemetry spans go.
    """

    def __init__(
        self,
        console: Console,
        model: Model | str,
        tools: ToolRegistry,
        *,
        examples: str | None = None,
        index_path: Path | None = None,
        vi: bool = False,
        log: RunLog | None = None,
        resume: str | None = None,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self.console = console
        self.tools = tools
        self.examples = examples
        self.index_path = index_path
        self.search_index: Retriever | None = None  # /tools' own, when the agent has none
        self.log = log or RunLog()
        self.state = ReplState()  # what the slash commands read; the conversation is `chat`
        self.live: Live | None = None
        self._asking = asyncio.Lock()
        self.prompt: PromptSession[str] = PromptSession(
            history=history_file(),
            completer=_Completer(tools),
            complete_while_typing=True,
            vi_mode=vi,
            key_bindings=_newline_bindings(),
        )
        self.tracer_provider = tracer_provider
        self.agent = self._agent(resolve_model(model))
        self.chat: Conversation = self.agent.session(resume)
        if resume is not None:
            self.state.requests.extend(turn.request for turn in self.chat.turns)

    def _agent(self, model: Model, retriever: Retriever | None = None) -> Agent:
        return Agent(
            model,
            self.tools,
            retriever=retriever,
            index_path=self.index_path,
            examples=self.examples,
            approve=self._approve,
            ask_user=self._ask_user,
            tracer_provider=self.tracer_provider,
        )

    def new_conversation(self) -> None:
        """Start over: the next request sees no earlier turn."""
        self.chat = self.agent.session(store=self.chat.store)
        self.state = ReplState()

    async def run(self) -> int:
        """Prompt, run, repeat; returns the exit code."""
        self.console.print(
            Text.assemble(
                ("toolweave", "bold"),
                f" · {self.agent.model.name} · {len(self.tools)} tools · ",
                ("/help", "cyan"),
                " for commands · Ctrl-C cancels a run · Ctrl-D exits",
            )
        )
        if self.chat.turns:
            self.console.print(
                Text(f"conversation {self.chat.id}: {len(self.chat.turns)} earlier turns", "dim")
            )
        if isinstance(self.agent.model, LocalModel):
            with self.console.status("loading the local model"):
                await self.agent.model.load()
        interrupted = False
        while True:
            try:
                text = await self.prompt.prompt_async("toolweave> ")
            except KeyboardInterrupt:
                if interrupted:
                    break
                interrupted = True
                self.console.print(Text("(Ctrl-C again or Ctrl-D to exit)", "dim"))
                continue
            except EOFError:
                break
            interrupted = False
            text = text.strip()
            if not text:
                continue
            if text.startswith("/"):
                if not await run_command(self, text):
                    break
                continue
            self.state.requests.append(text)
            await self.ask(text)
        self.agent.close()
        self.console.print(Text(f"conversation: toolweave repl --resume {self.chat.id}", "dim"))
        return 0

    async def ask(self, request: str) -> RunResult | None:
        """Run one request with the live panel; Ctrl-C cancels it and returns here."""
        loop = asyncio.get_running_loop()
        async with asyncio.TaskGroup() as group:
            run = group.create_task(self._run(request))
            loop.add_signal_handler(signal.SIGINT, run.cancel)
            try:
                await asyncio.wait([run])
            finally:
                loop.remove_signal_handler(signal.SIGINT)
        return None if run.cancelled() else run.result()

    async def _run(self, request: str) -> RunResult | None:
        view = RunView(max_rows=max(8, self.console.size.height - 6))
        events: list[Event] = []
        result: RunResult | None = None
        error: ToolweaveError | None = None
        self.state.last_view, self.state.last_events = view, events
        cancelled = False
        run: RunEvents | None = None
        with Live(view, console=self.console, refresh_per_second=8) as live:
            self.live = live
            try:
                async with self.chat.stream(request) as stream:
                    run = stream
                    async for event in stream:
                        events.append(event)
                        view.handle(event)
                        if isinstance(event, RunFinished):  # Live redraws 8 times a second
                            view.status = ""
                            live.refresh()
            except ToolweaveError as exc:
                error = exc
            except asyncio.CancelledError:  # Ctrl-C: the run's calls are all cancelled now
                cancelled = True
                current = asyncio.current_task()
                if current is not None:
                    current.uncancel()
            finally:
                self.live = None
                result = run.result if run is not None else None
        if cancelled:
            self.console.print(Text("cancelled: every tool call of the run was stopped", "yellow"))
        elif error is not None:
            self.console.print(Text(f"{type(error).__name__}: {clean(error)}", "red"))
        if result is not None:
            if result.answer is not None and not cancelled:
                print_result(self.console, result)
            self.state.last = result
            self.state.results.append(result)
            self.log.add(result, self.agent.model.name)
        return result

    # -- questions during a run -----------------------------------------------------

    async def _question(self, text: str) -> str:
        async with self._asking:  # parallel tasks ask one at a time
            live = self.live
            if live is not None:
                live.stop()
            try:
                return await self.prompt.prompt_async(text)
            except (KeyboardInterrupt, EOFError):
                return ""
            finally:
                if live is not None:
                    live.start()

    async def _approve(self, tool: Tool, args: Mapping[str, object]) -> bool:
        answer = await self._question(f"run {one_line(format_call(tool.name, args), 2000)}? [y/N] ")
        return answer.strip().lower() in ("y", "yes")

    async def _ask_user(self, question: str) -> str:
        return await self._question(f"{clean(question, 2000)}\n? ")

    def switch_model(self, name: str) -> None:
        """Use another model from now on."""
        model = resolve_model(name)
        self.agent.close()
        self.agent = self._agent(model, self.agent.retriever)  # what it learned, kept


class _RedactedHistory(FileHistory):
    """The prompt's history file, with secrets replaced before writing."""

    def store_string(self, string: str) -> None:
        super().store_string(redact_text(string))


def history_file() -> FileHistory:
    """The REPL's history: ``state_dir() / "history"``, private (0600 in a 0700 directory).

    The file is made (or tightened) here: prompt_toolkit appends to it with `open`,
    which keeps the mode of a file that exists.
    """
    return _RedactedHistory(str(private_file(state_dir() / "history")))


def _newline_bindings() -> KeyBindings:
    """Enter submits; Escape then Enter (or Alt-Enter) inserts a newline."""
    bindings = KeyBindings()

    @bindings.add("escape", "enter")
    def _(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    return bindings
