"""One connection to an MCP server, owned by a background task, reconnected once.

The SDK's transports belong to the task that opens them, so a task of their own holds
the connection: it connects, lists (through a callback), relists when the server says
its tools changed (it listens only where the server says it announces changes). After a
drop, the first call that wants the connection asks for a new one and waits for it; if
that one attempt fails, the link gives up (its calls fail as unavailable) rather than
retry without end. Connecting and listing have deadlines: a server that never answers
cannot hold the owner, or a call waiting for it, forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import mcp_types
from mcp import Client
from mcp.client.subscriptions import ListenNotSupportedError, Subscription, SubscriptionLost
from mcp.shared.exceptions import MCPError

__all__ = ["Link", "Opener"]

Opener = Callable[[AsyncExitStack, Callable[[str], None]], Awaitable[Any]]
"""Enters what a transport needs on the stack and returns the transport for `Client`.

The transport is given a callback to say why, when it ends the connection itself.
"""


class Link:
    """A shared connection to one server.

    Args:
        opener: Makes the transport.
        on_list: Called with the client after connecting and after each list change;
            it lists the tools.
        connect_timeout: Seconds to connect and list, each time.
        list_timeout: Seconds for a listing after a change (`None`: no limit).
    """

    def __init__(
        self,
        opener: Opener,
        on_list: Callable[[Client], Awaitable[None]],
        *,
        connect_timeout: float,
        list_timeout: float | None,
    ) -> None:
        self._opener = opener
        self._on_list = on_list
        self._connect_timeout = connect_timeout
        self._list_timeout = list_timeout
        self.trouble: str | None = None
        """Why the transport ended the connection itself (since the last connection)."""
        self._group: asyncio.TaskGroup | None = None
        self._owner: asyncio.Task[None] | None = None
        self._client: Client | None = None
        self._generation = 0
        self.down: BaseException | None = None
        """Why the link gave up (the reconnection failed), if it did."""
        self._closing = self._renew = self._stale = self._lost = self._idle = False
        self._wake = asyncio.Event()
        self._state = asyncio.Condition()

    async def open(self) -> None:
        """Connect and list; raise what went wrong (`TimeoutError` past the deadline)."""
        if self._group is not None:
            return
        self._closing = self._renew = self._stale = self._lost = self._idle = False
        self.down = None
        self._wake, self._state = asyncio.Event(), asyncio.Condition()  # this loop's
        group = asyncio.TaskGroup()
        await group.__aenter__()
        self._group = group
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._owner = group.create_task(self._own(ready))
        try:
            await asyncio.shield(ready)
        except BaseException:
            await self.aclose()
            if ready.done() and not ready.cancelled():
                ready.exception()  # retrieved: the caller raises it
            raise

    async def aclose(self) -> None:
        """Close the connection (a stdio server stops) and wait for the owner to end."""
        group, self._group = self._group, None
        if group is None:
            return
        self._closing = True
        self._wake.set()
        if self._client is None and self._owner is not None:
            self._owner.cancel()  # still connecting, or gave up: nothing to close gently
        await group.__aexit__(None, None, None)
        self._owner = None

    async def connection(self) -> tuple[Client, int] | None:
        """The client and its generation once connected; `None` if closed or given up.

        After a drop, the first call to want the connection asks for the reconnection.
        """
        async with self._state:
            if self._idle:
                self._ask_renew()
            await self._state.wait_for(lambda: self._client is not None or self._settled)
            return (self._client, self._generation) if self._client is not None else None

    async def reconnect(self, generation: int) -> None:
        """After a drop seen on `generation`: ask for a new connection, wait for it."""
        if generation == self._generation:
            self._ask_renew()
        async with self._state:
            await self._state.wait_for(lambda: self._generation > generation or self._settled)

    @property
    def _settled(self) -> bool:
        return self.down is not None or self._group is None or self._closing

    def _ask_renew(self) -> None:
        self._renew = True
        self._wake.set()

    # -- the owner task -----------------------------------------------------------------

    async def _own(self, ready: asyncio.Future[None]) -> None:
        while True:
            connected = False
            try:
                async with (
                    asyncio.timeout(self._connect_timeout) as deadline,
                    self._connect() as (client, changes),
                ):
                    await self._on_list(client)
                    deadline.reschedule(None)
                    self._client, connected, self.trouble = client, True, None
                    await self._announce(self._generation + 1)
                    if not ready.done():
                        ready.set_result(None)
                    await self._serve(client, changes)
            except Exception as exc:  # the connection failed to open, or broke
                if not ready.done():
                    ready.set_exception(exc)
                    return
                if not connected:  # the one reconnection failed: give up
                    self.down = exc
                    await self._announce(self._generation)
                    return
            finally:
                self._client = None
            # dropped: wait for a call to want the connection (a server that restarts
            # has until then), then try once
            self._idle = True
            while not (self._renew or self._closing):
                await self._wake.wait()
                self._wake.clear()
            self._idle = self._renew = self._lost = False
            if self._closing:
                return

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[tuple[Client, Subscription | None]]:
        """A connected client, subscribed to list changes where the protocol has that.

        The subscription starts before the first listing, so no change is missed.
        Earlier protocols notify changes through the message handler instead.
        """
        async with AsyncExitStack() as stack:
            transport = await self._opener(stack, self._note)
            client = Client(transport, message_handler=self._on_message, cache=None)
            await stack.enter_async_context(client)
            changes: Subscription | None = None
            tools = client.server_capabilities.tools
            if tools is not None and tools.list_changed:  # else it may not know `listen`
                try:
                    listen = client.listen(tools_list_changed=True)
                    changes = await stack.enter_async_context(listen)
                except ListenNotSupportedError:
                    pass  # an earlier protocol: changes come as notifications
                except MCPError as exc:  # it said it announces changes, yet cannot
                    if exc.code != mcp_types.METHOD_NOT_FOUND:
                        raise
            yield client, changes

    def _note(self, trouble: str) -> None:
        self.trouble = trouble

    async def _serve(self, client: Client, changes: Subscription | None) -> None:
        """Wait for work: a list to refresh, a reconnection, or the end."""
        async with asyncio.TaskGroup() as group:
            follower = group.create_task(self._follow(changes)) if changes else None
            try:
                while True:
                    await self._wake.wait()
                    self._wake.clear()
                    if self._closing or self._renew or self._lost:
                        return
                    if self._stale:
                        self._stale = False
                        async with asyncio.timeout(self._list_timeout):  # past it: a drop
                            await self._on_list(client)
            finally:
                if follower is not None:
                    follower.cancel()

    async def _follow(self, changes: Subscription) -> None:
        try:
            async for _ in changes:
                self._relist_soon()
        except (SubscriptionLost, MCPError, anyio.ClosedResourceError):
            self._lost = True  # the connection is gone
            self._wake.set()

    async def _on_message(self, message: object) -> None:
        if isinstance(message, mcp_types.ToolListChangedNotification):
            self._relist_soon()

    def _relist_soon(self) -> None:
        self._stale = True
        self._wake.set()

    async def _announce(self, generation: int) -> None:
        async with self._state:
            self._generation = generation
            self._state.notify_all()
