"""HTTP errors of the decision service: which status each aturan error gets, the JSON body (the
same `errors.error_body` the CLI prints), and reading a request body without ever holding more
than the size limit.

400 malformed JSON or a bad query parameter · 404 unknown ruleset · 413 body or batch too large ·
415 a compressed body (Content-Encoding) · 422 facts that break the schema, or no ruleset version
in force · 500 only for the service's own faults, with no stack trace in the body."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..errors import (
    AturanError,
    Diagnostic,
    EngineError,
    FactsError,
    Location,
    SelectionError,
    error_body,
)
from ..runtime.decision import canonical_json


class RequestError(AturanError):
    """The HTTP request itself is unusable (size, shape of a batch, query parameters)."""

    kind = "bad_request"

    def __init__(self, status: int, code: str, message: str, pointer: str = "/",
                 kind: str = "bad_request"):
        super().__init__(Diagnostic(code, message, Location(pointer=pointer)))
        self.status = status
        self.kind = kind


def too_large(size: int, limit: int, exact: bool = True) -> RequestError:
    message = (f"request body is {size:,} bytes; the limit is {limit:,} bytes" if exact else
               f"request body is over the limit of {limit:,} bytes")
    return RequestError(413, "body-too-large", message, kind="too_large")


def status_for(exc: AturanError) -> int:
    """The HTTP status of an error: the caller's mistakes are 4xx, only our own faults 500."""
    codes = {d.code for d in exc.diagnostics}
    if isinstance(exc, RequestError):
        return exc.status
    if isinstance(exc, FactsError):
        if "json-too-large" in codes:
            return 413
        if any(code.startswith("json-") for code in codes):
            return 400
        return 422
    if isinstance(exc, SelectionError):
        return 404 if "unknown-ruleset" in codes else 422
    return 500  # EngineError, or a RulesetError at request time: not the caller's input


def kind_for(exc: AturanError) -> str:
    """A small fixed set of labels for the errors metric and the access log."""
    status = status_for(exc)
    if isinstance(exc, RequestError):
        return exc.kind
    if status == 400:
        return "malformed_json"
    if status == 413:
        return "too_large"
    if status == 404:
        return "unknown_ruleset"
    if isinstance(exc, EngineError):
        return "engine"
    return exc.kind if status == 422 else "internal"


def error_json(exc: AturanError) -> dict[str, Any]:
    """`error_body`, plus the line and column of a JSON syntax error inside the body."""
    body = error_body(exc)
    for entry, diagnostic in zip(body["errors"], exc.diagnostics):
        if diagnostic.location.line:
            entry["line"] = diagnostic.location.line
            entry["col"] = diagnostic.location.col
    return body


def headers_for(status: int) -> dict[str, str] | None:
    """After a 408 the rest of the body may still come: the connection cannot be reused (kept
    open, the late bytes were read as the next request, which timed out again)."""
    return {"connection": "close"} if status == 408 else None


def error_response(exc: AturanError) -> Response:
    status = status_for(exc)
    return Response(canonical_json(error_json(exc)), status_code=status,
                    media_type="application/json", headers=headers_for(status))


def internal_error() -> Response:
    """For a fault of the service itself: what happened goes to the log, not to the caller."""
    body = {"errors": [{"pointer": "/", "code": "internal",
                        "message": "internal error; the server log has the details"}],
            "kind": "internal"}
    return Response(canonical_json(body), status_code=500, media_type="application/json")


def http_error(status: int, code: str, message: str) -> Response:
    """Routing errors (unknown path, wrong method) in the same body shape as every other error."""
    body = {"errors": [{"pointer": "/", "code": code, "message": message}],
            "kind": code.replace("-", "_")}
    return Response(canonical_json(body), status_code=status, media_type="application/json")


class ClientDisconnected(Exception):
    """The client hung up before its request body arrived: no one to answer, and not a fault of
    the service (no traceback, not counted as `internal`)."""


def body_timeout(seconds: float) -> RequestError:
    return RequestError(408, "body-timeout", f"the request body did not arrive within "
                        f"{seconds:g} s; send it at once", kind="timeout")


async def read_body(request: Request, limit: int, timeout: float = 30.0) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit` bytes: a declared
    Content-Length over the limit is refused before reading, and a chunked body is counted as
    it arrives, so an oversized upload never sits in memory whole. A body that has not arrived
    within `timeout` seconds is refused with 408 (a client dripping bytes cannot hold a
    connection for ever); a client that hangs up raises `ClientDisconnected`."""
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity"):  # read as JSON it was "utf-8 codec can't decode 0x8b"
        raise RequestError(415, "unsupported-encoding", f"Content-Encoding {encoding} is not "
                           "read here: send the body as plain JSON (no Content-Encoding)",
                           kind="bad_request")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(int(declared), limit)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        try:
            message = await asyncio.wait_for(request.receive(), max(deadline - loop.time(), 0))
        except asyncio.TimeoutError:
            raise body_timeout(timeout) from None
        if message["type"] == "http.disconnect":
            raise ClientDisconnected()
        chunk = message.get("body", b"")
        more = message.get("more_body", False)
        size += len(chunk)
        if size > limit:
            raise too_large(size, limit, exact=False)
        chunks.append(chunk)
    if size == 0:
        raise FactsError(Diagnostic("json-empty", "the request body is empty; send the order "
                                    "facts as JSON", Location("<body>", 1, 1, "/")))
    return b"".join(chunks)


def bad_parameter(name: str, message: str) -> RequestError:
    return RequestError(400, "bad-parameter", f"query parameter `{name}`: {message}")
