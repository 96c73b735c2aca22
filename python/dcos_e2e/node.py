"""
Nodes of a cluster, and the processes started on them.
"""

import enum
import ipaddress
import subprocess
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

from . import _checks, _core, faults

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


class Transport(enum.Enum):
    """
    How commands reach the nodes of a Docker cluster (``Docker(transport=...)``).
    Nodes of an ``ExistingCluster`` are always reached over SSH.
    """

    #: SSH with the cluster's key; one kept-open connection per node.
    SSH = "ssh"
    #: ``docker exec`` through the Docker API; needs no route to the node addresses.
    DOCKER_EXEC = "docker-exec"


class Output(enum.Enum):
    """What happens to a command's output (the final API's)."""

    #: Captured, returned in the result.
    CAPTURE = 1
    #: Captured, and each line logged as it arrives.
    LOG_AND_CAPTURE = 2
    #: Not captured: passed on to this process's standard output and error.
    NO_CAPTURE = 3


class Role(enum.Enum):
    """A node's role (the final API's)."""

    MASTER = "master"
    AGENT = "agent"
    PUBLIC_AGENT = "public_agent"


class DCOSVariant(enum.Enum):
    """A DC/OS variant, as ``Node.dcos_build_info()`` tells it (the final API's)."""

    OSS = 1
    ENTERPRISE = 2


class DCOSBuildInfo:
    """
    The DC/OS build on a node (the final API's): ``version``, ``commit`` and
    ``variant`` (a ``DCOSVariant``).
    """

    def __init__(self, version: str, commit: str, variant: DCOSVariant) -> None:
        self.version = version
        self.commit = commit
        self.variant = variant

    def __repr__(self) -> str:
        return "DCOSBuildInfo(version={!r}, commit={!r}, variant={})".format(
            self.version, self.commit, self.variant
        )


