"""Notifications to the operator: a webhook and a command hook, on block found, worker offline, node unhealthy.

:mod:`.watch` decides what deserves a notification (pure: times are passed in); :mod:`.sender` delivers
them from a task of its own with a bounded queue, retrying with back-off, so the node never waits on a
receiver.
"""

from p2pool.notify.sender import Channels, Notifier
from p2pool.notify.watch import HealthWatch, Notification, WorkerWatch, block_found

__all__ = ["Channels", "HealthWatch", "Notification", "Notifier", "WorkerWatch", "block_found"]
