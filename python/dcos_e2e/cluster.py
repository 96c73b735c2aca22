"""
A cluster of masters, agents and public agents, independent of the backend.
"""

import contextlib
import json
import weakref
from pathlib import Path
from subprocess import CompletedProcess
from typing import (
    Any, Dict, Iterable, Iterator, List, Literal, Optional, Set, Tuple, Type, Union,
)

from . import _checks, _core, faults
from .exceptions import DCOSTimeoutError
from .backends import (
    AttachedCluster, ClusterBackend, ClusterManager, DockerCluster, ExistingCluster,
    _LibraryCluster,
)
from .faults import Partition
from .node import Node, Output, Transport

__all__ = ["Cluster"]

#: How long ``wait_for_dcos`` waits by default: the original tried 500 times, 5 s apart.
DEFAULT_WAIT_TIMEOUT = 2500.0

#: How long the final API's ``wait_for_dcos_oss`` and ``_ee`` wait: its hour.
FINAL_WAIT_TIMEOUT = 3600.0


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _output_is_logged(output: Any) -> bool:
    """Whether the final API's ``output`` asks for each line logged; only capturing
    outputs are taken."""
    if output is None or output is Output.CAPTURE:
        return False
    if output is Output.LOG_AND_CAPTURE:
        return True
    raise NotImplementedError(
        "output={!r}: Output.CAPTURE and Output.LOG_AND_CAPTURE are supported".format(output)
    )


