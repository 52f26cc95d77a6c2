"""Binding a listener: each way it fails is one ConfigError naming what, where and a way out."""

from __future__ import annotations

import re
import socket

import pytest

from p2pool.error import ConfigError
from p2pool.listen import ListenError, open_listeners


async def test_a_port_in_use_is_named():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ListenError, match=f"cannot listen for Test on 127.0.0.1:{port}: port {port} is already in use"):
            await open_listeners("127.0.0.1", port, "Test")


async def test_an_address_of_another_machine_and_an_unknown_name_are_told_apart():
    with pytest.raises(ConfigError, match=re.escape("192.0.2.1:0: that is not an address of this machine")):
        await open_listeners("192.0.2.1", 0, "Test")
    with pytest.raises(ConfigError, match=re.escape("'no-such-host.invalid' is not a known host name")):
        await open_listeners("no-such-host.invalid", 0, "Test")


async def test_a_free_port_opens():
    listeners = await open_listeners("127.0.0.1", 0, "Test")
    try:
        assert listeners[0].socket.getsockname()[1] > 0
    finally:
        for listener in listeners:
            await listener.aclose()
