"""Runs the devchain's JSON-RPC server: ``otedama devchain`` and the node's default backend both call this."""

from __future__ import annotations

import logging
import os
import secrets
import time

import trio

from p2pool.devchain.rpc import DevchainRpc
from p2pool.devchain.service import Devchain, DevchainConfig
from p2pool.http.server import serve_http

log = logging.getLogger(__name__)


def _write_cookie(config: DevchainConfig) -> tuple[str, str]:
    password = secrets.token_hex(32)
    config.datadir.mkdir(parents=True, exist_ok=True)
    fd = os.open(config.cookie_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"__cookie__:{password}")
    return "__cookie__", password


async def serve_devchain(config: DevchainConfig, *, devchain: Devchain | None = None,
                         task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    """Open the devchain in ``config.datadir`` and serve its RPC until cancelled; ``started()`` gets the port.

    Auth: ``rpc_user``/``rpc_password`` when both are set, else the cookie file when ``cookie`` is set,
    else none. The LevelDB store is closed (and the cookie removed) on the way out. A caller that
    passes its own opened ``devchain`` (to look at its state in-process) keeps it and closes it itself.
    """
    owned = devchain is None
    if devchain is None:
        devchain = Devchain(config)
    auth = None
    wrote_cookie = False
    try:
        if config.rpc_user is not None and config.rpc_password is not None:
            auth = (config.rpc_user, config.rpc_password)
        elif config.cookie:
            auth = _write_cookie(config)
            wrote_cookie = True
        rpc = DevchainRpc(devchain, clock=time.time, auth=auth)
        log.info("devchain: RPC on %s:%s, datadir %s, bits %08x", config.host, config.port, config.datadir,
                 config.bits)
        await serve_http(rpc.handle, config.host, config.port, what="the dev chain's JSON-RPC (--rpc)",
                         task_status=task_status)
    finally:
        if owned:
            devchain.close()
        if wrote_cookie:
            config.cookie_path.unlink(missing_ok=True)
