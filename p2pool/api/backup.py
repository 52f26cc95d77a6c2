"""``POST /api/backup`` (admin): the node makes a consistent snapshot of itself and sends it as a tar.

``otedama backup DIR`` calls it, unpacks the tar into DIR and checks it against its manifest; see
:mod:`p2pool.backup.snapshot` for what is in it and why it is consistent. One backup at a time (409
while one is being made); the audit log records each.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Protocol

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.background import BackgroundTask

from p2pool.api.audit import AuditLog
from p2pool.api.auth import ADMIN


class BackupMaker(Protocol):
    """What makes the snapshot (:class:`p2pool.backup.snapshot.Snapshots`)."""

    @property
    def busy(self) -> bool: ...

    async def make(self) -> Path: ...


TAR = "application/x-tar"

router = APIRouter(dependencies=[ADMIN], tags=["admin"])


@router.post("/api/backup", response_class=Response,
             responses={200: {"content": {TAR: {}}, "description": "the snapshot as an uncompressed tar"},
                        409: {"description": "not available on this node, or a backup is being made"}})
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
