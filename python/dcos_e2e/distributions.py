"""
The Linux distributions of the nodes (the final API's module).

Ours are Debian releases, built on this machine from Debian's packages: the final's
members (CentOS, CoreOS, Ubuntu, RHEL, Flatcar) are here so that code naming them
imports, and are refused by ``Docker(linux_distribution=...)`` with the list of ours.
"""

import enum

__all__ = ["Distribution"]


class Distribution(enum.Enum):
    """A Linux distribution for the nodes."""

    # The final API's, refused.
    CENTOS_7 = 1
    COREOS = 2
    UBUNTU_16_04 = 3
    RHEL_7 = 4
    CENTOS_8 = 5
    FLATCAR = 6
    # Ours: Debian releases (Debian 12, the default; 13; 14, which needs a cgroup v2 host).
    DEBIAN_BOOKWORM = "bookworm"
    DEBIAN_TRIXIE = "trixie"
    DEBIAN_FORKY = "forky"


#: The releases we build, by member.
OURS = (Distribution.DEBIAN_BOOKWORM, Distribution.DEBIAN_TRIXIE, Distribution.DEBIAN_FORKY)
