"""The devchain's pure core (and the template parser) import no I/O: no event loop, clock, database or socket."""

from __future__ import annotations

from pathlib import Path

import p2pool.chain.template
import p2pool.devchain
from tests.purity import IO, assert_pure

PURE = ["params", "validation", "chain", "mempool", "views"]


def test_pure_modules_do_no_io() -> None:
    root = Path(p2pool.devchain.__file__).parent
    paths = [root / f"{name}.py" for name in PURE] + [Path(p2pool.chain.template.__file__)]
    # The pure devchain modules may only build on each other and the Bitcoin primitives.
    allow = [f"p2pool.devchain.{name}" for name in PURE] + ["p2pool.chain.template"]
    assert_pure(paths, IO | {"logging", "os", "p2pool"}, allow=allow)
