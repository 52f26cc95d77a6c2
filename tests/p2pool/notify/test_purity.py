"""What deserves a notification is decided without I/O (times are passed in); only the sender delivers."""

from pathlib import Path

import p2pool.notify
from tests.purity import IO, assert_pure


def test_the_watch_does_no_io():
    root = Path(p2pool.notify.__file__).parent
    assert_pure([root / "watch.py"], IO | {"p2pool.notify.sender", "subprocess", "os"})
