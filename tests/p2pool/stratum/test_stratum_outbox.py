"""The per-connection outbox: one piece per write, unsent ends first, a limit for peers that do not read."""

from __future__ import annotations

from p2pool.stratum.outbox import Outbox


def test_everything_waiting_comes_out_as_one_piece_in_order() -> None:
    box = Outbox()
    assert box.take() == b""
    for line in (b"a\n", b"bb\n", b"ccc\n"):
        assert box.put(line)
    assert len(box) == 9
    assert box.take() == b"a\nbb\nccc\n"
    assert len(box) == 0 and box.take() == b""


def test_an_unsent_end_goes_back_ahead_of_what_came_since() -> None:
    box = Outbox()
    box.put(b"first\n")
    data = box.take()
    box.put(b"second\n")
    box.put_back(data[3:])
    assert box.take() == b"st\nsecond\n"


def test_past_the_limit_the_peer_is_not_reading() -> None:
    box = Outbox(limit=10)
    assert box.put(b"x" * 10)
    assert not box.put(b"y")
