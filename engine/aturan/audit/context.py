"""The request ids a decision log record carries, set by whoever received the request.

The HTTP service sets them from the `traceparent` (W3C Trace Context) and `x-request-id`
headers before deciding; the context variable travels with the request into the threadpool
that decides, so `Policies.decide` keeps its signature and the runtime knows nothing of HTTP."""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestIds:
    trace_id: str | None = None  # the 32 hex digits of a valid traceparent
    span_id: str | None = None  # its parent id: the caller's span
    request_id: str | None = None  # x-request-id as sent (at most 128 printable characters)

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("trace_id", self.trace_id), ("span_id", self.span_id),
                                  ("request_id", self.request_id)) if v is not None}


REQUEST_IDS: ContextVar[RequestIds | None] = ContextVar("aturan_request_ids", default=None)

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,128}$")


def request_ids(traceparent: str | None, request_id: str | None) -> RequestIds | None:
    """The ids of a request's headers; a malformed or all-zero traceparent (which the W3C
    spec says to ignore) and an unprintable or overlong x-request-id are left out."""
    trace = span = None
    if traceparent:
        match = _TRACEPARENT.match(traceparent.strip().lower())
        if match and match.group(1) != "ff" and set(match.group(2)) != {"0"} \
                and set(match.group(3)) != {"0"}:
            trace, span = match.group(2), match.group(3)
    rid = request_id.strip() if request_id else None
    if rid is not None and not _REQUEST_ID.match(rid):
        rid = None
    if trace is None and rid is None:
        return None
    return RequestIds(trace, span, rid)
