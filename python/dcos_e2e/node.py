"""
Nodes of a cluster, and the processes started on them.
"""

import enum
import ipaddress
import shlex
import subprocess
import sys
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

    @classmethod
    def _missing_(cls, value: object) -> "Optional[Transport]":
        # The final API's values (1 and 2) name the same members.
        final = {1: cls.SSH, 2: cls.DOCKER_EXEC}
        return final.get(value) if isinstance(value, int) and not isinstance(value, bool) else None


class Output(enum.Enum):
    """What happens to a command's output (the final API's, with its values)."""

    #: Captured, and each line logged as it arrives (stderr merged into stdout).
    LOG_AND_CAPTURE = 1
    #: Captured, returned in the result.
    CAPTURE = 2
    #: Not captured: passed on to this process's standard output and error.
    NO_CAPTURE = 3


class Role(enum.Enum):
    """A node's role (the final API's, with its values: the installer's role names)."""

    MASTER = "master"
    AGENT = "slave"
    PUBLIC_AGENT = "slave_public"


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


def _address(name: str, value: Any) -> IPAddress:
    if isinstance(value, str):
        try:
            return ipaddress.ip_address(value)
        except ValueError:
            raise ValueError("{} must be an IP address, got {!r}".format(name, value)) from None
    if not isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        raise _checks.type_error(name, "an ipaddress.IPv4Address", value)
    return value


