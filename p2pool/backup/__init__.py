"""Backups of a running node and their restore.

:mod:`.snapshot` makes one inside the node (``POST /api/backup``), :mod:`.client` fetches it for
``otedama backup DIR``, :mod:`.restore` writes it into a datadir no node is using (``otedama restore
DIR``); :mod:`.manifest` and :mod:`.dump` are the format.
"""

from p2pool.backup.manifest import BackupError, Manifest

__all__ = ["BackupError", "Manifest"]
