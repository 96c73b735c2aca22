"""
Faults a test injects: network cuts between nodes (``Cluster.partition``,
``Node.isolate``), held as ``Partition`` objects that heal on leaving a ``with`` block,
and the checks of slow-link parameters (``Node.shape``, ``Cluster.shape_between``).
"""

from typing import Any, Dict, Optional

from . import _checks, _core

__all__ = ["Partition"]


class Partition:
    """
    A network cut between groups of nodes, in place until healed. As a context manager
    it heals when the ``with`` block ends, however it ends::

        with cluster.partition([master], [agent]):
            ...  # the master and the agent cannot reach each other

    Attributes:
        name: The name its firewall rules carry on the nodes.
    """

    def __init__(self, handle: "_core.PartitionHandle") -> None:
        self._handle = handle
        self.name: str = handle.name

    def heal(self) -> None:
        """Remove this cut's rules (only these). Healing twice is healing once."""
        self._handle.heal()

    def __enter__(self) -> "Partition":
        return self

    def __exit__(self, *exc_info: Any) -> bool:
        self.heal()
        return False

    def __repr__(self) -> str:
        return "Partition(name={!r})".format(self.name)


def link(
    rate: Any = None, delay: Any = None, jitter: Any = None, loss: Any = None
) -> Dict[str, Optional[Any]]:
    """The keywords of a slow link, checked: rate in bits per second (an int), delay
    and jitter in seconds, loss in percent."""
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int)):
        raise _checks.type_error("rate", "an int (bits per second) or None", rate)
    checked: Dict[str, Optional[Any]] = {"rate": rate}
    for name, value in (("delay", delay), ("jitter", jitter)):
        checked[name] = None if value is None else _checks.seconds(name, value)
    if loss is not None and (isinstance(loss, bool) or not isinstance(loss, (int, float))):
        raise _checks.type_error("loss", "a percentage (a number) or None", loss)
    checked["loss"] = None if loss is None else float(loss)
    return checked
