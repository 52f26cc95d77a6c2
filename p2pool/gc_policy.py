"""The node process's garbage-collection policy.

With thousands of Stratum connections the node holds about a million objects the cycle collector
tracks (sessions, their jobs, trio's state); CPython's default policy runs a full collection over all
of them every few seconds under load, 250–620 ms each at 10,000 miners (measured), during which no
miner is answered. Objects built before serving (modules, the loaded chain) are moved out of the
collector's sight, and full collections are made rare; young cycles are still collected as usual,
and memory is freed by reference counting whatever the collector does.
"""

from __future__ import annotations

import gc

# A full collection after this many collections of the middle generation (CPython's default: 10).
FULL_COLLECTION_EVERY = 1000


def tune_for_a_server() -> None:
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


def started() -> None:
    """The node is up: what start-up built (the loaded sharechain, the listeners) lives as long as the process
    and is moved out of the collector's sight too. For the process that runs the node (the CLI), not for a test
    process that starts many."""
    gc.freeze()
