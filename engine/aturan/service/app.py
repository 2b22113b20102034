"""The decision service's FastAPI app: routes, access log, metrics and hot reload wired together.

Request handlers are async only to read the body under its size limit. Parsing, validation and
the decision itself are CPU-bound: one decision of a body up to `INLINE_BYTES` takes tens of
microseconds, less than handing it to a thread and back, so it runs on the event loop; a batch,
or a larger body, runs in Starlette's threadpool. The engine adapter's process-wide lock
serialises the durable_rules calls either way. More throughput comes from more worker
processes (`aturan serve --workers N`), each with its own engine state."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import os
import signal
import threading
import traceback
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..audit.context import REQUEST_IDS, request_ids
from ..errors import AturanError
from ..runtime.decision import Decision, canonical_json
from ..runtime.evaluate import Policies, load
from ..runtime.jsonio import UNPROVEN, fast_loads, parse_json
from ..runtime.probe import require
from ..service import logs
from .config import ServiceConfig
from .errors import (
    ClientDisconnected,
    RequestError,
    bad_parameter,
    error_json,
    error_response,
    http_error,
    internal_error,
    kind_for,
    read_body,
    status_for,
)
from .holder import PolicyHolder, Reloader, ReloadResult
from .metrics import Metrics
from .openapi import add_components, error_responses, json_body

if TYPE_CHECKING:
    from ..audit import DecisionLog

LOG_FIELDS = "aturan.log"  # scope key: the dict a handler fills for the access log line
LANGS = ("en", "id")
INLINE_BYTES = 64 * 1024  # one decision of a body up to this size is decided on the event loop


class DecisionService:
    """What the routes call, free of HTTP: decide one body or a batch body with the current set."""

    def __init__(self, config: ServiceConfig, holder: PolicyHolder, metrics: Metrics):
        self.config = config
        self.holder = holder
        self.metrics = metrics
        self.decision_log: DecisionLog | None = None
        self._memo_published = 0.0  # perf_counter() when memo counts were last published

    def publish_memo(self, policies: Policies | None = None, every: float = 0.0) -> None:
        """Memo hits, misses and evictions to the metrics, at most once per `every` seconds:
        on each scrape (this process), and after requests when workers share the counts."""
        now = perf_counter()
        if now - self._memo_published >= every:
            self._memo_published = now
            self.metrics.memo_seen((policies or self.holder.policies).cache.stats())

    def decide(self, body: bytes, pin: str | None, lang: str | None,
               log: dict[str, Any]) -> str:
        """The decision as text: its canonical bytes (`Decision.to_json`)."""
        def seen(facts: Any) -> None:
            log["order_id"] = _order_id(facts)

        with self.holder.lease() as policies:  # `decide_text`: orjson when provably exact
            decision = policies.decide_text(body, pin, lang, source="<body>",
                                            limit=self.config.max_body_bytes, seen=seen)
            if self.metrics.multiprocess:
                self.publish_memo(policies, every=1.0)
        self.metrics.decided(decision)
        log.update(ruleset=f"{decision.ruleset.name}@{decision.ruleset.version}",
                   outcome=decision.outcome, decision_id=decision.decision_id)
        return decision.to_json()

    def decide_batch(self, body: bytes, pin: str | None, lang: str | None,
                     log: dict[str, Any]) -> str:
        """`{"results": [...]}` as text; each decision is spliced in as its canonical bytes.

        The body is read by orjson when `jsonio.fast_loads` proves it the strict reading but
        for numbers (orjson reads integers beyond 64 bits as floats); an item that does not
        decide is decided again from the strict reading, so every result is the strict
        path's: an item that decides holds no float, hence no such number."""
        limit = self.config.max_body_bytes
        fast = fast_loads(body) if len(body) <= limit else UNPROVEN
        items: list[Any] | None = None
        strict: list[Any] | None = None
        if fast is not UNPROVEN:
            try:
                items = self._items(fast)
            except RequestError:
                pass  # the strict reading below raises it, or the right one
        if items is None:
            items = strict = self._items(parse_json(body, "<body>", limit=limit))
        parts: list[str] = []
        rulesets: set[str] = set()
        failed = 0
        with self.holder.lease() as policies:  # one set for the whole batch
            for index, item in enumerate(items):
                result: Decision | AturanError
                try:
                    result = policies.decide(item, pin, lang)
                except AturanError as exc:
                    result = exc
                    if strict is None:
                        strict = self._items(parse_json(body, "<body>", limit=limit))
                    if strict is not items:
                        try:
                            result = policies.decide(strict[index], pin, lang)
                        except AturanError as again:
                            result = again
                if isinstance(result, AturanError):
                    failed += 1
                    self.metrics.failed(kind_for(result))
                    parts.append(canonical_json({**error_json(result),
                                                 "status": status_for(result)}))
                else:
                    self.metrics.decided(result)
                    rulesets.add(f"{result.ruleset.name}@{result.ruleset.version}")
                    parts.append(result.to_json())
            if self.metrics.multiprocess:
                self.publish_memo(policies, every=1.0)
        log.update(items=len(items), failed=failed, ruleset=",".join(sorted(rulesets)) or None)
        return '{"results":[' + ",".join(parts) + "]}"

    def _items(self, document: Any) -> list[Any]:
        if not isinstance(document, dict):
            raise RequestError(422, "batch-shape", 'a batch is a JSON object {"items": [facts, '
                               '...]}', kind="invalid_request")
        extra = sorted(set(document) - {"items"})
        if extra:
            raise RequestError(422, "batch-shape", f'unknown key "{extra[0]}" in a batch; only '
                               '"items" is allowed', f"/{extra[0]}", kind="invalid_request")
        items = document.get("items")
        if not isinstance(items, list):
            raise RequestError(422, "batch-shape", '"items" must be an array of order facts',
                               "/items", kind="invalid_request")
        if len(items) > self.config.batch_limit:
            raise RequestError(413, "batch-too-large", f"batch has {len(items):,} items; the "
                               f"limit is {self.config.batch_limit:,}", "/items",
                               kind="too_large")
        return items

    def health(self) -> dict[str, Any]:
        last = self.holder.last_reload
        log = {"decision_log": self.decision_log.stats()} if self.decision_log else {}
        return {"status": "ok" if last is None or last.ok else "degraded", **log,
                "pid": os.getpid(), "generation": self.holder.generation,
                "loaded_at": self.holder.loaded_at, "watch": self.config.watch,
                "rulesets": [{"name": d["name"], "version": d["version"], "digest": d["digest"]}
                             for d in self.holder.policies.describe()],
                "last_reload": last.to_dict() if last else None}


