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
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from ...errors import AturanError
from ...language.repository import CASES_DIR, discover
from ...resources import bundled_dir
from ...runtime.decision import canonical_json
from ...runtime.jsonio import parse_json
from ..errors import read_body, status_for
from ..holder import PolicyHolder
from .requests import FIELDS, Limits, PlaygroundError, parse_request
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
    return Response(canonical_json(body), status_code=status, media_type="application/json")


def _read_text(path: Path) -> str | None:
    try:
        if path.stat().st_size > TEXT_BYTES:
            return None
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def served_texts(holder: PolicyHolder) -> list[dict[str, Any]]:
    """The served versions with their YAML text and case file text, from the folder the
    service loaded (never a path a request names). A file edited since it was loaded has
    `served: false`: its text is not what decides."""
    files = {display: path for path, display in discover([holder.root])}
    out = []
    for rs in holder.policies.collection.versions:
        path = files.get(rs.path)
        text = _read_text(path) if path else None
        digest = "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest() if text else None
        cases = _read_text(path.parent / CASES_DIR / path.name) if path else None
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
                   times: TimeLimits | None = None) -> Sandbox:
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
            return sandbox.run(request, holder.policies.collection)
        except PlaygroundError as exc:
            return exc.status, exc.body()
        except AturanError as exc:  # the body is not JSON
            return status_for(exc), PlaygroundError.of(exc, "request").body()

    async def answer(job: str, request: Request) -> Response:
        try:
            body = await read_body(request, limits.body_bytes)
        except AturanError as exc:
            return _json(status_for(exc), PlaygroundError.of(exc, "request").body())
        loop = asyncio.get_running_loop()
        status, data = await loop.run_in_executor(waiters, handle, job, body)
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
