"""What a request may carry: query and path parameters (:class:`Param`) and JSON bodies (:class:`Body`),
each with its bounds, read and checked before an endpoint runs. A value out of bounds is a
:class:`Problem` (``where``: ``query.limit``, ``body.duration``...); the endpoint's route answers 422
with every problem found. Parsing is bounded: a number's text is refused past :data:`MAX_NUMBER_TEXT`
characters before it is converted, a body is JSON of at most the server's body limit.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from p2pool.api.schema import Schema, described, nullable, record

MAX_NUMBER_TEXT = 32
Kind = type[int] | type[float] | type[str]
_REQUIRED: Any = object()  # a parameter with no default


@dataclass(frozen=True)
class Problem:
    where: str
    problem: str

    def as_dict(self) -> dict[str, str]:
        return {"where": self.where, "problem": self.problem}


class Invalid(Exception):
    """The request's problems (at least one)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.where}: {p.problem}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Bounds:
    """A value's kind and limits: numbers ``minimum`` <= x <= ``maximum`` (``above``: x > above), strings
    ``min_length`` to ``max_length`` characters matching ``pattern``; ``nullable``: null (JSON) is allowed."""

    kind: Kind
    minimum: float | None = None
    above: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    nullable: bool = False

    def schema(self) -> Schema:
        schema: Schema = {"type": {int: "integer", float: "number", str: "string"}[self.kind]}
        for key, value in (("minimum", self.minimum), ("exclusiveMinimum", self.above), ("maximum", self.maximum),
                           ("minLength", self.min_length), ("maxLength", self.max_length), ("pattern", self.pattern)):
            if value is not None:
                schema[key] = value
        return nullable(schema) if self.nullable else schema

    def check(self, value: Any) -> Any:
        """``value`` (from JSON, or converted from text) within bounds, else ValueError saying why."""
        if value is None:
            if self.nullable:
                return None
            raise ValueError("must not be null")
        if self.kind is str:
            if not isinstance(value, str):
                raise ValueError("must be a string")
            return self._checked_text(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be {'an integer' if self.kind is int else 'a number'}")
        if self.kind is int and not isinstance(value, int):
            raise ValueError("must be an integer")
        if self.kind is float:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError("must be a finite number")
        return self._checked_number(value)

    def parse(self, text: str) -> Any:
        """A query or path parameter's text as this kind, within bounds."""
        if self.kind is str:
            return self._checked_text(text)
        if len(text) > MAX_NUMBER_TEXT:
            raise ValueError(f"must be a number of at most {MAX_NUMBER_TEXT} characters")
        try:
            number: int | float = int(text) if self.kind is int else float(text)
        except ValueError:
            raise ValueError(f"must be {'an integer' if self.kind is int else 'a number'}") from None
        return self.check(number)

    def _checked_number(self, value: float) -> float:
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"must be at least {_shown(self.minimum)}")
        if self.above is not None and value <= self.above:
            raise ValueError(f"must be more than {_shown(self.above)}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"must be at most {_shown(self.maximum)}")
        return value

    def _checked_text(self, value: str) -> str:
        if self.max_length is not None and len(value) > self.max_length:
            raise ValueError(f"must be at most {self.max_length} characters")
        if self.min_length is not None and len(value) < self.min_length:
            raise ValueError("must not be empty" if self.min_length == 1 else
                             f"must be at least {self.min_length} characters")
        if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
            raise ValueError(f"must match {self.pattern}")
        return value


def _shown(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


@dataclass(frozen=True)
class Param:
    """A query (``where="query"``) or path parameter; a query parameter left out takes ``default``."""

    name: str
    bounds: Bounds
    default: Any = None
    where: Literal["query", "path"] = "query"
    description: str = ""

    def read(self, values: Mapping[str, str]) -> Any:
        text = values.get(self.name)
        if text is None:
            if self.where == "path":
                raise Invalid([Problem(f"path.{self.name}", "missing")])
            return self.default
        try:
            return self.bounds.parse(text)
        except ValueError as exc:
            raise Invalid([Problem(f"{self.where}.{self.name}", str(exc))]) from None

    def openapi(self) -> Schema:
        schema = self.bounds.schema()
        if self.where == "query" and self.default is not None:
            schema["default"] = self.default
        parameter: Schema = {"name": self.name, "in": self.where, "required": self.where == "path", "schema": schema}
        if self.description:
            parameter["description"] = self.description
        return parameter


@dataclass(frozen=True)
class BodyField:
    name: str
    bounds: Bounds
    default: Any = _REQUIRED
    description: str = ""

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def schema(self) -> Schema:
        schema = self.bounds.schema()
        if not self.required and self.default is not None:
            schema["default"] = self.default
        return described(schema, self.description) if self.description else schema


@dataclass(frozen=True)
class Body:
    """A JSON object body named ``title`` in the description; fields not listed are ignored. ``optional``:
    an empty body stands for every field's default."""

    title: str
    fields: tuple[BodyField, ...]
    optional: bool = False

    def schema(self) -> Schema:
        return record(self.title, {f.name: f.schema() for f in self.fields},
                      optional=[f.name for f in self.fields if not f.required], extra=True)

    def read(self, data: bytes) -> dict[str, Any]:
        """The body's values by field name (defaults filled in); :class:`Invalid` with every problem."""
        if not data.strip():
            if self.optional:
                return {f.name: f.default for f in self.fields}
            raise Invalid([Problem("body", "missing: send a JSON object")])
        try:
            document = json.loads(data)
        except (ValueError, RecursionError):  # (an integer of more than 4,300 digits is a ValueError too)
            raise Invalid([Problem("body", "not JSON")]) from None
        if document is None and self.optional:
            return {f.name: f.default for f in self.fields}
        if not isinstance(document, dict):
            raise Invalid([Problem("body", "must be a JSON object")])
        values: dict[str, Any] = {}
        problems: list[Problem] = []
        for each in self.fields:
            if each.name not in document:
                if each.required:
                    problems.append(Problem(f"body.{each.name}", "missing"))
                else:
                    values[each.name] = each.default
                continue
            try:
                values[each.name] = each.bounds.check(document[each.name])
            except ValueError as exc:
                problems.append(Problem(f"body.{each.name}", str(exc)))
        if problems:
            raise Invalid(problems)
        return values