def _order_id(facts: Any) -> str | None:
    order = facts.get("order") if isinstance(facts, dict) else None
    order_id = order.get("id") if isinstance(order, dict) else None
    return order_id if isinstance(order_id, str) else None


class AccessLog:
    """Pure ASGI middleware: times every request, feeds the latency histogram and writes one
    JSON access line with what the handler put in `scope["aturan.log"]`."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        fields: dict[str, Any] = {}
        scope[LOG_FIELDS] = fields
        status = 500
        began = perf_counter()

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            elapsed = perf_counter() - began
            self.metrics.observe(scope["path"], elapsed)
            logs.access(method=scope["method"], path=scope["path"], status=status,
                        latency_ms=round(elapsed * 1000, 3), **fields)


def _log_fields(request: Request) -> dict[str, Any]:
    return request.scope.get(LOG_FIELDS, {})


def _check_lang(lang: str | None) -> str | None:
    if lang is not None and lang not in LANGS:
        raise bad_parameter("lang", f'"{lang}" is not a language aturan explains in; use '
                            f'{" or ".join(LANGS)}')
    return lang


def _check_once(request: Request, *names: str) -> None:
    """A parameter given twice is refused rather than silently taking the last one."""
    for name in names:
        count = len(request.query_params.getlist(name))
        if count > 1:
            raise bad_parameter(name, f"given {count} times; give it once")


def create_app(config: ServiceConfig, policies: Policies | None = None) -> FastAPI:
    """The app for one process. `policies`: an already loaded set (else loaded from
    `config.rulesets`, raising `RulesetError` when it is invalid)."""
    metrics = Metrics()

    def reloaded(result: ReloadResult) -> None:
        metrics.reloaded(result)
        logs.event("reload", logging.INFO if result.ok else logging.ERROR, **result.to_dict())

    decision_log = config.decision_log.open(metrics.dropped) if config.decision_log else None
    plain = _loader(config)
    loader: Callable[[Path], Policies] = plain
    if decision_log is not None:  # every set served, from the first to each reload, is logged
        root = config.rulesets.absolute()
        loader = lambda folder: decision_log.attach(plain(folder), [folder])  # noqa: E731
        policies = decision_log.attach(policies if policies is not None else plain(root),
                                       [root])
    holder = PolicyHolder(config.rulesets.absolute(), loader=loader, on_reload=reloaded)
    holder.start(policies)
    service = DecisionService(config, holder, metrics)
    service.decision_log = decision_log
    reloader = Reloader(holder, config.watch, config.watch_interval)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        sighup = (config.handle_sighup and hasattr(signal, "SIGHUP")
                  and threading.current_thread() is threading.main_thread())
        if config.watch or sighup:
            reloader.start()
        if sighup:
            loop.add_signal_handler(signal.SIGHUP, reloader.request)
        logs.event("start", pid=os.getpid(), rulesets=[f"{d['name']}@{d['version']}" for d in
                                                       holder.policies.describe()],
                   watch=config.watch, sighup=sighup)
        try:
            yield
        finally:
            if sighup:
                loop.remove_signal_handler(signal.SIGHUP)
            reloader.stop()
            if decision_log is not None:  # every answered decision's record written
                await run_in_threadpool(decision_log.close)

    app = FastAPI(title="aturan decision service", version=__version__, lifespan=lifespan,
                  description="Marketplace cancellation, refund and penalty decisions from "
                              "versioned YAML rulesets. Facts and Decision are the project's own "
                              "JSON Schemas.", redoc_url=None)
    app.state.service = service
    app.state.holder = holder
    app.add_middleware(AccessLog, metrics=metrics)
    _add_error_handlers(app, metrics)
    _add_routes(app, service)
    if config.playground:  # off unless asked for: docs/playground.md
        from .playground import add_playground
        add_playground(app, holder, body_timeout=config.body_timeout)

    built: dict[str, dict[str, Any]] = {}  # catalogue digest -> document

    def openapi() -> dict[str, Any]:
        """The document of the catalogue serving now: a reload that changes the policy
        folder's aturan.yaml changes the Facts schema it shows."""
        catalogue = holder.policies.catalogue
        spec = built.get(catalogue.digest)
        if spec is None:
            spec = get_openapi(title=app.title, version=app.version, routes=app.routes,
                               description=app.description)
            spec = add_components(spec, config.batch_limit, catalogue)
            built.clear()  # only the current one is ever asked for
            built[catalogue.digest] = spec
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _loader(config: ServiceConfig) -> Callable[[Any], Policies]:
    """`aturan.load`, after the new set was built in a probe process within
    `config.probe_timeout` seconds (the engine holds the GIL: a hang in this process could not
    be stopped, one in the probe is killed and reported while the old set keeps serving)."""
    loader = functools.partial(load, memo_capacity=config.memo_capacity)
    if not config.probe_timeout:
        return loader

    def probed(root: Any) -> Policies:
        require(root, config.probe_timeout)
        return loader(root)
    return probed


