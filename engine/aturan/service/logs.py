"""JSON log lines: one access line per request (order id, ruleset version, outcome, latency) on
stdout, service events (start, reload) on stderr. One JSON object per line, so a log shipper
needs no parser of its own."""

from __future__ import annotations

import copy
import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any

ACCESS = logging.getLogger("aturan.access")
EVENTS = logging.getLogger("aturan.service")


def json_line(event: str, **fields: Any) -> str:
    record = {"ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
              "event": event}
    record.update((k, v) for k, v in fields.items() if v is not None)
    line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)
    if not line.isascii():
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a request: escape, never lose the line
            line = json.dumps(record, ensure_ascii=True, separators=(",", ":"), default=str)
    return line


class JsonFormatter(logging.Formatter):
    """uvicorn's own lines (start-up, shutdown, warnings) as JSON lines like aturan's, so the
    whole log parses line by line: `{"ts", "event": "server", "level", "logger", "message"}`."""

    def __init__(self, **settings: Any):  # uvicorn may pass `use_colors`, `fmt`: not used
        super().__init__()

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {"level": record.levelname.lower(), "logger": record.name,
                                  "message": record.getMessage()}
        if record.exc_info:
            fields["traceback"] = self.formatException(record.exc_info)
        return json_line("server", **fields)


def access(**fields: Any) -> None:
    if ACCESS.isEnabledFor(logging.INFO):
        ACCESS.info(json_line("request", **fields))


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    if EVENTS.isEnabledFor(level):
        EVENTS.log(level, json_line(name, **fields))


def uvicorn_log_config(level: str = "info") -> dict[str, Any]:
    """uvicorn's own logging setup, its lines turned into JSON (`JsonFormatter`), plus aturan's
    two JSON loggers; given to uvicorn so that worker processes, which configure logging when
    they start, get it too."""
    from uvicorn.config import LOGGING_CONFIG
    config = copy.deepcopy(LOGGING_CONFIG)
    json_formatter = {"()": "aturan.service.logs.JsonFormatter"}
    for name in list(config["formatters"]):  # uvicorn's "default" and "access" formatters
        config["formatters"][name] = dict(json_formatter)
    config["formatters"]["aturan"] = {"format": "%(message)s"}
    config["handlers"]["aturan_access"] = {"class": "logging.StreamHandler",
                                           "formatter": "aturan", "stream": "ext://sys.stdout"}
    config["handlers"]["aturan_events"] = {"class": "logging.StreamHandler",
                                           "formatter": "aturan", "stream": "ext://sys.stderr"}
    upper = level.upper()
    config["loggers"]["aturan.access"] = {"handlers": ["aturan_access"], "level": upper,
                                          "propagate": False}
    config["loggers"]["aturan.service"] = {"handlers": ["aturan_events"], "level": upper,
                                           "propagate": False}
    return config


def ensure_handlers() -> None:
    """When the app runs under another ASGI server's logging (e.g. `uvicorn --factory
    aturan.service:app_from_env`), still print aturan's lines rather than lose them."""
    for logger, stream in ((ACCESS, sys.stdout), (EVENTS, sys.stderr)):
        if not logger.handlers:
            handler = logging.StreamHandler(stream)
            handler.setFormatter(logging.Formatter("%(message)s"))
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False
