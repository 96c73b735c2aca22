"""
Exceptions of the final DC/OS E2E API. ``subprocess.CalledProcessError``, ``ValueError``
and ``TimeoutError`` are raised as the original did; ``HarnessError`` is ours.
"""

from ._core import DCOSNotInstalledError, HarnessError

__all__ = ["DCOSNotInstalledError", "DCOSTimeoutError", "HarnessError"]


class DCOSTimeoutError(TimeoutError):
    """
    DC/OS was not up in time (the final API's ``wait_for_dcos_oss`` and
    ``wait_for_dcos_ee``). A ``TimeoutError``, as the 2017 API's ``wait_for_dcos``
    raises, so either ``except`` catches it.
    """
