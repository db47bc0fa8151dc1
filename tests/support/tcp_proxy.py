"""A TCP proxy a test can cut and restore: the database "goes down" for the app behind it
while the shared server itself keeps running (tests must never stop it)."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.engine import make_url


class CuttableProxy:
    """Forwards 127.0.0.1:<port> to `upstream`. `cut()` closes every open connection and
    refuses new ones (accepted, then closed at once, as a server that is going down does);
    `restore()` forwards again."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.down = self.stalled = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> CuttableProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url_for(self, database_url: str) -> str:
        """The database URL with its host and port replaced by the proxy's."""
        return make_url(database_url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    def cut(self) -> None:
        self.down = True
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def stall(self) -> None:
        """As `cut`, but new connections are accepted and never answered (a network
        partition, or a server too busy to accept)."""
        self.cut()
        self.stalled = True

    def restore(self) -> None:
        self.down = self.stalled = False

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.stalled:
            self._writers.add(writer)  # held open, unanswered, until cut or closed
            return
        if self.down:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._writers -= {writer, up_writer}
            for each in (writer, up_writer):
                each.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