class Cluster:
    """
    A DC/OS cluster, made (or wrapped) by its backend.

    Use it as a context manager: leaving the ``with`` block destroys the cluster if
    ``destroy_on_success`` (the block ended normally) or ``destroy_on_error`` (it raised)
    says so; the exception, if any, comes out unchanged. A cluster kept by these flags
    outlives the process until ``destroy()`` is called on it. A cluster never used with
    ``with`` is destroyed when it is garbage-collected, if ``destroy_on_success``.
    Setting the environment variable ``DCOS_E2E_KEEP=1`` keeps every cluster, for
    debugging (``minidcos docker destroy ID`` removes them).
    """

    def __init__(
        self,
        cluster_backend: ClusterBackend,
        *args: Any,
        build_artifact: Any = _checks.Default(None),
        extra_config: Any = _checks.Default(None),
        masters: Any = _checks.Default(1),
        agents: Any = _checks.Default(1),
        public_agents: Any = _checks.Default(1),
        log_output_live: Any = _checks.Default(False),
        destroy_on_error: Any = _checks.Default(True),
        destroy_on_success: Any = _checks.Default(True),
        files_to_copy_to_installer: Any = _checks.Default(None),
    ) -> None:
        """
        Create a cluster, by the 2017 API or the final one (see ``DIFFERENCES.md``):

        - **2017** (any of ``build_artifact``, ``extra_config``, ``log_output_live``,
          ``destroy_on_error``, ``destroy_on_success``, ``files_to_copy_to_installer``
          given): with ``Docker``, make the nodes and install from ``build_artifact``;
          with ``ExistingCluster``, wrap its nodes.
        - **final** (``Cluster(backend, masters, agents, public_agents)``, by position or
          keyword, nothing else; a count as the second positional argument is the
          final API's ``masters``): make the nodes only, to install on with
          ``install_dcos_from_path``; leaving the ``with`` block destroys them when the
          backend can.

        Args:
            cluster_backend: The backend: ``Docker(...)`` or ``ExistingCluster(...)``.
            build_artifact: The installer to install from, as a ``pathlib.Path``.
            extra_config: Configuration merged over the installer's base
                ``config.yaml`` (its top-level keys win).
            masters: The number of master nodes.
            agents: The number of agent nodes.
            public_agents: The number of public agent nodes.
            log_output_live: If ``True``, log the output of the installer and of node
                commands as DEBUG records as it arrives, with stderr merged into stdout.
            destroy_on_error: If ``False``, the cluster is not destroyed when the
                ``with`` block raises (nor when creating it fails).
            destroy_on_success: If ``False``, the cluster is not destroyed when the
                ``with`` block ends normally.
            files_to_copy_to_installer: Host paths to paths under ``/genconf``, copied
                for the installer before it runs.

        Raises:
            ValueError: ``destroy_on_error`` or ``destroy_on_success`` is ``True`` and
                the backend cannot be destroyed, or the backend refuses a parameter.
            NotImplementedError: The backend cannot install from this artifact.
            subprocess.CalledProcessError: Installing failed.
            TypeError: A parameter has the wrong type, or the final API's call was given
                a 2017 parameter too.
        """
        if not isinstance(cluster_backend, ClusterBackend):
            raise _checks.type_error(
                "cluster_backend",
                "a dcos_e2e.backends.ClusterBackend (Docker or ExistingCluster)",
                cluster_backend,
            )
        params: Dict[str, Any] = {
            "build_artifact": build_artifact,
            "extra_config": extra_config,
            "masters": masters,
            "agents": agents,
            "public_agents": public_agents,
            "log_output_live": log_output_live,
            "destroy_on_error": destroy_on_error,
            "destroy_on_success": destroy_on_success,
            "files_to_copy_to_installer": files_to_copy_to_installer,
        }
        # The final API's positional counts sit where the 2017 API's build_artifact is.
        shifted_counts = bool(args) and _is_count(args[0])
        names = ("masters", "agents", "public_agents") if shifted_counts else tuple(params)
        _checks.bind("Cluster()", names, args, params)
        counts = {k: params[k] for k in ("masters", "agents", "public_agents")}
        of_2017 = {k: v for k, v in params.items() if k not in counts}
        self._final_api = not any(_checks.given(v) for v in of_2017.values())
        if shifted_counts and not self._final_api:
            raise TypeError(
                "Cluster() got the final API's counts by position and the 2017 API's {}: "
                "give the counts by keyword with the 2017 API".format(
                    ", ".join(k for k, v in of_2017.items() if _checks.given(v)))
            )
        value = {k: _checks.value_of(v) for k, v in of_2017.items()}
        if self._final_api:
            value["destroy_on_error"] = cluster_backend.supports_destruction
            value["destroy_on_success"] = cluster_backend.supports_destruction
        for flag in ("destroy_on_error", "destroy_on_success"):
            if value[flag] and not cluster_backend.supports_destruction:
                raise ValueError(
                    "The given cluster backend does not support being destroyed. "
                    "Therefore, `{}` must be set to `False`.".format(flag)
                )
        masters, agents, public_agents = (
            _checks.count(name, _checks.value_of(v))
            for name, v in counts.items()
        )
        self._log_output_live = _checks.boolean("log_output_live", value["log_output_live"])
        self._destroy_on_error = _checks.boolean("destroy_on_error", value["destroy_on_error"])
        self._destroy_on_success = _checks.boolean(
            "destroy_on_success", value["destroy_on_success"]
        )
        extra = _checks.mapping("extra_config", value["extra_config"])
        files = _checks.mapping("files_to_copy_to_installer", value["files_to_copy_to_installer"])
        build_artifact = value["build_artifact"]
        self._default_ssh_user = cluster_backend.default_ssh_user

        cls: Type[ClusterManager] = cluster_backend.cluster_cls
        arguments: Dict[str, Any] = dict(
            masters=masters,
            agents=agents,
            public_agents=public_agents,
            extra_config=extra,
            log_output_live=self._log_output_live,
            files_to_copy_to_installer=files,
            cluster_backend=cluster_backend,
            build_artifact=build_artifact,
        )
        if issubclass(cls, _LibraryCluster):
            # Ours also follow the flags when creation fails or the object is dropped.
            arguments.update(
                destroy_on_error=self._destroy_on_error,
                destroy_on_success=self._destroy_on_success,
            )
        if self._final_api and issubclass(cls, DockerCluster):
            arguments.update(nodes_only=True)
        self._cluster = cls(**arguments)
        self._link_nodes()

    def _link_nodes(self) -> None:
        if isinstance(self._cluster, _LibraryCluster):
            # Weak: a node kept by a test must not keep its cluster from being collected
            # (and so destroyed).
            owner = weakref.ref(self)
            self._cluster._owner = owner
            for nodes in self._cluster._nodes:
                for node in nodes:
                    node._cluster = owner
                    node._final_api = self._final_api

    @classmethod
    def from_nodes(
        cls,
        masters: Iterable[Node],
        agents: Iterable[Node],
        public_agents: Iterable[Node],
    ) -> "Cluster":
        """
        The final API's cluster of nodes that already exist (an ``ExistingCluster``
        of them, never destroyed), reached as their default user (one for all).
        """
        given = [_checks.nodes(name, nodes) for name, nodes in (
            ("masters", masters), ("agents", agents), ("public_agents", public_agents))]
        users = {n.default_user for ns in given for n in ns}
        if len(users) > 1:
            raise ValueError(
                "from_nodes takes nodes of one default user; these have {}".format(
                    ", ".join(sorted(users)))
            )
        backend = ExistingCluster(
            masters=given[0],
            agents=given[1],
            public_agents=given[2],
            default_ssh_user=users.pop() if users else "root",
        )
        return cls(backend, len(given[0]), len(given[1]), len(given[2]))

    @classmethod
    def attach(cls, cluster_id: str, transport: Optional[Transport] = None) -> "Cluster":
        """
        A cluster made elsewhere (``minidcos docker create``, one kept by its flags or
        ``DCOS_E2E_KEEP``), by id, on the daemon ``DOCKER_HOST`` names. Leaving its
        ``with`` block or dropping it never destroys the cluster; ``destroy()`` does.
        Its nodes follow the 2017 API's defaults.

        Raises:
            ValueError: No cluster has that id.
        """
        cluster_id = _checks.text("cluster_id", cluster_id)
        if transport is not None and not isinstance(transport, Transport):
            raise _checks.type_error("transport", "a dcos_e2e.node.Transport", transport)
        handle = _core.attach_docker_cluster(
            cluster_id, None if transport is None else transport.value
        )
        cluster = cls.__new__(cls)
        cluster._cluster = AttachedCluster(handle)
        cluster._final_api = False
        cluster._log_output_live = False
        cluster._destroy_on_error = cluster._destroy_on_success = False
        cluster._default_ssh_user = handle.default_ssh_user
        cluster._link_nodes()
        return cluster

    def export_logs(self, directory: Union[str, Path]) -> Path:
        """
        Write a log bundle of every node into ``directory`` (made if missing): per node
        the journal, unit states, the installer's output and diagnostics (Docker: the
        container's inspect), and a summary. Returns the bundle's directory.
        """
        where = _checks.path("directory", directory)
        return Path(self._library()._handle.export_logs(str(where)))

    def web_urls(self) -> List[str]:
        """Where a browser reaches the first master: its address, then
        ``http://localhost:PORT`` for each port ``one_master_host_port_map`` published."""
        return self._library()._handle.web_urls()

    def load_images(self, images: Iterable[str], nodes: Optional[Iterable[Node]] = None) -> None:
        """
        Load ``images`` from this host's Docker daemon into the Docker Engine of
        ``nodes`` (default: every node), without a registry: one export, streamed into
        every node at once. The nodes need an engine
        (``Docker(docker_version=DockerVersion.DISTRIBUTION)``).
        """
        names = [_checks.text("images", i) for i in _checks.args("images", images)]
        chosen = [n._node() for n in _checks.nodes("nodes", nodes)] if nodes is not None else [
            n._node() for role in range(3) for n in self._ordered(role)]
        self._library()._handle.load_images(names, chosen)

    def __enter__(self) -> "Cluster":
        """Enter the context: the cluster itself."""
        return self

    def __exit__(
        self,
        exc_type: Optional[type],
        exc_value: Optional[BaseException],
        traceback: Any,
    ) -> "Literal[False]":
        """Leave the context: destroy per the flags; never swallow the exception."""
        failed = exc_type is not None
        destroy = (failed and self._destroy_on_error) or (
            not failed and self._destroy_on_success
        )
        if destroy and not _core.keep_requested():
            self.destroy()
        else:
            keep = getattr(self._cluster, "_keep", None)
            if keep is not None:
                keep()
        return False

    @property
    def masters(self) -> Set[Node]:
        """The master nodes."""
        return self._cluster.masters

    @property
    def agents(self) -> Set[Node]:
        """The agent nodes."""
        return self._cluster.agents

    @property
    def public_agents(self) -> Set[Node]:
        """The public agent nodes."""
        return self._cluster.public_agents

    @property
    def default_ssh_user(self) -> str:
        """The user commands run as by default (``root`` with ``Docker``)."""
        return self._default_ssh_user

    @property
    def cluster_id(self) -> Optional[str]:
        """The cluster's id (for Docker, the prefix of its container names)."""
        return getattr(self._cluster, "cluster_id", None)

    def wait_for_dcos(self, timeout: float = DEFAULT_WAIT_TIMEOUT) -> None:
        """
        Wait until DC/OS is up on every master: until
        ``/opt/mesosphere/bin/dcos-diagnostics --diag`` (or ``3dt --diag``) passes and
        ``http://<master>/ca/dcos-ca.crt`` answers 200 or 404.

        Args:
            timeout: Seconds to wait at most.

        Raises:
            TimeoutError: DC/OS was not up in time; the message names each master and
                the check it still failed.
        """
        timeout = _checks.seconds("timeout", timeout)
        waiter = getattr(self._cluster, "_wait_for_dcos", None)
        if waiter is None:
            raise NotImplementedError(
                "wait_for_dcos needs a cluster made by a dcos_e2e backend"
            )
        waiter(timeout)

    def wait_for_dcos_oss(self, http_checks: bool = True) -> None:
        """
        The final API's wait for DC/OS OSS: ``wait_for_dcos`` for up to an hour. The
        installer contract's checks (diagnostics on every node, the CA certificate on
        masters) stand in for the final's HTTP checks; ``http_checks=False`` is
        accepted and waits for the same.

        Raises:
            dcos_e2e.exceptions.DCOSTimeoutError: DC/OS was not up within the hour.
        """
        _checks.boolean("http_checks", http_checks)
        self._wait_final()

    def wait_for_dcos_ee(
        self,
        superuser_username: str,
        superuser_password: str,
        http_checks: bool = True,
    ) -> None:
        """
        The final API's wait for DC/OS Enterprise: as ``wait_for_dcos_oss``; the
        superuser's name and password are checked to be text (the installer contract
        has no login to try them on).

        Raises:
            dcos_e2e.exceptions.DCOSTimeoutError: DC/OS was not up within the hour.
        """
        _checks.text("superuser_username", superuser_username)
        _checks.text("superuser_password", superuser_password)
        _checks.boolean("http_checks", http_checks)
        self._wait_final()

    def _wait_final(self) -> None:
        try:
            self.wait_for_dcos(timeout=FINAL_WAIT_TIMEOUT)
        except TimeoutError as e:
            raise DCOSTimeoutError(str(e)) from e

    @property
    def base_config(self) -> Dict[str, Any]:
        """
        The final API's base configuration for installing on these nodes: the
        configuration an install merges ``dcos_config`` over (node lists, bootstrap URL,
        superuser, discovery), for the final's ``{**cluster.base_config, ...}``.
        """
        masters, agents, public_agents = (
            [str(n.ip_address) for n in self._ordered(r)] for r in range(3)
        )
        return json.loads(
            _core.base_config(masters, agents, public_agents, self.default_ssh_user)
        )

    def run_with_test_environment(
        self,
        args: List[str],
        env: Optional[Dict[str, Any]] = None,
        output: Any = None,
        tty: bool = False,
        node: Optional[Node] = None,
        transport: Any = None,
    ) -> "CompletedProcess[bytes]":
        """
        The final API's run in the integration tests' environment: ``args`` in
        ``/opt/mesosphere/active/dcos-integration-test/`` after
        ``/opt/mesosphere/environment.export``, with the nodes' addresses in
        ``MASTER_HOSTS``, ``SLAVE_HOSTS``, ... (as ``run_integration_tests``, which
        also waits for DC/OS first; this does not), on ``node`` (default: the first
        master), as the default SSH user.

        Args:
            args: The command, as words read by the node's shell.
            env: More environment variables.
            output: As ``Node.run``'s (the final API's): ``Output.CAPTURE`` (default),
                ``Output.LOG_AND_CAPTURE`` or ``Output.NO_CAPTURE``.
            tty: Run on a terminal, as ``Node.run(tty=True)``.
            node: The node to run on.
            transport: How to reach the node for this call (its own if ``None``).

        Raises:
            subprocess.CalledProcessError: The command failed.
        """
        words = _checks.args("args", args)
        extra_env = _checks.mapping("env", env)
        if node is not None and not isinstance(node, Node):
            raise _checks.type_error("node", "a dcos_e2e.node.Node", node)
        final = {"output": Output.CAPTURE if output is None else output, "shell": True,
                 "tty": tty, "transport": transport}
        return self._in_test_environment(words, extra_env, node, final)

    def _in_test_environment(
        self, words: List[str], env: Dict[str, Any], node: Optional[Node],
        how: Dict[str, Any],
    ) -> "CompletedProcess[bytes]":
        """``words`` on ``node`` (default: the first master) in the integration tests'
        directory and environment, as the default SSH user; ``how``: ``Node.run``'s
        further keywords, of either API."""
        masters, agents, public_agents = (self._ordered(r) for r in range(3))
        on = masters[0] if node is None else node

        def addresses(nodes: List[Node]) -> List[str]:
            return [str(n.ip_address) for n in nodes]

        environment = {
            **_core.test_environment(
                addresses(masters), addresses(agents), addresses(public_agents),
                str(on.ip_address),
            ),
            **env,
        }
        args = [
            # `.`, not `source`: the login shell may be a POSIX one without it.
            ".",
            "/opt/mesosphere/environment.export",
            "&&",
            "cd",
            "/opt/mesosphere/active/dcos-integration-test/",
            "&&",
        ] + words
        return on.run(args=args, user=self.default_ssh_user, env=environment, **how)

    def run_integration_tests(
        self,
        pytest_command: List[str],
        env: Optional[Dict[str, Any]] = None,
    ) -> "CompletedProcess[bytes]":
        """
        Run the integration tests on a master, once DC/OS is up.

        On a master, as the default SSH user: ``.
        /opt/mesosphere/environment.export && cd
        /opt/mesosphere/active/dcos-integration-test/ && <pytest_command>``, with
        ``MASTER_HOSTS``, ``PUBLIC_MASTER_HOSTS``, ``SLAVE_HOSTS`` and
        ``PUBLIC_SLAVE_HOSTS`` set to the nodes' addresses (comma-separated),
        ``DCOS_DNS_ADDRESS``, ``DCOS_NUM_MASTERS`` and ``DCOS_NUM_AGENTS`` (the
        library's environment, the same for every backend), plus ``env``.

        Args:
            pytest_command: The ``pytest`` command, as words (read by the node's shell).
            env: More environment variables for the tests.

        Returns:
            The result of the ``pytest`` command.

        Raises:
            subprocess.CalledProcessError: The ``pytest`` command failed; its
                ``returncode`` is pytest's exit status.
        """
        words = _checks.args("pytest_command", pytest_command)
        extra_env = _checks.mapping("env", env)
        self.wait_for_dcos()
        return self._in_test_environment(
            words, extra_env, None, {"log_output_live": self._log_output_live}
        )

    def _ordered(self, role: int) -> List[Node]:
        """The nodes of a role in the cluster's order (the sets have none)."""
        nodes = getattr(self._cluster, "_nodes", None)
        if nodes is not None:
            return list(nodes[role])
        return list((self.masters, self.agents, self.public_agents)[role])

    def _faults(self) -> _core.ClusterHandle:
        handle = getattr(self._cluster, "_handle", None)
        if handle is None:
            raise NotImplementedError(
                "faults need a cluster of this package's backends (Docker or ExistingCluster)"
            )
        return handle

    def partition(
        self, a: Iterable[Node], b: Iterable[Node], one_way: bool = False
    ) -> Partition:
        """
        Cut all traffic between the nodes of ``a`` and those of ``b`` (with
        ``one_way``, only what goes from ``a`` to ``b``), by firewall rules inside the
        nodes: the test host still reaches every node. Heal the returned ``Partition``,
        or use it in a ``with`` block.
        """
        one_way = _checks.boolean("one_way", one_way)
        handles = [[n._node() for n in _checks.nodes(name, g)] for name, g in (("a", a), ("b", b))]
        return Partition(self._faults().partition(handles[0], handles[1], one_way))

    def heal(self) -> None:
        """Remove every network cut this process made on the cluster's nodes."""
        self._faults().undo("heal")

    def shape_between(
        self,
        senders: Iterable[Node],
        receivers: Iterable[Node],
        rate: Optional[int] = None,
        delay: Optional[float] = None,
        jitter: Optional[float] = None,
        loss: Optional[float] = None,
    ) -> None:
        """Degrade what the ``senders`` send to the ``receivers`` (a link into one
        node: every other node as senders); parameters as ``Node.shape``."""
        from_ = [n._node() for n in _checks.nodes("senders", senders)]
        to = [n._node() for n in _checks.nodes("receivers", receivers)]
        self._faults().shape_between(from_, to, **faults.link(rate, delay, jitter, loss))

    def unshape(self) -> None:
        """Take every node's shaping out."""
        self._faults().undo("unshape")

    def undo_faults(self) -> None:
        """Undo every fault this process put on the cluster: resume paused nodes, start
        stopped ones, heal cuts and take shaping out."""
        self._faults().undo("all")

    @contextlib.contextmanager
    def faults(self) -> Iterator["Cluster"]:
        """
        A ``with`` block whose faults are undone when it ends, however it ends::

            with cluster.faults():
                agent.pause()
                cluster.partition([master], [other_agent])
                ...
        """
        try:
            yield self
        finally:
            self.undo_faults()

    def _library(self) -> _LibraryCluster:
        if not isinstance(self._cluster, _LibraryCluster):
            raise NotImplementedError(
                "this needs a cluster of this package's backends (Docker or ExistingCluster)"
            )
        return self._cluster

    def install_dcos_from_path(
        self,
        dcos_installer: Union[str, Path],
        dcos_config: Optional[Dict[str, Any]] = None,
        ip_detect_path: Optional[Path] = None,
        output: Any = None,
        files_to_copy_to_genconf_dir: Iterable[Tuple[Path, Path]] = (),
        sha256: Optional[str] = None,
        _nodes: Optional[List[Tuple[Node, str]]] = None,
    ) -> None:
        """
        Install DC/OS from ``dcos_installer`` on nodes that have none (the final API's
        name; the installer contract's install). ``dcos_config`` is merged over the base
        configuration (its top-level keys win, so the final API's full configuration
        from ``base_config`` works as it is); ``ip_detect_path``, when given, replaces
        the harness's ``ip-detect`` (a file for ``/genconf/ip-detect`` in
        ``files_to_copy_to_genconf_dir`` replaces both). ``output=Output.LOG_AND_CAPTURE``
        logs the installer's output as it comes (stderr lines as WARNING records of
        ``dcos_e2e.installer``), ``Output.CAPTURE`` does not; without ``output``, as the
        cluster's ``log_output_live`` says.

        Raises:
            subprocess.CalledProcessError: A step of the install failed.
        """
        extra, files = _genconf(dcos_config, ip_detect_path, files_to_copy_to_genconf_dir)
        handle = self._library()._handle
        live = _live(output)
        # Node.install_dcos_from_path: those nodes, as the roles given.
        chosen = None if _nodes is None else [(node._node(), role) for node, role in _nodes]
        handle.install(_artifact(dcos_installer), extra, files, sha256, live, chosen)

    def install_dcos_from_url(
        self,
        dcos_installer: str,
        dcos_config: Optional[Dict[str, Any]] = None,
        ip_detect_path: Optional[Path] = None,
        output: Any = None,
        files_to_copy_to_genconf_dir: Iterable[Tuple[Path, Path]] = (),
        sha256: Optional[str] = None,
    ) -> None:
        """``install_dcos_from_path`` with an ``http(s)://`` or ``file://`` URL:
        downloaded once into the cache (``DCOS_E2E_CACHE_DIR``), checked against
        ``sha256`` when given."""
        self.install_dcos_from_path(
            _checks.url("dcos_installer", dcos_installer),
            dcos_config, ip_detect_path, output, files_to_copy_to_genconf_dir, sha256,
        )

    def upgrade_dcos_from_path(
        self,
        dcos_installer: Union[str, Path],
        dcos_config: Optional[Dict[str, Any]] = None,
        ip_detect_path: Optional[Path] = None,
        output: Any = None,
        files_to_copy_to_genconf_dir: Iterable[Tuple[Path, Path]] = (),
        sha256: Optional[str] = None,
        node_timeout: float = 600.0,
        _nodes: Optional[List[Node]] = None,
    ) -> None:
        """
        Upgrade DC/OS to ``dcos_installer`` (the final API's name): masters one at a
        time, each healthy again (within ``node_timeout`` seconds) before the next, then
        agents, then public agents. Arguments as for ``install_dcos_from_path``.

        Raises:
            subprocess.CalledProcessError: A node's upgrade failed; its note names the
                node where the upgrade stopped and those upgraded before it.
            TimeoutError: A node was not healthy in time after its upgrade.
            ValueError: The nodes are not at one version.
            dcos_e2e.exceptions.DCOSNotInstalledError: A node has no DC/OS.
        """
        extra, files = _genconf(dcos_config, ip_detect_path, files_to_copy_to_genconf_dir)
        handles = [n._node() for n in _nodes or []]
        self._library()._handle.upgrade(
            _artifact(dcos_installer), extra, files, handles,
            _checks.seconds("node_timeout", node_timeout), sha256,
        )

    def upgrade_dcos_from_url(
        self,
        dcos_installer: str,
        dcos_config: Optional[Dict[str, Any]] = None,
        ip_detect_path: Optional[Path] = None,
        output: Any = None,
        files_to_copy_to_genconf_dir: Iterable[Tuple[Path, Path]] = (),
        sha256: Optional[str] = None,
        node_timeout: float = 600.0,
    ) -> None:
        """``upgrade_dcos_from_path`` with an ``http(s)://`` or ``file://`` URL."""
        self.upgrade_dcos_from_path(
            _checks.url("dcos_installer", dcos_installer),
            dcos_config, ip_detect_path, output, files_to_copy_to_genconf_dir, sha256,
            node_timeout,
        )

    def destroy_node(self, node: Node) -> None:
        """
        Destroy one node (the final API's): its container and its own volumes. The
        cluster goes on; its node sets no longer hold the node.

        Raises:
            ValueError: The node is not (or no longer) one of this cluster's.
            NotImplementedError: The backend cannot (``ExistingCluster``).
        """
        if not isinstance(node, Node):
            raise _checks.type_error("node", "a dcos_e2e.node.Node", node)
        self._library()._destroy_node(node)

    def add_node(self, role: str) -> Node:
        """
        Add a node of ``role`` (``"master"``, ``"agent"`` or ``"public-agent"``), made
        as the others were; on an installed cluster it takes the address of a node of
        its role DC/OS was installed with that is gone, and is installed. Returns it.
        """
        if not isinstance(role, str):
            raise _checks.type_error("role", "'master', 'agent' or 'public-agent'", role)
        return self._library()._add_node(role)

    def destroy(self) -> None:
        """
        Destroy every node of the cluster (idempotent).

        Raises:
            NotImplementedError: The backend cannot destroy clusters
                (``ExistingCluster``).
        """
        self._cluster.destroy()