LARGE_BODY = 256 * 1024  # bytes: a request this large may leave megabytes in cycles
SWEEP_EVERY = 10.0  # seconds: at most one full garbage collection this often (~70 ms here)
_last_sweep = [0.0]


def _sweep() -> None:
    """A full garbage collection after a large request, at most every `SWEEP_EVERY` seconds.

    Python collects cycles by counting container allocations, not bytes: a 1 MiB body held in
    a cycle (asyncio futures and tracebacks make them) waits for the next full collection,
    which a worker answering small requests may not reach for minutes. Measured: 100 bad
    1 MiB bodies left a worker at 101 MB RSS; with the sweep it returns to ~73 MB."""
    now = perf_counter()
    if now - _last_sweep[0] >= SWEEP_EVERY:
        _last_sweep[0] = now
        gc.collect()


CLIENT_CLOSED = 499  # the access log's status for a request whose client hung up (nginx's)


def _failure(exc: Exception, log: dict[str, Any], metrics: Metrics) -> Response:
    try:
        if isinstance(exc, ClientDisconnected):  # nobody to answer: no error, no fault
            log["error"] = "client_closed"
            return Response(status_code=CLIENT_CLOSED)
        if isinstance(exc, AturanError):
            log["error"] = kind_for(exc)
            metrics.failed(log["error"])
            return error_response(exc)
        log["error"] = "internal"
        return _internal(exc, metrics)
    finally:
        # The traceback runs through the threadpool's frames, which hold the request body and
        # its parsed facts in a reference cycle: only a full garbage collection would free them,
        # so after a run of bad 1 MiB bodies a worker kept ~30 MB it no longer used.
        seen: BaseException | None = exc
        for _ in range(8):  # and the chained exceptions' (`raise … from …`)
            if seen is None:
                break
            seen.__traceback__ = None
            seen = seen.__cause__ or seen.__context__


