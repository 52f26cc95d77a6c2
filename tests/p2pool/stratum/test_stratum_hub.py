"""The server's shared reader and outboxes over real TCP: hundreds of connections on one task, a miner
that never reads is dropped (its bytes past the outbox limit) while the others are answered, and many
connections closing at once leave the rest served."""

from __future__ import annotations

import socket

import trio
from stratum_vector import USER, LineClient, VectorProvider, vector_job
from test_stratum_server import running, wait_until

from p2pool.stratum.hub import ReadHub
from p2pool.stratum.limits import StratumLimits

# Every client here is 127.0.0.1: above the default cap of connections per IP.
MANY = StratumLimits(max_per_ip=1000)


async def _subscribed(port: int, n: int) -> list[LineClient]:
    clients = []
    for i in range(n):
        client = await LineClient.connect(port)
        await client.send(f'{{"id": 1, "method": "mining.subscribe", "params": []}}\n'
                          f'{{"id": 2, "method": "mining.authorize", "params": ["{USER}.w{i}", "x"]}}\n')
        clients.append(client)
    return clients


async def _answers(client: LineClient) -> None:
    """A connection still answers at once."""
    reply = await client.call({"id": 77, "method": "mining.extranonce.subscribe", "params": []})
    assert reply["result"] is True


async def test_many_connections_on_one_reader_and_half_closing_at_once() -> None:
    async with running(VectorProvider(vector_job("job1")), limits=MANY) as (server, port):
        clients = await _subscribed(port, 300)
        await wait_until(lambda: server.connection_count == 300 and len(server.worker_names()) == 300)
        for client in clients:  # subscribe answer, authorize answer, difficulty and job
            for _ in range(4):
                await client.line()
        server.new_work(clean=True)
        for client in clients:  # every one gets the new job, through the batched fan-out
            assert (await client.message())["method"] == "mining.notify"
        for client in clients[::2]:
            await client.stream.aclose()
        await wait_until(lambda: server.connection_count == 150)
        for client in clients[1::2]:
            await _answers(client)
        for client in clients[1::2]:
            await client.aclose()
        await wait_until(lambda: server.connection_count == 0)


async def test_a_miner_that_never_reads_is_dropped_and_the_others_are_answered() -> None:
    async with running(VectorProvider(vector_job("job1"))) as (server, port):
        deaf, fine = await _subscribed(port, 2)
        await wait_until(lambda: len(server.worker_names()) == 2)
        for _ in range(4):
            await fine.line()
        request = b'{"id": 9, "method": "mining.extranonce.subscribe", "params": []}\n'
        # far more answers than the kernel's buffers and the outbox limit hold, never read by ``deaf``
        with trio.fail_after(30):
            while server.connection_count == 2:
                try:
                    await deaf.send(request * 2000)
                except trio.BrokenResourceError:
                    break
                await _answers(fine)
        await wait_until(lambda: server.connection_count == 1)
        await _answers(fine)
        await fine.aclose()
        await deaf.aclose()


async def test_the_hub_holds_an_epoll_set_only_while_it_reads_and_reads_again_after_a_restart():
    hub: ReadHub[str] = ReadHub(1024)
    assert hub._epoll is None  # a server built and never served holds no descriptor
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    try:
        got: list[tuple[str, bytes]] = []
        for round_ in range(2):  # served, stopped, served again (the same hub, a fresh epoll set)
            got.clear()
            async with trio.open_nursery() as nursery:
                hub.add(ours.fileno(), "miner")
                nursery.start_soon(hub.run, lambda conn, data: got.append((conn, data)))
                theirs.send(b"line %d\n" % round_)
                await wait_until(lambda: bool(got))
                nursery.cancel_scope.cancel()
            assert got == [("miner", b"line %d\n" % round_)]
            assert hub._epoll is None, "closed when reading stopped"
            hub.remove(ours.fileno())
    finally:
        ours.close()
        theirs.close()
