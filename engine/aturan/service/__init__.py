"""aturan's HTTP decision service (`aturan serve`): FastAPI app, hot reload, metrics.

The library never imports this package; it needs the `serve` extra (FastAPI, uvicorn,
prometheus-client). `app_from_env` is the factory uvicorn workers start from:

    uvicorn --factory aturan.service:app_from_env      # settings from ATURAN_* variables
"""

from __future__ import annotations

from fastapi import FastAPI

from .app import create_app
from .config import ServiceConfig


def app_from_env() -> FastAPI:
    """The app for a worker process, configured by the environment `aturan serve` sets."""
    from ..service import logs
    logs.ensure_handlers()
    return create_app(ServiceConfig.from_env())


__all__ = ["create_app", "app_from_env", "ServiceConfig"]
