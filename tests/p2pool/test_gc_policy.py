"""The node's garbage-collection policy: full collections rare, young ones as before."""

from __future__ import annotations

import gc

from p2pool import gc_policy


def test_full_collections_are_made_rare_and_young_ones_kept() -> None:
    before = gc.get_threshold()
    try:
        gc_policy.tune_for_a_server()
        young, middle, full = gc.get_threshold()
        assert (young, middle) == before[:2]
        assert full == gc_policy.FULL_COLLECTION_EVERY > before[2]
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
