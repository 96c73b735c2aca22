"""
DC/OS E2E: end-to-end test clusters for systems installed onto several machines.

The API of the original ``dcos_e2e`` Python package (``dcos_e2e.cluster.Cluster``,
``dcos_e2e.backends.Docker`` and ``ExistingCluster``, ``dcos_e2e.node.Node``) on the
dcos-e2e Rust library: clusters of machine-like Docker containers, or existing hosts
reached over SSH. See ``DIFFERENCES.md`` for where it deliberately departs from the
original.
"""

from ._core import HarnessError, __version__

__all__ = ["HarnessError", "__version__"]
