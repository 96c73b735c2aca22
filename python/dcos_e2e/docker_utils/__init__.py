"""
Docker helpers of the final DC/OS E2E API: ``DockerLoopbackVolume``, a loop device in a
sidecar container, to give a cluster's nodes an unformatted disk.
"""

from typing import Any, Dict, Optional

from .. import _checks, _core

__all__ = ["DockerLoopbackVolume"]


class DockerLoopbackVolume:
    """
    A block device of ``size_megabytes`` MiB: a loop device backed by a file in a
    sidecar container of ours (made from the node image, not ``--privileged``: it gets
    the loop control device and the right to make loop device nodes). The device is
    the kernel's, so any container given access to it (``--device``, or a device
    cgroup rule for block major 7) sees it.

    Use it as a context manager, or call ``destroy()``; leaving the block detaches the
    device and removes the sidecar.

    Attributes:
        path: The device, such as ``/dev/loop3``.
    """

    def __init__(self, size_megabytes: int, labels: Optional[Dict[str, str]] = None) -> None:
        """
        Args:
            size_megabytes: The device's size, in MiB (at least 1).
            labels: Docker labels of yours on the sidecar container, beside ours.

        Raises:
            dcos_e2e.HarnessError: The host gives no loop devices (no
                ``/dev/loop-control``, or the daemon refuses access to it).
        """
        size = _checks.count("size_megabytes", size_megabytes)
        if size == 0:
            raise ValueError("size_megabytes must be at least 1")
        given = _checks.mapping("labels", labels)
        pairs = {_checks.text("labels", k): _checks.text("labels", v) for k, v in given.items()}
        self._handle = _core.create_loopback(size, pairs)
        self.path = self._handle.path

    @property
    def container_id(self) -> str:
        """The sidecar container's id."""
        return self._handle.container

    def destroy(self) -> None:
        """Detach the device and remove the sidecar; a second call does nothing."""
        self._handle.destroy()

    def __enter__(self) -> "DockerLoopbackVolume":
        return self

    def __exit__(self, *exc_info: Any) -> bool:
        self.destroy()
        return False
