"""
The abstract classes of a cluster backend, where the final DC/OS E2E API has them
(``dcos_e2e.base_classes``); they are the ones ``dcos_e2e.backends`` defines.
"""

from .backends import ClusterBackend, ClusterManager

__all__ = ["ClusterBackend", "ClusterManager"]
