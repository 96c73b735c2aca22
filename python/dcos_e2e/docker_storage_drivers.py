"""
The storage driver of the Docker Engine inside the nodes (the final API's module).

``OVERLAY_2`` is the kernel's overlayfs; ours add ``FUSE_OVERLAYFS`` and ``VFS`` (which
work on any volume) and ``AUTO`` (the first that works, at each boot; the default).
``AUFS`` and ``OVERLAY`` (the old single-layer driver) are refused: recent engines
have neither.
"""

import enum

__all__ = ["DockerStorageDriver"]


class DockerStorageDriver(enum.Enum):
    """A storage driver for the nodes' Docker Engine."""

    AUFS = 1
    OVERLAY = 2
    OVERLAY_2 = 3
    FUSE_OVERLAYFS = "fuse-overlayfs"
    VFS = "vfs"
    AUTO = "auto"
