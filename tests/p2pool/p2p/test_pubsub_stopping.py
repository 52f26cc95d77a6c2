"""A message read while the gossip service stops ends only its stream (p2pool.p2p.pubsub_reconnect):
libp2p's service manager closes its task nursery a scheduling point before it stops saying it runs, and
a subscription read in that moment raised out of the connection's tasks, ending the host and the node."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from libp2p import new_host
from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import PROTOCOL_ID, GossipSub

from p2pool.p2p.pubsub_reconnect import ReconnectSafePubsub


class _ServiceGone(ReconnectSafePubsub):
    """Reading the stream asks for a task the stopped manager can no longer start (as libp2p raises it)."""

    async def continuously_read_stream(self, stream: object) -> None:
        raise RuntimeError("Nursery is closed to new arrivals")


@dataclass
class _Conn:
    peer_id: ID


@dataclass
class _Stream:
    muxed_conn: _Conn
    resets: list[bool] = field(default_factory=list)

    async def reset(self) -> None:
        self.resets.append(True)


def _pubsub() -> _ServiceGone:
    host = new_host()
    return _ServiceGone(host, GossipSub([PROTOCOL_ID], degree=2, degree_low=1, degree_high=3))


async def test_a_message_read_while_stopping_ends_only_its_stream() -> None:
    pubsub = _pubsub()
    stream = _Stream(_Conn(new_host().get_id()))
    pubsub.stopping = True
    await pubsub.stream_handler(stream)  # type: ignore[arg-type]
    assert stream.resets == [True]


async def test_the_same_error_while_running_is_raised() -> None:
    pubsub = _pubsub()
    stream = _Stream(_Conn(new_host().get_id()))
    with pytest.raises(RuntimeError, match="closed to new arrivals"):
        await pubsub.stream_handler(stream)  # type: ignore[arg-type]
    assert stream.resets == []