def _genconf(
    dcos_config: Optional[Dict[str, Any]],
    ip_detect_path: Optional[Path],
    files: Iterable[Tuple[Path, Path]],
) -> Tuple[Optional[str], List[Tuple[str, str]]]:
    """The final API's genconf arguments as the library's: the config as JSON (merged
    over the base), the files (``ip_detect_path`` as ``/genconf/ip-detect``)."""
    extra = _checks.config_json("dcos_config", _checks.mapping("dcos_config", dcos_config))
    # `ip_detect_path` first: a file given for /genconf/ip-detect replaces it (the
    # final API's order).
    pairs = [] if ip_detect_path is None else [
        (str(_checks.path("ip_detect_path", ip_detect_path)), "/genconf/ip-detect")
    ]
    pairs += [
        (str(_checks.path("files_to_copy_to_genconf_dir", source)), str(destination))
        for source, destination in files
    ]
    return extra, pairs


def _live(output: Any) -> Optional[bool]:
    """An install's own live logging (the final API's ``output``), if it has one."""
    return None if output is None else _output_is_logged(output)


def _artifact(value: Any) -> str:
    """An installer as the library takes it: a URL as given (a ``Path`` would fold its
    ``//``), else a path."""
    if isinstance(value, str) and "://" in value:
        return _checks.url("dcos_installer", value)
    return str(_checks.path("dcos_installer", value))
