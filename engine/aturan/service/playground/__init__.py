"""`aturan serve --playground`: the page at `/playground` and its API under `/v1/playground/`.

`POST /v1/playground/{validate,decide,why-not,test,lint,diff,sample}` take a ruleset's YAML
text (and facts or cases text) and answer from a `Policies` of their own, built in a sandbox
process (`sandbox.py`) and thrown away after: the served rulesets are never replaced or
touched, nothing is read from or written to disk for a request, and bad input is a 4xx with
every error located in the text it is in. `GET /v1/playground/bootstrap` lists the served
versions with their texts and example orders, for the page to start from.

The page itself is static files in `static/` (no build step, no CDN), served with a Content
Security Policy that allows nothing but this origin: no inline script, no eval."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import stat
import traceback
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from ...errors import AturanError
from ...language.project import rulesets_of
from ...language.repository import CASES_DIR, discover
from ...resources import bundled_dir
from ...runtime.decision import canonical_json
from ...runtime.jsonio import parse_json
from ..errors import headers_for, read_body, status_for
from ..holder import PolicyHolder
from ..logs import event
from .requests import FIELDS, INTERNAL, Limits, PlaygroundError, parse_request
from .sandbox import Sandbox, TimeLimits

STATIC = Path(__file__).resolve().parent / "static"
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
EXAMPLES_FILE = "orders.jsonl"
TEXT_BYTES = 1024 * 1024


def _json(status: int, body: Any) -> Response:
    return Response(canonical_json(body), status_code=status, media_type="application/json",
                    headers=headers_for(status))


def _read_text(path: Path, root: Path | None = None) -> str | None:
    """A regular file's UTF-8 text, None for anything else. Under `root` (the served
    rulesets folder), only a file that is inside it once links are followed, as the loader
    reads rulesets (`symlink-outside-root`): a `cases/` file linked to /etc/passwd was served
    to anyone who asked for the page's bootstrap. Opened without blocking and checked to be a
    regular file, so a FIFO or a device there is skipped instead of hanging the request."""
    try:
        if root is not None and not path.resolve().is_relative_to(root.resolve()):
            return None
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (OSError, RuntimeError):  # RuntimeError: a loop of links
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > TEXT_BYTES:
            return None
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(TEXT_BYTES + 1)
        return data.decode("utf-8") if len(data) <= TEXT_BYTES else None
    except (OSError, UnicodeDecodeError):
        return None
    finally:
        os.close(fd)


def served_texts(holder: PolicyHolder) -> list[dict[str, Any]]:
    """The served versions with their YAML text and case file text, from the folder the
    service loaded (never a path a request names). A file edited since it was loaded has
    `served: false`: its text is not what decides."""
    files = {display: path for path, display in discover([holder.root])}
    root = rulesets_of(holder.root)
    out = []
    for rs in holder.policies.collection.versions:
        path = files.get(rs.path)
        text = _read_text(path, root) if path else None
        digest = "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest() if text else None
        cases = _read_text(path.parent / CASES_DIR / path.name, root) if path else None
        out.append({"key": rs.key, "name": rs.name, "version": rs.version, "file": rs.path,
                    "extends": rs.extends, "text": text, "served": digest == rs.digest,
                    "cases": cases})
    return out


def example_orders() -> list[dict[str, Any]]:
    """The bundled example orders (examples/orders.jsonl), each as pretty JSON text."""
    text = _read_text(bundled_dir("examples") / EXAMPLES_FILE) or ""
    out = []
    for line in text.splitlines():
        try:
            facts = json.loads(line)
            order = facts["order"]
            out.append({"id": order["id"], "platform": order["platform"],
                        "label": f"{order['id']} · {order['platform']} · {order['status']} · "
                                 f"{facts['request']['type']} by {facts['request']['by']}",
                        "text": json.dumps(facts, indent=2, ensure_ascii=False) + "\n"})
        except (ValueError, KeyError, TypeError):
            continue
    return out


def add_playground(app: FastAPI, holder: PolicyHolder, limits: Limits | None = None,
                   times: TimeLimits | None = None, body_timeout: float = 30.0) -> Sandbox:
    """Mount the page and its API on `app`; jobs run in `Sandbox` processes, waited for on a
    small thread pool of their own, so playground use never takes the threads that answer
    `/v1/decisions`."""
    limits = limits or Limits()
    sandbox = Sandbox(limits, times or TimeLimits())
    waiters = ThreadPoolExecutor(max_workers=sandbox.times.workers + sandbox.times.queue,
                                 thread_name_prefix="aturan-playground")

    def handle(job: str, body: bytes) -> tuple[int, Any]:
        try:
            document = parse_json(body, "<body>", limit=limits.body_bytes)
            request = parse_request(job, document, limits)
            return sandbox.run_admitted(request, holder.policies.collection)
        except PlaygroundError as exc:
            return exc.status, exc.body()
        except AturanError as exc:  # the body is not JSON
            return status_for(exc), PlaygroundError.of(exc, "request").body()
        except Exception as exc:  # a bug of ours: logged with its traceback, answered as 500
            event("internal-error", logging.ERROR, error=repr(exc), job=job,
                  traceback="".join(traceback.format_exception(exc)))
            return 500, INTERNAL

    async def answer(job: str, request: Request) -> Response:
        try:
            body = await read_body(request, limits.body_bytes, body_timeout)
        except AturanError as exc:
            return _json(status_for(exc), PlaygroundError.of(exc, "request").body())
        loop = asyncio.get_running_loop()
        try:
            with sandbox.admitted():  # a place, or 429 now: never an unbounded queue
                status, data = await loop.run_in_executor(waiters, handle, job, body)
        except PlaygroundError as exc:
            status, data = exc.status, exc.body()
        log = request.scope.get("aturan.log")
        if isinstance(log, dict):
            log.update(playground=job, **({"error": data.get("kind")} if status >= 400 else {}))
        return _json(status, data)

    def endpoint(job: str) -> Any:
        async def route(request: Request) -> Response:
            return await answer(job, request)
        return route

    for job in FIELDS:
        app.add_api_route(f"/v1/playground/{job}", endpoint(job), methods=["POST"],
                          response_class=Response, tags=["playground"],
                          summary=f"Playground: {job} an edited ruleset, in isolation")

    @app.get("/v1/playground/bootstrap", response_class=Response, tags=["playground"],
             summary="Playground: the served versions' texts and example orders")
    def bootstrap() -> Response:
        return _json(200, {"rulesets": served_texts(holder), "examples": example_orders(),
                           "limits": {"ruleset_bytes": limits.ruleset_bytes,
                                      "facts_bytes": limits.facts_bytes,
                                      "cases_bytes": limits.cases_bytes,
                                      "diff_orders": limits.diff_orders,
                                      "seconds": sandbox.times.seconds}})

    def page() -> Response:
        return FileResponse(STATIC / "index.html", headers=HEADERS)

    app.add_api_route("/playground", page, methods=["GET", "HEAD"], response_class=Response,
                      include_in_schema=False)
    app.mount("/playground/static", StaticFiles(directory=STATIC), name="playground-static")
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(running: Any) -> AsyncIterator[Any]:
        """The app's own lifespan; the fork server started in the background at startup; at
        shutdown, running jobs killed and their waiters released."""
        async with inner(running) as state:
            asyncio.get_running_loop().run_in_executor(waiters, sandbox.warm)
            try:
                yield state
            finally:
                sandbox.close()
                waiters.shutdown(wait=False, cancel_futures=True)

    app.router.lifespan_context = lifespan
    return sandbox


__all__ = ["add_playground", "Limits", "TimeLimits"]
