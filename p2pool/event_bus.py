"""The node's event bus: the composition root subscribes listeners, parts publish events.

Delivery is synchronous, in subscription order, so a listener sees the node's state as it was when
the event was published. Listeners must not block: one that needs to do I/O hands the event to a
task of its own (a memory channel). A listener that raises is logged and the others still run: a
broken metrics listener must not lose a share that is already stored.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger("otedama.events")
E = TypeVar("E")


class EventBus:
    def __init__(self) -> None:
        self._listeners: defaultdict[type, list[Callable[[Any], None]]] = defaultdict(list)

    def subscribe(self, kind: type[E], listener: Callable[[E], None]) -> None:
        self._listeners[kind].append(listener)

    def publish(self, event: object) -> None:
        for listener in self._listeners.get(type(event), ()):
            try:
                listener(event)
            except Exception:
                log.exception("a listener of %s failed", type(event).__name__)
