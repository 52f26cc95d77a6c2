"""Delivery to a real HTTP receiver on 127.0.0.1 and a real command: retries with back-off, a final 4xx,
and a queue that never makes the node wait."""

from __future__ import annotations

import json
import shlex
import sys

import trio

from p2pool.notify.sender import Channels, Delivery, Notifier
from p2pool.notify.watch import Notification
from tests.webhook import WebhookReceiver

FAST = Delivery(attempts=4, backoff=0.05, max_backoff=0.2, timeout=2.0, queue=3)


def note(kind: str = "block_found", text: str = "block 7 found") -> Notification:
    return Notification(kind, text, 1700000000.0, {"height": 7})


async def wait_for(predicate, seconds: float = 10.0) -> None:
    with trio.fail_after(seconds):
        while not predicate():
            await trio.sleep(0.01)


async def test_webhook_gets_the_json_after_retries():
    counted: list[tuple[str, str]] = []
    with WebhookReceiver(answers=[500, 503]) as receiver:
        notifier = Notifier(Channels(webhook=receiver.url), node="node0", network="devnet", delivery=FAST,
                            count=lambda channel, result: counted.append((channel, result)))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(notifier.run)
            notifier.send(note())
            await wait_for(lambda: counted)  # the receiver has the body before the sender has its answer
            nursery.cancel_scope.cancel()
    assert receiver.attempts == 3
    assert receiver.received == [{"event": "block_found", "text": "block 7 found", "time": 1700000000.0,
                                  "node": "node0", "network": "devnet", "data": {"height": 7}}]
    assert counted == [("webhook", "sent")]


async def test_a_client_error_is_not_retried(caplog):
    counted: list[tuple[str, str]] = []
    with WebhookReceiver(answers=[404]) as receiver:
        notifier = Notifier(Channels(webhook=receiver.url), node="n", network="devnet", delivery=FAST,
                            count=lambda channel, result: counted.append((channel, result)))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(notifier.run)
            notifier.send(note())
            await wait_for(lambda: counted)
            await trio.sleep(0.3)  # longer than every back-off: no second attempt comes
            nursery.cancel_scope.cancel()
    assert receiver.attempts == 1 and counted == [("webhook", "failed")]
    assert "HTTP 404 from the webhook" in caplog.text


async def test_the_command_gets_the_json_on_stdin_and_the_kind_in_its_environment(tmp_path):
    out = tmp_path / "received"
    fail_once = tmp_path / "failed-once"
    script = tmp_path / "hook.py"
    script.write_text(
        "import os, pathlib, sys\n"
        f"flag = pathlib.Path({str(fail_once)!r})\n"
        "if not flag.exists():\n"
        "    flag.write_text('x'); print('not yet', file=sys.stderr); sys.exit(3)\n"
        f"pathlib.Path({str(out)!r}).write_text(os.environ['OTEDAMA_EVENT'] + '\\n' + sys.stdin.read())\n")
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"
    counted: list[tuple[str, str]] = []
    notifier = Notifier(Channels(command=command), node="node0", network="devnet", delivery=FAST,
                        count=lambda channel, result: counted.append((channel, result)))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(notifier.run)
        notifier.send(note("worker_offline", "worker a.rig is offline"))
        await wait_for(lambda: counted, 30)
        nursery.cancel_scope.cancel()
    assert counted == [("command", "sent")]
    kind, body = out.read_text().split("\n", 1)
    assert kind == "worker_offline" and json.loads(body)["text"] == "worker a.rig is offline"


async def test_a_receiver_that_never_answers_never_blocks_the_sender():
    counted: list[tuple[str, str]] = []
    with WebhookReceiver(hang=True) as receiver:
        notifier = Notifier(Channels(webhook=receiver.url), node="n", network="devnet",
                            delivery=Delivery(attempts=1, timeout=30.0, queue=3),
                            count=lambda channel, result: counted.append((channel, result)))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(notifier.run)
            await wait_for(lambda: True)
            started = trio.current_time()
            for i in range(10):
                notifier.send(note(text=f"block {i}"))  # returns at once, however stuck the receiver is
            assert trio.current_time() - started < 0.5
            await wait_for(lambda: receiver.attempts == 1)
            nursery.cancel_scope.cancel()
    # One is being delivered, three wait in the queue, the rest were dropped and counted.
    assert notifier.dropped >= 6 and counted.count(("queue", "dropped")) == notifier.dropped


async def test_new_channels_apply_to_what_is_sent_next():
    with WebhookReceiver() as first, WebhookReceiver() as second:
        notifier = Notifier(Channels(webhook=first.url), node="n", network="devnet", delivery=FAST)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(notifier.run)
            notifier.send(note(text="one"))
            await wait_for(lambda: first.received)
            notifier.configure(Channels(webhook=second.url))
            notifier.send(note(text="two"))
            await wait_for(lambda: second.received)
            notifier.configure(Channels())
            notifier.send(note(text="three"))  # no channel: nothing is queued
            nursery.cancel_scope.cancel()
    assert [b["text"] for b in first.received] == ["one"] and [b["text"] for b in second.received] == ["two"]
