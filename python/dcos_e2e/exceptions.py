"""
Exceptions of the final DC/OS E2E API. ``subprocess.CalledProcessError``, ``ValueError``
and ``TimeoutError`` are raised as the original did; ``HarnessError`` is ours.
"""

from ._core import DCOSNotInstalledError, HarnessError

__all__ = ["DCOSNotInstalledError", "HarnessError"]