class Node:
    """
    A node of a cluster: a Docker container or a host reached over SSH.

    Nodes come from ``Cluster.masters``, ``.agents`` and ``.public_agents``. A node made
    directly, ``Node(ip_address, ssh_key_path)``, is a host reached over SSH as the given
    user with that key.

    Attributes:
        ip_address: The node's address (on the cluster network for Docker nodes).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """
        A host reached over SSH with a key, by either API (told apart by what is
        given; see ``DIFFERENCES.md``):

        - 2017: ``Node(ip_address, ssh_key_path)``, as root;
        - final: ``Node(public_ip_address, private_ip_address, default_user,
          ssh_key_path, default_transport=Transport.SSH)``: commands go to the public
          address; the private one is what DC/OS uses.

        Addresses are ``ipaddress`` addresses (a ``str`` is converted).
        """
        final_names = ("public_ip_address", "private_ip_address", "default_user",
                       "ssh_key_path", "default_transport")
        final = len(args) > 2 or any(k in kwargs for k in final_names[:3] + final_names[4:])
        names = final_names if final else ("ip_address", "ssh_key_path")
        for key in kwargs:
            if key not in names:
                raise TypeError("Node() got an unexpected keyword argument '{}'".format(key))
        given = dict(kwargs)
        _checks.bind("Node()", names, args, given)
        missing = [n for n in names[:4 if final else 2] if n not in given]
        if missing:
            raise TypeError("Node() missing required argument: '{}'".format(missing[0]))
        if final:
            self.ip_address = _address("public_ip_address", given["public_ip_address"])
            self._private = _address("private_ip_address", given["private_ip_address"])
            self._user = _checks.text("default_user", given["default_user"])
            transport = given.get("default_transport", Transport.SSH)
            if transport is not Transport.SSH:
                raise NotImplementedError(
                    "a Node made directly is reached over SSH; Transport.DOCKER_EXEC is "
                    "for the nodes of a Docker cluster (Docker(transport=...))"
                )
        else:
            self.ip_address = _address("ip_address", given["ip_address"])
            self._private = self.ip_address
            self._user = "root"
        self._final_api = final
        self._ssh_key_path = _checks.path("ssh_key_path", given["ssh_key_path"])
        self._handle: Optional[_core.NodeHandle] = None
        # A weak reference to the cluster a node of a library cluster belongs to (for
        # its upgrade).
        self._cluster: Any = None

    @classmethod
    def _of(cls, handle: _core.NodeHandle) -> "Node":
        """A node of a cluster the library made or wrapped."""
        node = cls.__new__(cls)
        node.ip_address = ipaddress.ip_address(handle.ip_address)
        node._private = node.ip_address
        node._user = handle.default_user
        node._final_api = False
        node._ssh_key_path = Path(handle.ssh_key_path)
        node._handle = handle
        node._cluster = None
        return node

    @property
    def public_ip_address(self) -> IPAddress:
        """The address commands reach the node at (the final API's; ``ip_address``)."""
        return self.ip_address

    @property
    def private_ip_address(self) -> IPAddress:
        """The address DC/OS uses on the node (the final API's; for our nodes the same
        as the public one)."""
        return self._private

    @property
    def default_user(self) -> str:
        """The user commands run as unless one is given."""
        return self._user

    @property
    def default_transport(self) -> Transport:
        """How commands reach the node."""
        return Transport(self._node().transport) if self._handle is not None else Transport.SSH

    def __eq__(self, other: Any) -> bool:
        """Nodes are equal when their addresses are (the final API's)."""
        if not isinstance(other, Node):
            return NotImplemented
        return (self.ip_address, self._private) == (other.ip_address, other._private)

    def __hash__(self) -> int:
        return hash((self.ip_address, self._private))

    def __str__(self) -> str:
        return "Node(public_ip={}, private_ip={})".format(self.ip_address, self._private)

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
                str(self.ip_address), str(self._ssh_key_path), self._user
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
        quoted: bool = False,
    ) -> Tuple[List[str], str, Optional[str], List[Tuple[str, str]]]:
        words = _checks.args("args", args)
        user = _checks.optional_str("user", user)
        pairs = _checks.env("env", env)
        # 2017 (and the final's shell=True): the words are joined and read by the node's
        # shell, as over `ssh`: `$USER`, `&&` and `|` in them work. The final's
        # shell=False: each word is passed as it is.
        script = " ".join(shlex.quote(w) for w in words) if quoted else " ".join(words)
        return words, script, user, pairs

    def _final_call(self, given: Dict[str, Any], of_2017: Dict[str, Any]) -> bool:
        """Whether a call is of the final API: it gives a keyword only the final has,
        or (giving none of either) the node is of the final API."""
        final = [k for k, v in given.items() if _checks.given(v)]
        old = [k for k, v in of_2017.items() if _checks.given(v)]
        if final and old:
            raise TypeError(
                "{} is the 2017 API's and {} the final API's: give one API's "
                "(output=Output.LOG_AND_CAPTURE logs each line)".format(old[0], final[0])
            )
        return bool(final) or (not old and self._final_api)

    def _transport(self, transport: Any) -> None:
        if transport is not None and transport is not self.default_transport:
            raise NotImplementedError(
                "transport={} on a node reached by {}: one transport per node here "
                "(Docker(transport=...))".format(transport, self.default_transport)
            )

    def run(
        self,
        args: List[str],
        user: Optional[str] = None,
        *rest: Any,
        log_output_live: Any = _checks.Default(False),
        env: Any = _checks.Default(None),
        output: Any = _checks.Default(None),
        shell: Any = _checks.Default(False),
        tty: Any = _checks.Default(False),
        transport: Any = _checks.Default(None),
        sudo: Any = _checks.Default(False),
    ) -> "CompletedProcess[bytes]":
        """
        Run a command on this node as the given user and wait for it, by either API
        (told apart by what is given; see ``DIFFERENCES.md``):

        - 2017: ``run(args, user=None, log_output_live=False, env=None)``: the words are
          joined with spaces and read by the node's shell (so ``['echo', '$USER']``
          prints the user, and ``'&&'`` or ``'|'`` work);
        - final: ``run(args, user=None, output=Output.CAPTURE, env=None, shell=False,
          tty=False, transport=None, sudo=False)``: with ``shell=False`` each word is
          passed as it is (quoted for the node's shell), with ``shell=True`` as 2017.
          A call of a node of the final API's ``Cluster`` or ``Node`` that gives
          neither API's keywords is the final's.

        Args:
            args: The command, as words.
            user: The user to run as; the node's default user if ``None``.
            log_output_live: If ``True``, log each line of output as it arrives (a
                DEBUG record of the ``dcos_e2e.node`` logger), with stderr merged into
                stdout.
            env: Environment variables to set for the command.
            output: ``Output.CAPTURE``, ``Output.LOG_AND_CAPTURE`` (as
                ``log_output_live``) or ``Output.NO_CAPTURE`` (passed on to this
                process's standard output and error when the command ends; the result
                then has none).
            shell: Whether the words are read by the node's shell.
            tty: Not yet (a terminal is ``minidcos ... run``'s and the Rust core's).
            transport: The node's own transport only.
            sudo: Run through ``sudo`` (as ``user``).

        Returns:
            The finished process; ``stdout`` and ``stderr`` are ``bytes``.

        Raises:
            subprocess.CalledProcessError: The command exited with a non-zero status,
                or the node could not be reached (status 255, as ``ssh`` reports).
        """
        final_order = bool(rest) and isinstance(rest[0], Output)
        names = (("output", "env", "shell", "tty", "transport", "sudo") if final_order
                 else ("log_output_live", "env"))
        params = {"log_output_live": log_output_live, "env": env, "output": output,
                  "shell": shell, "tty": tty, "transport": transport, "sudo": sudo}
        _checks.bind("run() after args and user", names, rest, params)
        final = self._final_call(
            {k: params[k] for k in ("output", "shell", "tty", "transport", "sudo")},
            {"log_output_live": params["log_output_live"]},
        )
        shell = _checks.boolean("shell", _checks.value_of(params["shell"]))
        if _checks.boolean("tty", _checks.value_of(params["tty"])):
            raise NotImplementedError("run(tty=True) is not supported yet")
        self._transport(_checks.value_of(params["transport"]))
        sudo = _checks.boolean("sudo", _checks.value_of(params["sudo"]))
        out = _checks.value_of(params["output"])
        if out is not None and not isinstance(out, Output):
            raise _checks.type_error("output", "a dcos_e2e.node.Output", out)
        live = _checks.boolean("log_output_live", _checks.value_of(params["log_output_live"]))
        live = live or out is Output.LOG_AND_CAPTURE
        words, script, user, pairs = self._command(
            args, user, _checks.value_of(params["env"]), quoted=final and not shell
        )
        if live:
            # One stream, in order, for the live log (as the original merged them).
            script = "exec 2>&1; " + script
        stdout, stderr = self._node().run(script, user, pairs, live, words, sudo)
        if out is Output.NO_CAPTURE:
            sys.stdout.buffer.write(stdout)
            sys.stdout.flush()
            sys.stderr.buffer.write(stderr)
            sys.stderr.flush()
            return CompletedProcess(args=words, returncode=0, stdout=None, stderr=None)
        return CompletedProcess(args=words, returncode=0, stdout=stdout, stderr=stderr)

    def popen(
        self,
        args: List[str],
        user: Optional[str] = None,
        env: Optional[Dict[str, Any]] = None,
        shell: Any = _checks.Default(False),
        transport: Any = None,
        stdin: bool = False,
    ) -> "Process":
        """
        Start a command on this node and return at once, while it runs.

        Args:
            args: The command, joined and read by the node's shell as in ``run`` (the
                final API's ``shell=False``: each word passed as it is).
            user: The user to run as; the node's default user if ``None``.
            env: Environment variables to set for the command.
            shell: Whether the words are read by the node's shell (the final API's).
            transport: The node's own transport only.
            stdin: Give the process a standard input (``Process.stdin``, and
                ``communicate(input=...)``); without it the command reads end of file.

        Returns:
            The running process: ``communicate()``, ``poll()``, ``wait()``,
            ``kill()``, and its ``stdout`` and ``stderr`` streams.
        """
        final = self._final_call({"shell": shell}, {})
        self._transport(transport)
        shell = _checks.boolean("shell", _checks.value_of(shell))
        words, script, user, pairs = self._command(args, user, env, quoted=final and not shell)
        piped = _checks.boolean("stdin", stdin)
        handle = self._node().popen(script, user, pairs, words, piped)
        return Process(words, handle, piped)

    def send_file(
        self,
        local_path: Path,
        remote_path: Path,
        user: Optional[str] = None,
        transport: Any = None,
        sudo: bool = False,
    ) -> None:
        """
        Copy a file (or a directory) to this node, creating missing parent
        directories.

        Args:
            local_path: The file on this host.
            remote_path: Where to put it on the node (an absolute path).
            user: Who writes it (the final API's); the node's default user if ``None``.
            transport: The node's own transport only (the final API's).
            sudo: Write it through ``sudo`` (the final API's), for places only root may.
        """
        local = _checks.path("local_path", local_path)
        remote = _checks.path("remote_path", remote_path)
        self._transport(transport)
        user = _checks.optional_str("user", user)
        sudo = _checks.boolean("sudo", sudo)
        self._node().send_file(str(local), str(remote), user, sudo)

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

    def download_file(
        self, remote_path: Path, local_path: Path, transport: Any = None
    ) -> None:
        """
        Copy a file from this node to this host.

        Args:
            remote_path: The file on the node (an absolute path).
            local_path: Where to put it on this host.
            transport: The node's own transport only (the final API's).
        """
        self._transport(transport)
        remote = _checks.path("remote_path", remote_path)
        local = _checks.path("local_path", local_path)
        self._node().download_file(str(remote), str(local))


