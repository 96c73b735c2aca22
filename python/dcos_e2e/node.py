"""
Nodes of a cluster, and the processes started on them.
"""

import enum
import ipaddress
import logging
import os
import shlex
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

from . import _checks, _core, faults

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

#: Where command lines and output lines are logged (as the library's own records).
_LOGGER = logging.getLogger("dcos_e2e.node")


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


#: Our role names (the library's) of the final API's roles.
_ROLE_NAMES = {Role.MASTER: "master", Role.AGENT: "agent", Role.PUBLIC_AGENT: "public-agent"}


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
            transport = _transport_of("default_transport",
                                      given.get("default_transport", Transport.SSH))
        else:
            self.ip_address = _address("ip_address", given["ip_address"])
            self._private = self.ip_address
            self._user = "root"
            transport = Transport.SSH
        self._default_transport = transport
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
        node._default_transport = Transport(handle.transport)
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
        return self._default_transport

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
            transport: How to reach the node for this call; its own if ``None``.

        Raises:
            dcos_e2e.exceptions.DCOSNotInstalledError: DC/OS is not installed here.
        """
        version, commit, variant = self._node(transport).dcos_build_info()
        kind = DCOSVariant.ENTERPRISE if variant == "enterprise" else DCOSVariant.OSS
        return DCOSBuildInfo(version=version, commit=commit, variant=kind)

    def install_dcos_from_path(
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
        Install DC/OS on this node only, as ``role`` (the final API's): genconf runs
        on this host with ``dcos_config`` (merged over the base configuration, as
        ``Cluster.install_dcos_from_path`` does) and ``ip_detect_path``; then this node
        runs the installer for ``role``. ``user``, ``output`` and ``transport`` are
        accepted for the final API (the install runs as root).

        Raises:
            TypeError: ``role`` is not a ``dcos_e2e.node.Role``.
            subprocess.CalledProcessError: The install failed.
        """
        if not isinstance(role, Role):
            raise _checks.type_error("role", "a dcos_e2e.node.Role", role)
        self._owner().install_dcos_from_path(
            dcos_installer,
            dcos_config=dcos_config,
            ip_detect_path=ip_detect_path,
            output=output,
            files_to_copy_to_genconf_dir=files_to_copy_to_genconf_dir,
            _nodes=[(self, _ROLE_NAMES[role])],
        )

    def install_dcos_from_url(
        self,
        dcos_installer: str,
        dcos_config: Optional[Dict[str, Any]] = None,
        ip_detect_path: Optional[Path] = None,
        role: Any = None,
        files_to_copy_to_genconf_dir: Any = (),
        user: Optional[str] = None,
        output: Any = None,
        transport: Any = None,
    ) -> None:
        """``install_dcos_from_path`` with an ``http(s)://`` or ``file://`` URL
        (downloaded once into the cache)."""
        self.install_dcos_from_path(
            _checks.url("dcos_installer", dcos_installer),  # type: ignore[arg-type]
            dcos_config, ip_detect_path, role, files_to_copy_to_genconf_dir, user,
            output, transport,
        )

    def _owner(self) -> Any:
        """The live ``Cluster`` this node belongs to."""
        cluster = self._cluster() if self._cluster is not None else None
        if cluster is None:
            raise NotImplementedError(
                "installing needs a node of a live cluster of this package's backends"
            )
        return cluster

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
        self._owner().upgrade_dcos_from_path(
            dcos_installer,
            dcos_config=dcos_config,
            ip_detect_path=ip_detect_path,
            output=output,
            files_to_copy_to_genconf_dir=files_to_copy_to_genconf_dir,
            _nodes=[self],
        )

    def _node(self, transport: Any = None) -> _core.NodeHandle:
        """The library's node, reached by ``transport`` (the default one if ``None``)."""
        if self._handle is None:
            if self._default_transport is Transport.DOCKER_EXEC:
                # The final API's docker exec node made by hand: the container of ours
                # with that address.
                self._handle = _core.docker_node_at(str(self.ip_address))
                if self._handle is None:
                    raise ValueError(
                        "no node container of a dcos-e2e cluster on this host's Docker "
                        "daemon has the address {} (Transport.DOCKER_EXEC)".format(
                            self.ip_address)
                    )
            else:
                self._handle = _core.standalone_node(
                    str(self.ip_address), str(self._ssh_key_path), self._user
                )
        transport = _transport_of("transport", transport)
        if transport is None or transport.value == self._handle.transport:
            return self._handle
        return self._handle.via(transport.value)

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
                process's standard output and error as it comes; the result, and a
                ``CalledProcessError``, then have none).
            shell: Whether the words are read by the node's shell.
            tty: Run on a terminal of this process's terminal's size (80x24 without
                one): the command's stdout and stderr both arrive as ``stdout``.
            transport: How to reach the node for this call: its own if ``None``; a
                Docker node has both, an existing host SSH only.
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
        tty = _checks.boolean("tty", _checks.value_of(params["tty"]))
        via = _checks.value_of(params["transport"])
        sudo = _checks.boolean("sudo", _checks.value_of(params["sudo"]))
        out = _checks.value_of(params["output"])
        if out is not None and not isinstance(out, Output):
            raise _checks.type_error("output", "a dcos_e2e.node.Output", out)
        live = _checks.boolean("log_output_live", _checks.value_of(params["log_output_live"]))
        live = live or out is Output.LOG_AND_CAPTURE
        words, script, user, pairs = self._command(
            args, user, _checks.value_of(params["env"]), quoted=final and not shell
        )
        if out is Output.NO_CAPTURE and not tty:
            sinks = (_PassThrough(sys.stdout), _PassThrough(sys.stderr))
            return self._run_streamed(words, script, user, pairs, sudo, via, sinks)
        if out is Output.LOG_AND_CAPTURE and not tty:
            _LOGGER.debug(
                "Running command `%s` on a node `%s`",
                ("/bin/sh -c " if shell else "") + " ".join(words), self,
            )
            sinks = (_LogLines(self, "stdout", logging.DEBUG),
                     _LogLines(self, "stderr", logging.WARNING))
            return self._run_streamed(words, script, user, pairs, sudo, via, sinks)
        if live and not tty:
            # One stream, in order, for the live log (as the original merged them).
            script = "exec 2>&1; " + script
        stdout, stderr = self._node(via).run(
            script, user, pairs, live, words, sudo, _terminal() if tty else None
        )
        if out is Output.NO_CAPTURE:
            _write_through(sys.stdout, stdout)
            return CompletedProcess(args=words, returncode=0, stdout=None, stderr=None)
        return CompletedProcess(args=words, returncode=0, stdout=stdout, stderr=stderr)

    def _run_streamed(
        self, words: List[str], script: str, user: Optional[str],
        pairs: List[Tuple[str, str]], sudo: bool, via: Any, sinks: Tuple[Any, Any],
    ) -> "CompletedProcess[bytes]":
        """Run the command with its stdout and stderr going to ``sinks`` as they come
        (the final API's ``Output.NO_CAPTURE`` and ``LOG_AND_CAPTURE``); the result
        has what the sinks kept."""
        handle = self._node(via).popen(script, user, pairs, words, False, sudo)
        process = Process(words, handle)
        copies = [
            threading.Thread(target=_feed, args=(stream, sink), daemon=True)
            for stream, sink in zip((process.stdout, process.stderr), sinks)
        ]
        for copy in copies:
            copy.start()
        status = process.wait()
        for copy in copies:
            copy.join()
        stdout, stderr = (sink.kept() for sink in sinks)
        if status != 0:
            raise subprocess.CalledProcessError(status, words, output=stdout, stderr=stderr)
        return CompletedProcess(args=words, returncode=0, stdout=stdout, stderr=stderr)

    def popen(
        self,
        args: List[str],
        user: Optional[str] = None,
        env: Optional[Dict[str, Any]] = None,
        shell: Any = _checks.Default(False),
        transport: Any = None,
        stdin: bool = False,
        tty: bool = False,
    ) -> "Process":
        """
        Start a command on this node and return at once, while it runs.

        Args:
            args: The command, joined and read by the node's shell as in ``run`` (the
                final API's ``shell=False``: each word passed as it is).
            user: The user to run as; the node's default user if ``None``.
            env: Environment variables to set for the command.
            shell: Whether the words are read by the node's shell (the final API's).
            transport: How to reach the node for this call: its own if ``None``; a
                Docker node has both, an existing host SSH only.
            stdin: Give the process a standard input (``Process.stdin``, and
                ``communicate(input=...)``); without it the command reads end of file.
            tty: Run it on a terminal, as ``run(tty=True)`` (its stdout and stderr both
                arrive on ``stdout``; with ``stdin``, what is written is typed).

        Returns:
            The running process: ``communicate()``, ``poll()``, ``wait()``,
            ``kill()``, and its ``stdout`` and ``stderr`` streams.
        """
        final = self._final_call({"shell": shell}, {})
        shell = _checks.boolean("shell", _checks.value_of(shell))
        words, script, user, pairs = self._command(args, user, env, quoted=final and not shell)
        piped = _checks.boolean("stdin", stdin)
        terminal = _terminal() if _checks.boolean("tty", tty) else None
        handle = self._node(transport).popen(script, user, pairs, words, piped, False, terminal)
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
        directories. As ``scp -r`` does, an existing directory at ``remote_path``
        receives it under its own name.

        Args:
            local_path: The file on this host.
            remote_path: Where to put it on the node (an absolute path).
            user: Who writes it (the final API's); the node's default user if ``None``.
            transport: How to reach the node for this call (the final API's): its
                own if ``None``; a Docker node has both.
            sudo: Write it through ``sudo`` (the final API's), for places only root may;
                what is written is then ``user``'s.

        Raises:
            CopyFailedError: The node refused the copy (permission denied, a file in
                the way) or could not be reached: both a ``HarnessError`` and a
                ``subprocess.CalledProcessError`` (the final API's).
        """
        local = _checks.path("local_path", local_path)
        remote = _checks.path("remote_path", remote_path)
        node = self._node(transport)
        user = _checks.optional_str("user", user)
        sudo = _checks.boolean("sudo", sudo)
        words = ["send_file", str(local), str(remote)]
        # A file onto a directory fails at once, so it is asked about only then; a
        # directory would be merged into one, so that is asked first.
        if local.is_dir() and _is_directory(node, remote):
            remote = remote / local.name
        try:
            try:
                node.send_file(str(local), str(remote), user, sudo)
            except _core.HarnessError:
                if local.is_dir() or not _is_directory(node, remote):
                    raise
                remote = remote / local.name
                node.send_file(str(local), str(remote), user, sudo)
            owner = user or node.default_user
            if sudo and owner != "root":
                # Written as root; the user's, as the final API left it.
                node.run("chown -R -- " + shlex.quote(owner + ":") + " "
                         + shlex.quote(str(remote)), owner, [], False, words, True)
        except (_core.HarnessError, subprocess.CalledProcessError) as error:
            raise CopyFailedError(str(error), words) from error

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
            local_path: Where to put it on this host: a new file, or a directory to
                put it in under its own name.

        Raises:
            ValueError: ``local_path`` exists (and is not a directory), or the node has
                no ``remote_path`` (the final API's messages).
            transport: How to reach the node for this call (the final API's): its
                own if ``None``; a Docker node has both.
        """
        remote = _checks.path("remote_path", remote_path)
        local = _checks.path("local_path", local_path)
        node = self._node(transport)
        if local.is_dir():
            local = local / remote.name
        if local.exists():
            raise ValueError(
                'Failed to download a file to "{}". '
                "A file already exists in that location.".format(local)
            )
        try:
            node.download_file(str(remote), str(local))
        except _core.HarnessError:
            try:
                node.run("test -e " + shlex.quote(str(remote)), None, [], False, [])
            except subprocess.CalledProcessError as missing:
                if missing.returncode == 1:
                    raise ValueError(
                        'Failed to download file from remote location "{}". '
                        "File does not exist.".format(remote)
                    ) from None
            raise


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


class CopyFailedError(_core.HarnessError, subprocess.CalledProcessError):
    """
    A copy to a node failed: a ``HarnessError`` (ours) and a
    ``subprocess.CalledProcessError`` with status 1 (the final API's), its ``stderr``
    the reason.
    """

    def __init__(self, message: str, words: List[str]) -> None:
        _core.HarnessError.__init__(self, message)
        subprocess.CalledProcessError.__init__(
            self, 1, words, output=b"", stderr=message.encode()
        )
        self.message = message

    def __str__(self) -> str:
        return self.message


def _is_directory(node: _core.NodeHandle, remote: Path) -> bool:
    """Whether the node has a directory at ``remote`` (as its default user sees)."""
    try:
        node.run("test -d " + shlex.quote(str(remote)), None, [], False, [])
    except subprocess.CalledProcessError:
        return False
    return True


def _transport_of(name: str, value: Any) -> Optional[Transport]:
    if value is None or isinstance(value, Transport):
        return value
    raise _checks.type_error(name, "a dcos_e2e.node.Transport or None", value)


def _terminal() -> Tuple[int, int, str]:
    """The size and type of this process's terminal for a command's own, or 80x24
    ``xterm`` when there is none."""
    size = shutil.get_terminal_size((80, 24))
    term = os.environ.get("TERM", "")
    if not term or term == "dumb" or not all(c.isalnum() or c in "-.+_" for c in term):
        term = "xterm"
    return max(1, size.columns), max(1, size.lines), term


def _write_through(sink: Any, data: bytes) -> None:
    """``data`` onto a text stream's binary buffer (``sys.stdout``), or as text where
    it has none (a test's capture)."""
    buffer = getattr(sink, "buffer", None)
    if buffer is not None:
        buffer.write(data)
    else:
        sink.write(data.decode(errors="replace"))
    sink.flush()


def _feed(stream: "ProcessOutput", sink: Any) -> None:
    """Each chunk of a process's output to ``sink`` as it arrives, then its end."""
    while True:
        chunk = stream.read1()
        if not chunk:
            sink.end()
            return
        sink.take(chunk)


class _PassThrough:
    """Output passed on to one of this process's streams, not kept."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def take(self, chunk: bytes) -> None:
        _write_through(self._stream, chunk)

    def end(self) -> None:
        pass

    def kept(self) -> None:
        return None


class _LogLines:
    """Output kept, and each line logged as it completes."""

    def __init__(self, node: "Node", stream: str, level: int) -> None:
        self._node = str(node)
        self._stream = stream
        self._level = level
        self._all = bytearray()
        self._line = b""

    def take(self, chunk: bytes) -> None:
        self._all += chunk
        *lines, self._line = (self._line + chunk).split(b"\n")
        for line in lines:
            self._log(line)

    def end(self) -> None:
        if self._line:
            self._log(self._line)
            self._line = b""

    def _log(self, line: bytes) -> None:
        _LOGGER.log(self._level, "%s", line.decode(errors="backslashreplace"),
                    extra={"node": self._node, "stream": self._stream})

    def kept(self) -> bytes:
        return bytes(self._all)


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
