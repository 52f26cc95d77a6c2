"""The node's HTTP API (Starlette on Hypercorn's trio worker): see :mod:`p2pool.api.app` for the routes.

The composition root builds :class:`ApiSources` (status, problems, metrics, admin actions, live feed)
and runs :func:`serve_api` with :func:`api_config` in its nursery.
"""

from p2pool.api.admin import AdminActions, Outcome
from p2pool.api.app import PROMETHEUS_CONTENT_TYPE, ApiSources, build_app
from p2pool.api.live import LiveFeed
from p2pool.api.server import ApiConfig, api_config, serve_api

__all__ = ["PROMETHEUS_CONTENT_TYPE", "AdminActions", "ApiConfig", "ApiSources", "LiveFeed", "Outcome", "api_config",
           "build_app", "serve_api"]