def _internal(exc: Exception, metrics: Metrics) -> Response:
    """A 500 for a bug: counted, logged with its traceback, answered without details."""
    metrics.failed("internal")
    logs.event("internal-error", logging.ERROR, error=repr(exc),
               traceback="".join(traceback.format_exception(exc)))
    return internal_error()


RULESET_PARAM = Query(None, description="Pin a ruleset: NAME@VERSION, or NAME for the version "
                                        "in force at request.at. Default: the order platform's "
                                        "(or seller overlay's) version in force.")
LANG_PARAM = Query(None, description="Explanation messages in one language (en or id); "
                                     "default both.")
FACTS_BODY = {"requestBody": {"required": True, "description": "Order facts.",
                              "content": {"application/json": {
                                  "schema": {"$ref": "#/components/schemas/Facts"}}}}}
BATCH_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/BatchRequest"}}}}}


def _json(text: str) -> Response:
    return Response(text, media_type="application/json")


def _add_routes(app: FastAPI, service: DecisionService) -> None:
    metrics = service.metrics
    limit = service.config.max_body_bytes

    async def answer(request: Request, handle: Callable[..., str], ruleset: str | None,
                     lang: str | None, inline: int = 0) -> Response:
        """Read the body, run `handle(body, pin, lang, log)` (here for a body of at most
        `inline` bytes, else in the threadpool), answer its JSON text, or the error's
        response."""
        log = _log_fields(request)
        if service.decision_log is not None:  # the ids a record carries, into the threadpool
            headers = request.headers
            REQUEST_IDS.set(request_ids(headers.get("traceparent"), headers.get("x-request-id")))
        try:
            _check_once(request, "ruleset", "lang")
            body = await read_body(request, limit, service.config.body_timeout)
            if len(body) <= inline:
                text = handle(body, ruleset or None, _check_lang(lang), log)
            else:
                text = await run_in_threadpool(handle, body, ruleset or None, _check_lang(lang),
                                               log)
        except Exception as exc:
            return _failure(exc, log, metrics)
        finally:
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) >= LARGE_BODY:
                _sweep()
        response = _json(text)
        if log.get("decision_id"):
            response.headers["x-decision-id"] = log["decision_id"]
        return response

    @app.post("/v1/decisions", response_class=Response, openapi_extra=FACTS_BODY,
              summary="Decide one order",
              responses={200: json_body("Decision", "The decision, byte for byte what "
                                                    "Decision.to_json() gives."),
                         **error_responses(400, 404, 408, 413, 415, 422)})
    async def decide(request: Request, ruleset: str | None = RULESET_PARAM,
                     lang: str | None = LANG_PARAM) -> Response:
        return await answer(request, service.decide, ruleset, lang, INLINE_BYTES)

    @app.post("/v1/decisions:batch", response_class=Response, openapi_extra=BATCH_BODY,
              summary="Decide many orders; each item answered in order",
              responses={200: json_body("BatchResponse", "One result per item: a decision, or "
                                                         "that item's errors."),
                         **error_responses(400, 404, 408, 413, 415, "422-batch")})
    async def decide_batch(request: Request, ruleset: str | None = RULESET_PARAM,
                           lang: str | None = LANG_PARAM) -> Response:
        return await answer(request, service.decide_batch, ruleset, lang)

    @app.get("/v1/rulesets", response_class=Response, summary="Loaded ruleset versions")
    async def rulesets() -> Response:
        return _json(canonical_json({"rulesets": service.holder.policies.describe()}))

    @app.get("/healthz", response_class=Response,
             summary="Status, loaded digests, last reload result")
    async def healthz() -> Response:
        return _json(canonical_json(service.health()))

    @app.get("/metrics", response_class=Response, summary="Prometheus text format")
    def prometheus() -> Response:  # sync: in multiprocess mode this reads files
        service.publish_memo()
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)


def _add_error_handlers(app: FastAPI, metrics: Metrics) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def routing_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        message = {404: f"no endpoint at {request.url.path}; see /openapi.json",
                   405: f"{request.method} is not allowed on {request.url.path}"}.get(
                       exc.status_code, str(exc.detail))
        _log_fields(request)["error"] = code.replace("-", "_")
        metrics.failed(code.replace("-", "_"))
        return http_error(exc.status_code, code, message)

    @app.exception_handler(RequestValidationError)
    async def parameter_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        _log_fields(request)["error"] = "bad_request"
        metrics.failed("bad_request")
        return error_response(RequestError(400, "bad-parameter", f"{where}: "
                                           f"{first.get('msg', 'invalid request')}"))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        return _internal(exc, metrics)
