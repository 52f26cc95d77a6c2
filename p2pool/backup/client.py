"""``otedama backup DIR``: ask a running node for a snapshot (``POST /api/backup``) and unpack it into DIR.

Only plain files with plain names are taken from the tar (nothing can land outside DIR); the result
is checked against its manifest before the command says it is done.
"""

from __future__ import annotations

import os
import shutil
import ssl
import tarfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from p2pool.backup.manifest import MANIFEST, BackupError, Manifest, valid_name, verify

_TIMEOUT = httpx.Timeout(30.0, read=600.0)
_MAX_MEMBER = 64 * 1024 * 1024 * 1024


@dataclass(frozen=True)
class NodeApi:
    """Where a node's API answers and its admin token."""

    url: str  # http://HOST:PORT or https://HOST:PORT
    token: str
    cafile: Path | None = None  # trust this certificate (a self-signed HTTPS API)

    def verify(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=str(self.cafile)) if self.cafile else True


def api_url(address: str) -> str:
    """``HOST:PORT`` or a URL -> the API's base URL."""
    address = address.strip().rstrip("/")
    return address if address.startswith(("http://", "https://")) else f"http://{address}"


def download(api: NodeApi, directory: Path) -> Manifest:
    """The node's snapshot, unpacked into ``directory`` (new or empty) and verified."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BackupError(f"{directory} already exists and is not an empty directory; choose a new one")
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)  # it holds the node's identity key and API token
    archive = directory / ".download.tar"
    try:
        _fetch(api, archive)
        _unpack(archive, directory)
    except BaseException:
        archive.unlink(missing_ok=True)
        shutil.rmtree(directory, ignore_errors=True)
        raise
    archive.unlink(missing_ok=True)
    return verify(directory)


def _fetch(api: NodeApi, archive: Path) -> None:
    headers = {"Authorization": f"Bearer {api.token}"}
    try:
        with httpx.stream("POST", f"{api.url}/api/backup", headers=headers, timeout=_TIMEOUT,
                          verify=api.verify()) as reply:
            if reply.status_code != 200:
                reply.read()
                raise BackupError(f"the node at {api.url} refused: HTTP {reply.status_code}: {_error(reply)}")
            with open(archive, "wb") as out:
                out.writelines(reply.iter_bytes(1 << 20))
    except httpx.ConnectError as exc:
        raise BackupError(f"no node answers at {api.url} ({exc}); is it running? (--api HOST:PORT)") from None
    except httpx.HTTPError as exc:
        raise BackupError(f"the backup from {api.url} failed: {type(exc).__name__}: {exc}") from None


def _error(reply: httpx.Response) -> str:
    try:
        return str(reply.json().get("error", reply.text))
    except ValueError:
        return reply.text[:200]


def _unpack(archive: Path, directory: Path) -> None:
    try:
        with tarfile.open(archive, "r:") as tar:
            names = set()
            for member in tar:
                if not member.isfile() or not (valid_name(member.name) or member.name == MANIFEST) \
                        or member.name in names or member.size > _MAX_MEMBER:
                    raise BackupError(f"the node sent an archive with an unexpected entry {member.name!r}")
                names.add(member.name)
                source = tar.extractfile(member)
                assert source is not None
                fd = os.open(directory / member.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with source, os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(source, out)
    except tarfile.TarError as exc:
        raise BackupError(f"the node sent a damaged archive: {exc}") from None
