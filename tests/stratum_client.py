"""A blocking Stratum miner over any socket (the standard library's ssl client included), for tests."""

from __future__ import annotations

import socket
from collections.abc import Callable

from miner.client import ClientConnection, Event, MinerJob, NewJob, SubmitResult, Subscribed
from miner.work import make_work


def mine_over(sock: socket.socket, user: str, target: Callable[[MinerJob], int],
              find: Callable[[bytes, int], int], attempts: int = 4) -> SubmitResult:
    """Subscribe, authorize, and submit a nonce meeting ``target(job)`` until one is accepted."""
    results = submits_over(sock, user, target, find, attempts, until_accepted=True)
    if not results[-1].accepted:
        raise AssertionError(f"no submit accepted: {results[-1]}")
    return results[-1]


def submits_over(sock: socket.socket, user: str, target: Callable[[MinerJob], int],
                 find: Callable[[bytes, int], int], attempts: int, *, until_accepted: bool = False) -> list[SubmitResult]:
    """Subscribe, authorize, and submit ``attempts`` nonces meeting ``target(job)`` (one per new job);
    returns the answers (stopping at the first accepted with ``until_accepted``)."""
    client = ClientConnection("otedama-test")
    events: list[Event] = []

    def until(predicate: Callable[[Event], bool]) -> Event:
        while True:
            for event in list(events):
                if predicate(event):
                    events.remove(event)
                    return event
            data = sock.recv(65536)
            assert data, "the server closed the connection"
            events.extend(client.receive_data(data))

    sock.sendall(client.subscribe())
    subscribed = until(lambda e: isinstance(e, Subscribed))
    assert isinstance(subscribed, Subscribed)
    sock.sendall(client.authorize(user, "x"))
    results: list[SubmitResult] = []
    for attempt in range(attempts):
        new_job = until(lambda e: isinstance(e, NewJob))
        assert isinstance(new_job, NewJob)
        job = new_job.job
        work = make_work(job, subscribed.extranonce1, attempt.to_bytes(subscribed.extranonce2_size, "big"),
                         job.version)
        nonce = find(work.header76, target(job))
        sock.sendall(client.submit(user, job.job_id, work.extranonce2, job.ntime, nonce))
        answer = until(lambda e: isinstance(e, SubmitResult))
        assert isinstance(answer, SubmitResult)
        results.append(answer)
        if answer.accepted and until_accepted:
            break
    return results
