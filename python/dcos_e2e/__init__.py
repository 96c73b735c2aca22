"""
DC/OS E2E: end-to-end test clusters for systems installed onto several machines.

The API of the original ``dcos_e2e`` Python package (``dcos_e2e.cluster.Cluster``,
``dcos_e2e.backends.Docker`` and ``ExistingCluster``, ``dcos_e2e.node.Node``) on the
dcos-e2e Rust library: clusters of machine-like Docker containers, or existing hosts
reached over SSH. See ``DIFFERENCES.md`` for where it deliberately departs from the
original.
"""

import logging

from ._core import HarnessError, __version__

# The original package set the root logger to DEBUG at import (`basicConfig`), so its
# users' tests saw its DEBUG records with pytest's `caplog`. This package's loggers
# (`dcos_e2e.*`) pass DEBUG records on in the same way, unless configured otherwise;
# no handler is added and the root logger is left alone.
_package_logger = logging.getLogger(__name__)
if _package_logger.level == logging.NOTSET:
    _package_logger.setLevel(logging.DEBUG)

__all__ = ["HarnessError", "__version__"]
