"""Functional-test framework in the manner of Bitcoin Core's: real nodes, waits on observable state.

``NodeProcess`` runs ``otedama run`` (or ``otedama bootstrap``, a seed node) as a real child process
on 127.0.0.1 with free ports and its own datadir; tests poll its HTTP API (never sleep for a fixed
time) through :func:`wait_until`. :func:`connect_nodes` and :func:`sync_sharechains` state and await
a topology. Every wait is multiplied by ``OTEDAMA_TIMEOUT_FACTOR`` (default 1) for slow machines.
(In-process federations, for tests that drive nodes directly, are in ``federation.py``.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from tests.ports import free_port

T = TypeVar("T")
TIMEOUT_FACTOR = float(os.environ.get("OTEDAMA_TIMEOUT_FACTOR", "1"))
REPO = Path(__file__).resolve().parents[2]


def otedama(*args: str, env: Mapping[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m p2pool ARGS`` run to its end; no ``OTEDAMA_*`` option of this environment leaks in."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("OTEDAMA_") or k == "OTEDAMA_TIMEOUT_FACTOR"}
    return subprocess.run([sys.executable, "-m", "p2pool", *args], cwd=REPO, env={**inherited, **(env or {})},
                          capture_output=True, text=True, timeout=timeout * TIMEOUT_FACTOR, check=False)


def wait_until(predicate: Callable[[], T], timeout: float = 60, what: str = "condition", interval: float = 0.1) -> T:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout * TIMEOUT_FACTOR
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (OSError, urllib.error.URLError, ValueError, KeyError) as exc:
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout * TIMEOUT_FACTOR:.0f} s waiting for {what}"
                         + (f" (last error: {last_error})" if last_error else ""))


class NodeProcess:
    """One ``otedama run`` child process."""

    def __init__(self, datadir: Path, *extra_args: str, name: str = "node", command: str = "run",
                 env: Mapping[str, str] | None = None) -> None:
        self.datadir = datadir
        self.env = dict(env or {})
        self.name = name
        self.command = command
        self.stratum_port = free_port()
        self.api_port = free_port()
        self.p2p_port = free_port()
        self.extra_args = list(extra_args)
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = datadir.parent / f"{datadir.name}.log"

    @property
    def args(self) -> list[str]:
        p2p = [] if "--no-p2p" in self.extra_args else ["--p2p", f"/ip4/127.0.0.1/tcp/{self.p2p_port}"]
        stratum = ["--stratum", f"127.0.0.1:{self.stratum_port}"] if self.command == "run" else []
        return [sys.executable, "-m", "p2pool", self.command, "--datadir", str(self.datadir), *stratum,
                "--api", f"127.0.0.1:{self.api_port}", *p2p, *self.extra_args]

    def start(self) -> NodeProcess:
        self.datadir.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_until(self._api_up, 120, f"{self.name} API to answer")
        return self

    def _api_up(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
        return self.get("/api/health", allow_error=True) is not None

    def get(self, path: str, allow_error: bool = False) -> Any:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.api_port}{path}", timeout=5) as reply:
                body = reply.read()
        except urllib.error.HTTPError as exc:
            if not allow_error:
                raise
            body = exc.read()
        return json.loads(body) if path.startswith("/api/") else body.decode()

    def status(self) -> dict[str, Any]:
        return self.get("/api/status")

    @property
    def api_token(self) -> str:
        """The admin token the node wrote into its datadir on first start."""
        return (self.datadir / "api-token").read_text().strip()

    def post(self, path: str, body: str) -> Any:
        """POST ``body`` to an admin endpoint, with the node's API token."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.api_port}{path}", data=body.encode(), method="POST",
                                         headers={"Authorization": f"Bearer {self.api_token}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read())

    @property
    def p2p_addr(self) -> str:
        """This node's full multiaddr, as peers dial it."""
        return f"/ip4/127.0.0.1/tcp/{self.p2p_port}/p2p/{self.status()['peer_id']}"

    def tip(self) -> tuple[str | None, int]:
        sharechain = self.status()["sharechain"]
        return sharechain["tip"], sharechain["shares"]

    def kill(self) -> None:
        """``kill -9``: no chance to flush or close anything."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> int:
        """SIGTERM and wait for a clean exit; returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30 * TIMEOUT_FACTOR)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"{self.name} did not stop on SIGTERM:\n{self.log_tail()}") from None
        return self.process.returncode

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def start_devchain(datadir: Path, port: int, bits: int | None = None) -> subprocess.Popen[bytes]:
    """``otedama devchain`` as a child process on 127.0.0.1:``port`` (its log beside ``datadir``)."""
    args = [sys.executable, "-m", "p2pool", "devchain", "--datadir", str(datadir), "--rpc", f"127.0.0.1:{port}"]
    if bits is not None:
        args += ["--bits", f"{bits:08x}"]
    datadir.parent.mkdir(parents=True, exist_ok=True)
    with open(datadir.parent / f"{datadir.name}.log", "ab") as log:
        return subprocess.Popen(args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)


def rpc(url: str, method: str, *params: Any) -> Any:
    """One JSON-RPC call to a chain backend (the dev chain takes no credentials)."""
    body = json.dumps({"jsonrpc": "1.0", "id": 1, "method": method, "params": list(params)}).encode()
    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        answer = json.loads(reply.read())
    if answer.get("error"):
        raise ValueError(f"{method}: {answer['error']}")
    return answer["result"]


def connect_nodes(a: NodeProcess, b: NodeProcess, timeout: float = 30) -> None:
    """``a`` dials ``b`` (through a's local API); returns once each lists the other as a peer."""
    reply = a.post("/api/p2p/connect", b.p2p_addr)
    assert reply.get("ok"), f"{a.name} could not connect to {b.name}: {reply}"
    a_id, b_id = a.status()["peer_id"], b.status()["peer_id"]

    def linked() -> bool:
        return (any(p["id"] == b_id for p in a.status()["p2p"]["peers"])
                and any(p["id"] == a_id for p in b.status()["p2p"]["peers"]))

    wait_until(linked, timeout, f"{a.name} and {b.name} to see each other")


def sync_sharechains(nodes: list[NodeProcess], timeout: float = 60) -> str:
    """Wait until every node reports the same sharechain tip and share count; returns the tip."""
    def same() -> str | None:
        tips = {node.tip() for node in nodes}
        return next(iter(tips))[0] if len(tips) == 1 else None

    try:
        tip = wait_until(same, timeout, f"{len(nodes)} sharechains to agree")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: " + "; ".join(f"{n.name} {n.tip()}" for n in nodes)) from None
    assert tip is not None
    return tip
