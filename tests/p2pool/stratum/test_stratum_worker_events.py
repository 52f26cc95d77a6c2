"""The Stratum server announces workers coming and going (real TCP): one WorkerConnected per authorized
username, with its payout address and the miner's host:port, and a WorkerDisconnected for each when
the connection closes."""

from __future__ import annotations

from fractions import Fraction

import trio
from stratum_vector import USER, LineClient, VectorProvider, easy_job

from p2pool.events import WorkerConnected, WorkerDisconnected
from p2pool.stratum.server import StratumConfig, StratumServer


async def test_workers_are_announced_as_they_connect_and_leave() -> None:
    events: list[object] = []
    server = StratumServer(VectorProvider(easy_job("e1", Fraction(1))), StratumConfig(host="127.0.0.1", port=0),
                           publish=events.append)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.serve)
        client = await LineClient.connect(port)
        await client.call({"id": 1, "method": "mining.subscribe", "params": ["test/1"]})
        for n, name in enumerate((USER + ".rig1", USER + ".rig2")):
            reply = await client.call({"id": 2 + n, "method": "mining.authorize", "params": [name, "x"]})
            assert reply["result"] is True
        connected = [e for e in events if isinstance(e, WorkerConnected)]
        assert [(e.worker, e.address) for e in connected] == [(USER + ".rig1", USER), (USER + ".rig2", USER)]
        assert connected[0].connection.startswith("127.0.0.1:")
        assert not any(isinstance(e, WorkerDisconnected) for e in events)
        await client.aclose()
        with trio.fail_after(10):
            while len([e for e in events if isinstance(e, WorkerDisconnected)]) < 2:
                await trio.sleep(0.01)
        left = [e for e in events if isinstance(e, WorkerDisconnected)]
        assert sorted(e.worker for e in left) == [USER + ".rig1", USER + ".rig2"]
        assert {e.connection for e in left} == {connected[0].connection}
        nursery.cancel_scope.cancel()
