"""
The Docker Engine inside the nodes (the final API's module).

Our nodes' engine is the one their Debian release packages (Docker 20.10 on bookworm,
26.1 on trixie): ``DockerVersion.DISTRIBUTION`` asks for it. The final's fixed versions
are here so that code naming them imports, and are refused by
``Docker(docker_version=...)``.
"""

import enum

__all__ = ["DockerVersion"]


class DockerVersion(enum.Enum):
    """A Docker Engine for the nodes."""

    # The final API's, refused.
    v1_11_2 = 1
    v1_13_1 = 2
    v17_12_1_ce = 3
    v18_06_3_ce = 4
    # Ours: the engine of the nodes' Debian release.
    DISTRIBUTION = "distribution"