class Node:
    """
    A node of a cluster: a Docker container or a host reached over SSH.

    Nodes come from ``Cluster.masters``, ``.agents`` and ``.public_agents``. A node made
    directly, ``Node(ip_address, ssh_key_path)``, is a host reached over SSH as the given
    user with that key.

    Attributes:
        ip_address: The node's address (on the cluster network for Docker nodes).
    """

    def __init__(
        self,
        ip_address: IPAddress,
        ssh_key_path: Path,
    ) -> None:
        """
        Args:
            ip_address: The node's IP address (``ipaddress.IPv4Address``; a ``str`` is
                converted).
            ssh_key_path: A private key that logs in to the node over SSH.
        """
        if isinstance(ip_address, str):
            try:
                ip_address = ipaddress.ip_address(ip_address)
            except ValueError:
                raise ValueError(
                    "ip_address must be an IP address, got {!r}".format(ip_address)
                ) from None
        if not isinstance(ip_address, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            raise _checks.type_error(
                "ip_address", "an ipaddress.IPv4Address", ip_address
            )
        self.ip_address = ip_address
        self._ssh_key_path = _checks.path("ssh_key_path", ssh_key_path)
        self._handle: Optional[_core.NodeHandle] = None
        # A weak reference to the cluster a node of a library cluster belongs to (for
        # its upgrade).
        self._cluster: Any = None

    @classmethod
    def _of(cls, handle: _core.NodeHandle) -> "Node":
        """A node of a cluster the library made or wrapped."""
        node = cls.__new__(cls)
        node.ip_address = ipaddress.ip_address(handle.ip_address)
        node._ssh_key_path = Path(handle.ssh_key_path)
        node._handle = handle
        node._cluster = None
        return node

    def dcos_build_info(self, transport: Any = None) -> DCOSBuildInfo:
        """
        The DC/OS build installed on this node, from
        ``/opt/mesosphere/etc/dcos-version.json``.

        Args:
            transport: Accepted for the final API; the node's own transport is used.

        Raises:
            dcos_e2e.exceptions.DCOSNotInstalledError: DC/OS is not installed here.
        """
        version, commit, variant = self._node().dcos_build_info()
        kind = DCOSVariant.ENTERPRISE if variant == "enterprise" else DCOSVariant.OSS
        return DCOSBuildInfo(version=version, commit=commit, variant=kind)

    def upgrade_dcos_from_path(
        self,
        dcos_installer: Path,
        dcos_config: Optional[Dict[str, Any]] = None,
        ip_detect_path: Optional[Path] = None,
        role: Any = None,
        files_to_copy_to_genconf_dir: Any = (),
        user: Optional[str] = None,
        output: Any = None,
        transport: Any = None,
    ) -> None:
        """
        Upgrade DC/OS on this node from ``dcos_installer`` (the final API's), by the
        installer contract's upgrade path; see ``Cluster.upgrade_dcos_from_path``. The
        node keeps its own role (``role`` is accepted for the final API).
        """
        cluster = self._cluster() if self._cluster is not None else None
        if cluster is None:
            raise NotImplementedError(
                "upgrading needs a node of a live cluster of this package's backends"
            )
        cluster.upgrade_dcos_from_path(
            dcos_installer,
            dcos_config=dcos_config,
            ip_detect_path=ip_detect_path,
            output=output,
            files_to_copy_to_genconf_dir=files_to_copy_to_genconf_dir,
            _nodes=[self],
        )

    def _node(self) -> _core.NodeHandle:
        if self._handle is None:
            self._handle = _core.standalone_node(
                str(self.ip_address), str(self._ssh_key_path)
            )
        return self._handle

    @property
    def ssh_key_path(self) -> Path:
        """The private key that logs in to this node."""
        return self._ssh_key_path

    def __repr__(self) -> str:
        return "Node(ip_address={!r}, ssh_key_path={!r})".format(
            self.ip_address, self._ssh_key_path
        )

    def _command(
        self,
        args: Any,
        user: Any,
        env: Any,
    ) -> Tuple[List[str], str, Optional[str], List[Tuple[str, str]]]:
        words = _checks.args("args", args)
        user = _checks.optional_str("user", user)
        pairs = _checks.env("env", env)
        # The words are joined and read by the node's shell, as over `ssh`: `$USER`,
        # `&&` and `|` in them work.
        return words, " ".join(words), user, pairs

    def run(
        self,
        args: List[str],
        user: Optional[str] = None,
        log_output_live: bool = False,
        env: Optional[Dict[str, Any]] = None,
    ) -> "CompletedProcess[bytes]":
        """
        Run a command on this node as the given user and wait for it.

        Args:
            args: The command, as words joined with spaces and read by the node's shell
                (so ``['echo', '$USER']`` prints the user, and ``'&&'`` or ``'|'``
                work).
            user: The user to run as; the cluster's default SSH user if ``None``.
            log_output_live: If ``True``, log each line of output as it arrives (a
                DEBUG record of the ``dcos_e2e.node`` logger), with stderr merged into
                stdout.
            env: Environment variables to set for the command.

        Returns:
            The finished process; ``stdout`` and ``stderr`` are ``bytes``.

        Raises:
            subprocess.CalledProcessError: The command exited with a non-zero status,
                or the node could not be reached (status 255, as ``ssh`` reports).
        """
        words, script, user, pairs = self._command(args, user, env)
        live = _checks.boolean("log_output_live", log_output_live)
        if live:
            # One stream, in order, for the live log (as the original merged them).
            script = "exec 2>&1; " + script
        stdout, stderr = self._node().run(script, user, pairs, live, words)
        return CompletedProcess(args=words, returncode=0, stdout=stdout, stderr=stderr)

    def popen(
        self,
        args: List[str],
        user: Optional[str] = None,
        env: Optional[Dict[str, Any]] = None,
    ) -> "Process":
        """
        Start a command on this node and return at once, while it runs.

        Args:
            args: The command, joined and read by the node's shell as in ``run``.
            user: The user to run as; the cluster's default SSH user if ``None``.
            env: Environment variables to set for the command.

        Returns:
            The running process: ``communicate()``, ``poll()``, ``wait()``,
            ``kill()``, and its ``stdout`` and ``stderr`` streams.
        """
        words, script, user, pairs = self._command(args, user, env)
        handle = self._node().popen(script, user, pairs, words)
        return Process(words, handle)

    def send_file(self, local_path: Path, remote_path: Path) -> None:
        """
        Copy a file to this node, creating missing parent directories.

        Args:
            local_path: The file on this host.
            remote_path: Where to put it on the node (an absolute path).
        """
        local = _checks.path("local_path", local_path)
        remote = _checks.path("remote_path", remote_path)
        self._node().send_file(str(local), str(remote))

    def stop(self) -> None:
        """
        Stop this node's machine as a host shuts down. Its address, disks and keys are
        kept; commands on it raise ``CalledProcessError`` (status 255) at once until
        ``start``.

        Raises:
            NotImplementedError: The node is not a Docker container of ours.
        """
        self._node().machine("stop")

    def start(self) -> None:
        """Start a stopped node and wait until it accepts commands again."""
        self._node().machine("start")

    def restart(self) -> None:
        """Stop and start the node (a reboot), then wait until it accepts commands."""
        self._node().machine("restart")

    def pause(self) -> None:
        """Freeze every process of the node until ``resume``."""
        self._node().machine("pause")

    def resume(self) -> None:
        """Let a paused node go on where it was."""
        self._node().machine("resume")

    def kill(self, signal: str = "SIGKILL") -> str:
        """
        Send ``signal`` to the node's first process; returns what the node does then
        (``'stopped'`` after ``SIGKILL``).
        """
        return self._node().machine("kill", _checks.text("signal", signal))

    @property
    def state(self) -> str:
        """What the node's machine is doing: ``'running'``, ``'paused'`` or ``'stopped'``."""
        return self._node().machine("state")

    def isolate(self) -> "faults.Partition":
        """Cut this node off from every other node of its cluster (the test host still
        reaches it); heal the returned ``Partition``, or use it in a ``with`` block."""
        return faults.Partition(self._node().isolate())

    def shape(
        self,
        rate: Optional[int] = None,
        delay: Optional[float] = None,
        jitter: Optional[float] = None,
        loss: Optional[float] = None,
    ) -> None:
        """
        Degrade everything this node sends: at most ``rate`` bits per second; ``delay``
        and ``jitter`` seconds; ``loss`` percent of packets.

        Raises:
            NotImplementedError: The kernel lacks what it takes (delay, jitter and loss
                need ``sch_netem``); the message names the module.
        """
        self._node().shape(**faults.link(rate, delay, jitter, loss))

    def unshape(self) -> None:
        """Take this node's shaping out."""
        self._node().unshape()

    def download_file(self, remote_path: Path, local_path: Path) -> None:
        """
        Copy a file from this node to this host.

        Args:
            remote_path: The file on the node (an absolute path).
            local_path: Where to put it on this host.
        """
        remote = _checks.path("remote_path", remote_path)
        local = _checks.path("local_path", local_path)
        self._node().download_file(str(remote), str(local))


class Process:
    """
    A command started with ``Node.popen``: the parts of ``subprocess.Popen`` that apply
    to a process on a node. It has no standard input.

    Attributes:
        args: The command's words.
        pid: The process id of the command's shell on the node.
        returncode: The exit status once known (after ``poll``, ``wait`` or
            ``communicate``), else ``None``.
        stdout: Its standard output, a binary stream to read as it comes.
        stderr: Its standard error, likewise.
    """

    def __init__(self, args: List[str], handle: _core.ProcessHandle) -> None:
        self.args = args
        self._handle = handle
        self.pid = handle.pid
        self.returncode: Optional[int] = None
        self.stdout = ProcessOutput(handle, 1)
        self.stderr = ProcessOutput(handle, 2)

    def __repr__(self) -> str:
        return "<Process pid={} returncode={!r} args={!r}>".format(
            self.pid, self.returncode, self.args
        )

    def __enter__(self) -> "Process":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.wait()

    def poll(self) -> Optional[int]:
        """The exit status if the process has ended, else ``None``; never waits."""
        if self.returncode is None:
            self.returncode = self._handle.poll()
        return self.returncode

    def wait(self, timeout: Optional[float] = None) -> int:
        """
        Wait for the process to end and return its exit status.

        Raises:
            subprocess.TimeoutExpired: ``timeout`` seconds passed first.
        """
        if self.returncode is None:
            status = self._handle.wait(_timeout(timeout))
            if status is None:
                raise subprocess.TimeoutExpired(self.args, float(timeout or 0))
            self.returncode = status
        return self.returncode

    def communicate(
        self,
        input: Optional[bytes] = None,  # noqa: A002 - the name subprocess uses
        timeout: Optional[float] = None,
    ) -> Tuple[bytes, bytes]:
        """
        Read the output to its end and wait for the process to end.

        Returns:
            ``(stdout, stderr)``, each ``bytes``.

        Raises:
            subprocess.TimeoutExpired: ``timeout`` seconds passed first; what was read
                so far is returned by the next call.
            ValueError: ``input`` was given (the process has no standard input).
        """
        if input is not None:
            raise ValueError(
                "input must be None: a process started with popen has no standard input"
            )
        done = self._handle.communicate(_timeout(timeout))
        if done is None:
            raise subprocess.TimeoutExpired(self.args, float(timeout or 0))
        out, err, status = done
        self.returncode = status
        return self.stdout._take() + out, self.stderr._take() + err

    def kill(self) -> None:
        """Stop the process and everything it started (SIGKILL)."""
        self._handle.kill()

    def terminate(self) -> None:
        """The same as ``kill``."""
        self.kill()


def _timeout(timeout: Optional[float]) -> Optional[float]:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise _checks.type_error("timeout", "a number of seconds or None", timeout)
    return max(0.0, float(timeout))


class ProcessOutput:
    """One output stream of a ``Process``, read as it arrives (binary)."""

    _CHUNK = 65536

    def __init__(self, handle: _core.ProcessHandle, which: int) -> None:
        self._handle = handle
        self._which = which
        self._buffer = b""
        self.closed = False

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        """Read one more chunk into the buffer; ``False`` at the end."""
        chunk = self._handle.read(self._which, self._CHUNK)
        self._buffer += chunk
        return bool(chunk)

    def _take(self) -> bytes:
        data, self._buffer = self._buffer, b""
        return data

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all until the end if ``size`` is negative)."""
        if size is None or size < 0:
            while self._fill():
                pass
            return self._take()
        if not self._buffer:
            self._fill()
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def read1(self, size: int = -1) -> bytes:
        """What is available, waiting only if nothing is."""
        if not self._buffer:
            self._fill()
        if size is None or size < 0:
            return self._take()
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def readline(self, size: int = -1) -> bytes:
        """One line, with its ``\\n`` (``b''`` at the end)."""
        while b"\n" not in self._buffer and (size < 0 or len(self._buffer) < size):
            if not self._fill():
                break
        end = self._buffer.find(b"\n") + 1 or len(self._buffer)
        if size >= 0:
            end = min(end, size)
        data, self._buffer = self._buffer[:end], self._buffer[end:]
        return data

    def readlines(self) -> List[bytes]:
        return list(self)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def close(self) -> None:
        self.closed = True
