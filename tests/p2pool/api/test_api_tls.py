"""A node whose API speaks HTTPS (--api-tls-cert/--api-tls-key), reached with the standard library's TLS client."""

from __future__ import annotations

import http.client
import json
import ssl

import pytest
import trio

from p2pool.config import ConfigError, node_config
from p2pool.node import Node
from tests.tlscert import client_context, self_signed_cert


def https_get(port: int, path: str, context: ssl.SSLContext) -> tuple[int, dict]:
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        connection.request("GET", path)
        reply = connection.getresponse()
        return reply.status, json.loads(reply.read())
    finally:
        connection.close()


async def test_a_node_serves_its_api_over_https(tmp_path) -> None:
    cert, key = self_signed_cert(tmp_path / "tls")
    config = node_config(datadir=str(tmp_path / "node"), stratum="127.0.0.1:0", api="127.0.0.1:0", no_miner=True,
                         no_p2p=True, api_tls_cert=str(cert), api_tls_key=str(key))
    async with trio.open_nursery() as nursery:
        endpoints = await nursery.start(Node(config).run)
        status, body = await trio.to_thread.run_sync(https_get, endpoints.api_port, "/api/status", client_context(cert))
        assert status == 200 and body["network"] == "devnet"
        untrusting = ssl.create_default_context()  # the system's CAs: our self-signed certificate is not among them
        with pytest.raises(ssl.SSLCertVerificationError):
            await trio.to_thread.run_sync(https_get, endpoints.api_port, "/api/health", untrusting)
        nursery.cancel_scope.cancel()


def test_a_certificate_without_its_key_is_refused(tmp_path) -> None:
    cert, _ = self_signed_cert(tmp_path)
    with pytest.raises(ConfigError, match="--api-tls-cert and --api-tls-key go together"):
        node_config(datadir=str(tmp_path), api_tls_cert=str(cert))


async def test_unreadable_tls_files_stop_the_node_with_one_clear_error(tmp_path) -> None:
    config = node_config(datadir=str(tmp_path / "node"), stratum="127.0.0.1:0", api="127.0.0.1:0", no_miner=True,
                         no_p2p=True, api_tls_cert=str(tmp_path / "no-cert.pem"),
                         api_tls_key=str(tmp_path / "no-key.pem"))
    with pytest.raises(BaseExceptionGroup) as caught:
        await Node(config).run()
    errors = caught.value.subgroup(lambda e: isinstance(e, ConfigError))
    assert errors is not None
    while isinstance(errors, BaseExceptionGroup):  # nurseries inside nurseries
        [errors] = errors.exceptions
    error = errors
    assert str(error).startswith("--api-tls-cert/--api-tls-key: cannot load the TLS certificate")
