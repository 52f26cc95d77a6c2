"""``POST /api/backup`` (admin): the node makes a consistent snapshot of itself and sends it as a tar.

``otedama backup DIR`` calls it, unpacks the tar into DIR and checks it against its manifest; see
:mod:`p2pool.backup.snapshot` for what is in it and why it is consistent. One backup at a time (409
while one is being made); the audit log records each.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Protocol

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from p2pool.api.audit import AuditLog
from p2pool.api.routes import ERROR, Operation, Reply


class BackupMaker(Protocol):
    """What makes the snapshot (:class:`p2pool.backup.snapshot.Snapshots`)."""

    @property
    def busy(self) -> bool: ...

    async def make(self) -> Path: ...


TAR = "application/x-tar"


async def backup(request: Request) -> Response:
    """A consistent snapshot of the node: sharechain, peer book and bans, identity key, config, statistics."""
    make: BackupMaker | None = request.app.state.backup
    audit: AuditLog = request.app.state.audit
    record = partial(audit.record, client=request.client.host if request.client else "", action="backup",
                     arguments={})
    busy = make is not None and make.busy
    if make is None or busy:
        message = "a backup is being made; try again when it is done" if busy else "not available on this node"
        record(outcome="unavailable", message=message)
        return JSONResponse({"error": message}, 409)
    try:
        path = await make.make()
    except OSError as exc:
        record(outcome="error", message=f"{type(exc).__name__}: {exc}")
        return JSONResponse({"error": f"the node could not write the backup: {exc.strerror or exc}"}, 507)
    record(outcome="ok", message=f"{path.name}, {path.stat().st_size} bytes")
    return FileResponse(path, media_type=TAR, filename=path.name,
                        background=BackgroundTask(path.unlink, missing_ok=True))


OPERATION = Operation("POST", "/api/backup", backup, ("admin",), {
    200: Reply("the snapshot as an uncompressed tar", media=TAR),
    409: Reply("not available on this node, or a backup is being made", ERROR),
    507: Reply("the node could not write the backup", ERROR),
}, admin=True)
