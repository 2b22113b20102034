"""uvicorn's httptools protocol with the guards a public server needs and uvicorn lacks:

* a header time-out: a new connection must deliver its first request's headers within
  `header_timeout` seconds of opening, and a keep-alive connection the next request's headers
  within `header_timeout` of that request's first byte, else 408 (or closed, if it sent
  nothing) — uvicorn times out only idle keep-alive connections, so a client dripping a byte a
  second, or never sending at all, held its connection (and a file descriptor) for ever. An
  idle keep-alive connection is left to uvicorn's keep-alive time-out: were the header clock
  started at the previous response, it would close idle connections after `header_timeout`
  whatever `--keep-alive-timeout` says, and a pooled client reusing one at that moment loses
  its request (the keep-alive race: a server's idle time-out must be longer than its clients');
* a connection limit: past `max_connections` open connections a new one is answered 503 and
  closed at once, instead of holding a descriptor until it times out;
* protocol-level errors (unparseable HTTP) answered with the service's JSON error body instead
  of uvicorn's plain text.

The body time-out is the app's (`errors.read_body`): only it knows a body is being waited for.
`aturan serve` passes `guarded(...)` as uvicorn's `http` protocol class.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..runtime.decision import canonical_json
from . import logs

_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 503: b"Service Unavailable"}


def _error_bytes(status: int, code: str, message: str, kind: str) -> bytes:
    body = canonical_json({"errors": [{"pointer": "/", "code": code, "message": message}],
                           "kind": kind}).encode("utf-8")
    head = (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n" % (status, _REASONS[status], len(body)))
    return head + body


class GuardedProtocol(HttpToolsProtocol):
    """One connection, as uvicorn's, plus the header time-out and the connection limit."""

    def __init__(self, *args: Any, header_timeout: float = 10.0, max_connections: int = 1000,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self._header_timer: asyncio.TimerHandle | None = None
        self._heard = False  # any byte of the awaited request's headers received
        self._between_requests = False  # keep-alive, idle: the header clock starts on a byte

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            logs.event("connection-refused", logging.WARNING, reason="max-connections",
                       limit=self.max_connections)
            transport.write(_error_bytes(503, "too-many-connections", "the server has "
                                         f"{self.max_connections:,} connections open; retry "
                                         "later", "overloaded"))
            transport.close()
            return
        self._await_headers()

    def _await_headers(self) -> None:
        self._cancel_header_timer()
        self._heard = False
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        logs.event("client-timeout", logging.INFO, phase="headers", heard=self._heard,
                   seconds=self.header_timeout)
        if self._heard:  # a request was started: say why it ends
            self.transport.write(_error_bytes(408, "header-timeout", "the request headers did "
                                              f"not arrive within {self.header_timeout:g} s",
                                              "timeout"))
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._between_requests:  # the next request's first bytes: its headers' clock starts
            self._between_requests = False
            self._await_headers()
        if self._header_timer is not None:
            self._heard = True
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        idle = self.cycle is None or self.cycle.response_complete  # no pipelined request
        if idle and not self.transport.is_closing():
            self._between_requests = True  # idle: uvicorn's keep-alive time-out applies

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        self._cancel_header_timer()
        self.transport.write(_error_bytes(400, "bad-http", "the request is not HTTP/1.1 this "
                                          f"server can read ({msg})", "bad_request"))
        self.transport.close()


def guarded(header_timeout: float, max_connections: int) -> Any:
    """The protocol factory for uvicorn's `http=` (a partial: picklable for worker processes)."""
    return functools.partial(GuardedProtocol, header_timeout=header_timeout,
                             max_connections=max_connections)