class Process:
    """
    A command started with ``Node.popen``: the parts of ``subprocess.Popen`` that apply
    to a process on a node. It has a standard input when started with ``stdin=True``.

    Attributes:
        args: The command's words.
        pid: The process id of the command's shell on the node.
        returncode: The exit status once known (after ``poll``, ``wait`` or
            ``communicate``), else ``None``.
        stdout: Its standard output, a binary stream to read as it comes.
        stderr: Its standard error, likewise.
        stdin: Its standard input, a binary stream to write to (``close()`` it for
            end of file), or ``None`` without ``stdin=True``.
    """

    def __init__(self, args: List[str], handle: _core.ProcessHandle, stdin: bool = False) -> None:
        self.args = args
        self._handle = handle
        self.pid = handle.pid
        self.returncode: Optional[int] = None
        self.stdin: Optional[ProcessInput] = ProcessInput(handle) if stdin else None
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
            ValueError: ``input`` was given to a process without a standard input.
        """
        if input is not None:
            if self.stdin is None:
                raise ValueError(
                    "input must be None: this process has no standard input "
                    "(popen(..., stdin=True) gives one)"
                )
            self.stdin.write(input)
        if self.stdin is not None:
            self.stdin.close()
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


class ProcessInput:
    """The standard input of a process started with ``popen(..., stdin=True)``."""

    def __init__(self, handle: _core.ProcessHandle) -> None:
        self._handle = handle
        self.closed = False

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:
        """Send all of ``data`` to the process; its length."""
        if self.closed:
            raise ValueError("write to a closed standard input")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise _checks.type_error("data", "bytes", data)
        self._handle.write_stdin(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Writes are sent as they are made."""

    def close(self) -> None:
        """End of file for the process."""
        if not self.closed:
            self.closed = True
            self._handle.close_stdin()

    def __enter__(self) -> "ProcessInput":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


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
