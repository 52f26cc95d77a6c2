"""An API operation declared once (:class:`Operation`: method, path, parameters, body, answers, whether it
needs the admin token) gives both its Starlette route and its part of the OpenAPI description.

The route checks, in order: the admin token (401), then every parameter and the body (422 with each
problem), and only then calls the endpoint with the values read: ``endpoint(request, **values)`` (the
body's values as ``body``, a dict). A GET route answers HEAD too (Starlette's), undocumented.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from p2pool.api.auth import TOKEN_SCHEME, require_admin
from p2pool.api.params import Body, Invalid, Param, Problem
from p2pool.api.schema import Schema, ref

Endpoint = Callable[..., Awaitable[Response]]
JSON = "application/json"


@dataclass(frozen=True)
class Reply:
    """One documented answer: what it means, and its body's schema (``media``: its content type)."""

    description: str
    schema: Schema | None = None
    media: str = JSON

    def openapi(self) -> Schema:
        answer: Schema = {"description": self.description}
        if self.schema is not None or self.media != JSON:
            answer["content"] = {self.media: {"schema": self.schema} if self.schema is not None else {}}
        return answer


ERROR = ref("Error")
_INVALID = Reply("the request's parameters or body are malformed (details: each problem)", ref("InvalidRequest"))
_UNAUTHORISED = Reply("no API token, or a wrong one", ERROR)


@dataclass(frozen=True)
class Operation:
    method: str  # GET or POST
    path: str
    endpoint: Endpoint
    tags: tuple[str, ...]
    replies: Mapping[int, Reply]
    params: tuple[Param, ...] = ()
    body: Body | None = None
    admin: bool = False
    request_body: Schema | None = None  # a body the endpoint reads itself (documented as given)
    head: bool = True  # a GET answers HEAD too (not a stream: a HEAD there would open one)

    @property
    def name(self) -> str:
        return self.endpoint.__name__

    def route(self) -> Route:
        route = Route(self.path, self._handle, methods=[self.method], name=self.name)
        if not self.head and route.methods is not None:
            route.methods.discard("HEAD")
        return route

    async def _handle(self, request: Request) -> Response:
        if self.admin:
            require_admin(request)
        values: dict[str, Any] = {}
        problems: list[Problem] = []
        for param in self.params:
            source = request.path_params if param.where == "path" else request.query_params
            try:
                values[param.name] = param.read(source)
            except Invalid as exc:
                problems += exc.problems
        if self.body is not None:
            try:
                values["body"] = self.body.read(await request.body())
            except Invalid as exc:
                problems += exc.problems
        if problems:
            return JSONResponse({"error": "invalid request", "details": [p.as_dict() for p in problems]}, 422)
        return await self.endpoint(request, **values)

    def openapi(self) -> Schema:
        operation: Schema = {"tags": list(self.tags), "summary": self.name.replace("_", " ").title(),
                             "description": " ".join((inspect.getdoc(self.endpoint) or "").split()),
                             "operationId": self.name}
        if self.params:
            operation["parameters"] = [param.openapi() for param in self.params]
        if self.body is not None:
            operation["requestBody"] = {"required": not self.body.optional,
                                        "content": {JSON: {"schema": ref(self.body.title)}}}
        elif self.request_body is not None:
            operation["requestBody"] = self.request_body
        replies = dict(self.replies)
        if self.params or self.body is not None:
            replies.setdefault(422, _INVALID)
        if self.admin:
            replies.setdefault(401, _UNAUTHORISED)
            operation["security"] = [{TOKEN_SCHEME: []}]
        operation["responses"] = {str(code): replies[code].openapi() for code in sorted(replies)}
        return operation


def openapi(operations: Iterable[Operation], *, title: str, version: str, description: str,
            schemas: Mapping[str, Schema], security: Mapping[str, Schema]) -> Schema:
    """The OpenAPI 3.1 document of ``operations``; ``schemas`` are the component schemas they name, to which
    the bodies' schemas are added."""
    paths: dict[str, dict[str, Schema]] = {}
    components = dict(schemas)
    for operation in operations:
        paths.setdefault(operation.path, {})[operation.method.lower()] = operation.openapi()
        if operation.body is not None:
            components[operation.body.title] = operation.body.schema()
    return {"openapi": "3.1.0", "info": {"title": title, "version": version, "description": description},
            "paths": paths, "components": {"schemas": components, "securitySchemes": dict(security)}}
