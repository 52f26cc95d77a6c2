"""libp2p 0.8.1's Pubsub, made to survive a peer that reconnects before its old connection is gone.

Pubsub keeps one outbound stream and one set of topic subscriptions per peer ID, not per
connection, and clears both whenever any stream of that peer fails (``_handle_dead_peer``). When a
peer reconnects quickly (it was disconnected for misbehaving and came back, it restarted, or two
simultaneous dials left two connections and one was closed), a write or read on the *old*
connection's stream can fail after the new connection's hello was taken in: the peer's
subscriptions, learned on the new connection, are wiped, and nothing sends them again; or the
peer's stale stream is still registered when the new connection comes up, and pubsub skips opening
one. Either way the peer stays connected and silent (seen in the misbehaving-peer test: a peer
reconnected and never heard of our topic in 20 s), until it reconnects once more.

Here a failure is only taken as the peer's death when it has no live connection; while it does,
a stream that is still writable on a live connection stays registered, the subscriptions stay, and a
dead registered stream is replaced by one on the live connection.

And a message read while the service stops is let go: libp2p's service manager closes its task nursery
a scheduling point before it stops saying that it runs, so a subscription read from a peer in that
moment asks for a task that cannot start ("Nursery is closed to new arrivals"), and the error ended the
connection's tasks, the host and the node (seen once in a clean-clone run, a node stopping while its
peers redialled it). Once ``stopping`` is set (the gossip service's way out), that error ends only the
stream it was read from.
"""

from __future__ import annotations

import logging
from typing import Any

from libp2p.abc import INetStream
from libp2p.network.stream.net_stream import StreamState
from libp2p.peer.id import ID
from libp2p.pubsub.pubsub import Pubsub
from libp2p.tools.anyio_service.exceptions import LifecycleError

log = logging.getLogger("otedama.p2p")

_WRITABLE = (StreamState.INIT, StreamState.OPEN, StreamState.CLOSE_READ)


def writable(stream: Any) -> bool:
    """Whether ``stream`` (a NetStream) can still carry our messages: open for writing, connection up."""
    if getattr(stream.muxed_conn, "is_closed", False):
        return False
    return getattr(stream, "_state", StreamState.OPEN) in _WRITABLE


class ReconnectSafePubsub(Pubsub):
    stopping = False  # set when the service is on its way out

    async def stream_handler(self, stream: INetStream) -> None:
        try:
            await super().stream_handler(stream)
        except (RuntimeError, LifecycleError) as exc:
            if not self.stopping:
                raise
            log.debug("pubsub: a message from %s read while stopping was let go: %s", stream.muxed_conn.peer_id, exc)
            await _reset(stream)

    def _handle_dead_peer(self, peer_id: ID) -> None:
        if not self._peer_is_connected(peer_id):
            super()._handle_dead_peer(peer_id)  # gone for real: forget everything about it
            return
        stream = self.peers.get(peer_id)
        if stream is not None and writable(stream):
            return  # a stream of an earlier connection (or the peer's inbound one) ended: ours is fine
        if stream is not None:
            self._drop_stream(peer_id)
        self._schedule_peer_stream_retry(peer_id)  # a fresh stream, with our hello, on the live connection

    async def _handle_new_peer(self, peer_id: ID) -> None:
        stream = self.peers.get(peer_id)
        if stream is not None and not writable(stream):
            self._drop_stream(peer_id)  # left from a connection that has closed: open one on the new one
        await super()._handle_new_peer(peer_id)

    def _drop_stream(self, peer_id: ID) -> None:
        """Unregister our outbound stream to ``peer_id`` (its subscriptions stay)."""
        del self.peers[peer_id]
        queue = self.peer_queues.pop(peer_id, None)
        if queue is not None:
            queue.close()
        self.router.remove_peer(peer_id)


async def _reset(stream: INetStream) -> None:
    try:
        await stream.reset()
    except Exception as exc:  # (the connection may be going too: nothing more to do with the stream)
        log.debug("pubsub: resetting a stream while stopping: %s", exc)
