"""
Cluster backends: where the machines of a cluster come from.

``Docker`` makes a fresh cluster of machine-like Docker containers for each ``Cluster``
and removes it afterwards; ``ExistingCluster`` wraps nodes that already exist.
"""

import abc
import enum
import json
import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Type, Union

from . import _checks, _core, distributions
from .distributions import Distribution
from .docker_storage_drivers import DockerStorageDriver
from .docker_versions import DockerVersion
from .node import Node, Transport

#: The engine's names of the storage drivers we take.
_DRIVER_NAMES = {
    DockerStorageDriver.OVERLAY_2: "overlay2",
    DockerStorageDriver.FUSE_OVERLAYFS: "fuse-overlayfs",
    DockerStorageDriver.VFS: "vfs",
    DockerStorageDriver.AUTO: "auto",
}

__all__ = ["ClusterBackend", "ClusterManager", "Docker", "ExistingCluster"]


class ClusterManager(abc.ABC):
    """
    The running side of a cluster, made by its backend's ``cluster_cls``.
    """

    @abc.abstractmethod
    def __init__(
        self,
        build_artifact: Optional[Union[str, Path]],
        masters: int,
        agents: int,
        public_agents: int,
        extra_config: Dict[str, Any],
        log_output_live: bool,
        files_to_copy_to_installer: Dict[Path, Path],
        cluster_backend: "ClusterBackend",
    ) -> None:
        """
        Create (or wrap) a cluster with the given ``cluster_backend``.

        Args:
            build_artifact: The installer to install from, if any.
            masters: The number of master nodes.
            agents: The number of agent nodes.
            public_agents: The number of public agent nodes.
            extra_config: Configuration merged over the installer's base config.
            log_output_live: If ``True``, log command output as it arrives.
            files_to_copy_to_installer: Host paths to paths under ``/genconf``.
            cluster_backend: The backend's configuration.
        """

    @abc.abstractmethod
    def destroy(self) -> None:
        """Destroy every node of the cluster."""

    @property
    @abc.abstractmethod
    def masters(self) -> Set[Node]:
        """The master nodes."""

    @property
    @abc.abstractmethod
    def agents(self) -> Set[Node]:
        """The agent nodes."""

    @property
    @abc.abstractmethod
    def public_agents(self) -> Set[Node]:
        """The public agent nodes."""


class ClusterBackend(abc.ABC):
    """
    The configuration of a kind of cluster: what ``Cluster(cluster_backend=...)`` takes.
    """

    @property
    @abc.abstractmethod
    def cluster_cls(self) -> Type[ClusterManager]:
        """The ``ClusterManager`` class that makes and manages such a cluster."""

    @property
    @abc.abstractmethod
    def supports_destruction(self) -> bool:
        """Whether clusters of this backend can be destroyed."""

    @property
    @abc.abstractmethod
    def default_ssh_user(self) -> str:
        """The user commands run as by default."""

    @property
    def ip_detect_path(self) -> Path:
        """
        An ``ip-detect`` script for this backend's nodes (the final API's), to pass
        as ``install_dcos_from_path(..., ip_detect_path=...)``.

        Raises:
            NotImplementedError: The backend has none (``ExistingCluster``: its hosts
                are not ours to know).
        """
        raise NotImplementedError(
            "{} has no ip-detect script of its own".format(type(self).__name__)
        )

    @property
    def base_config(self) -> Dict[str, Any]:
        """
        The configuration every install on this backend starts from, without the node
        lists (the final API's); ``Cluster.base_config`` has those too.
        """
        return {}


class _LibraryCluster(ClusterManager):
    """A cluster held by the Rust library: its nodes, in role order."""

    _handle: _core.ClusterHandle

    def _adopt(self, handle: _core.ClusterHandle) -> None:
        self._handle = handle
        #: A weak reference to the public Cluster, set by it (the nodes' upgrade goes
        #: through it).
        self._owner: Any = None
        # Made once, so that the sets hold the same objects on every access.
        self._nodes: Tuple[List[Node], List[Node], List[Node]] = (
            [Node._of(n) for n in handle.masters()],
            [Node._of(n) for n in handle.agents()],
            [Node._of(n) for n in handle.public_agents()],
        )

    @property
    def masters(self) -> Set[Node]:
        return set(self._nodes[0])

    @property
    def agents(self) -> Set[Node]:
        return set(self._nodes[1])

    @property
    def public_agents(self) -> Set[Node]:
        return set(self._nodes[2])

    @property
    def cluster_id(self) -> str:
        return self._handle.id

    def _destroy_node(self, node: Node) -> None:
        self._handle.destroy_node(node._node())
        for nodes in self._nodes:
            if node in nodes:
                nodes.remove(node)

    def _add_node(self, role: str) -> Node:
        added = Node._of(self._handle.add_node(role))
        added._cluster = self._owner
        owner = self._owner() if self._owner is not None else None
        added._final_api = getattr(owner, "_final_api", False)
        slot = {"master": 0, "agent": 1, "public-agent": 2}[added._node().role]
        nodes = self._nodes[slot]
        at = len([n for n in nodes if n._node().index < added._node().index])
        nodes.insert(at, added)
        return added

    def _first_master(self) -> Node:
        return self._nodes[0][0]

    def _wait_for_dcos(self, timeout: float) -> None:
        self._handle.wait_for_dcos(timeout)


_MountsArg = Optional[Union[Dict[str, Dict[str, str]], List[Union[str, Dict[str, Any]]]]]


def _mounts(name: str, given: _MountsArg) -> List[Tuple[str, str, bool]]:
    """docker-py ``volumes`` form (``{host: {'bind': path, 'mode': 'rw'}}``, or a list
    of ``'host:path[:mode]'``), or a list of docker-py ``Mount`` objects (the final API's:
    mappings with ``Source``, ``Target``, ``Type`` ``'bind'`` and ``ReadOnly``), as (host
    path, node path, read-only)."""
    if given is None:
        return []
    result = []
    if isinstance(given, dict):
        for source, spec in given.items():
            source = str(_checks.path(name + " keys", source))
            if not isinstance(spec, dict) or not isinstance(spec.get("bind"), str):
                raise ValueError(
                    "{name}: {source!r} must map to {{'bind': <path in the node>, "
                    "'mode': 'rw' or 'ro'}}, got {spec!r}".format(
                        name=name, source=source, spec=spec
                    )
                )
            result.append((source, spec["bind"], _read_only(name, spec.get("mode", "rw"))))
        return result
    if isinstance(given, (list, tuple)):
        for item in given:
            if isinstance(item, dict) and "Target" in item:
                result.append(_docker_py_mount(name, item))
                continue
            parts = item.split(":") if isinstance(item, str) else []
            if len(parts) not in (2, 3):
                raise ValueError(
                    "{name}: expected 'host_path:node_path[:mode]', got {item!r}".format(
                        name=name, item=item
                    )
                )
            mode = parts[2] if len(parts) == 3 else "rw"
            result.append((parts[0], parts[1], _read_only(name, mode)))
        return result
    raise _checks.type_error(name, "a dict in docker-py volumes form, or None", given)


def _docker_py_mount(name: str, mount: Dict[str, Any]) -> Tuple[str, str, bool]:
    """A docker-py ``Mount`` (a dict): bind mounts only, as our nodes take them."""
    if mount.get("Type", "volume") != "bind":
        raise ValueError(
            "{}: only bind mounts (Mount(..., type='bind')) are taken, got {!r}".format(
                name, mount)
        )
    source, target = mount.get("Source"), mount.get("Target")
    if not isinstance(source, str) or not isinstance(target, str):
        raise ValueError("{}: a Mount needs a Source and a Target, got {!r}".format(name, mount))
    return source, target, bool(mount.get("ReadOnly", False))


def _checked_mounts(name: str, given: _MountsArg) -> List[Tuple[str, str, bool]]:
    mounts = _mounts(name, given)
    for source, target, _ in mounts:
        # Named as the caller knows it (the library calls it `master_mounts`).
        if not os.path.exists(source):
            raise ValueError(
                "{name}: the host path {source!r} does not exist".format(
                    name=name, source=source
                )
            )
        if not target.startswith("/"):
            raise ValueError(
                "{name}: the path in the node must be absolute, got {target!r}".format(
                    name=name, target=target
                )
            )
    return mounts


def _read_only(name: str, mode: Any) -> bool:
    if mode not in ("rw", "ro"):
        raise ValueError(
            "{name}: mode must be 'rw' or 'ro', got {mode!r}".format(name=name, mode=mode)
        )
    return bool(mode == "ro")


class Docker(ClusterBackend):
    """
    Clusters of machine-like Docker containers (systemd, sshd, their own address),
    made for each ``Cluster`` and removed after it. One ``Docker`` serves any number of
    clusters, at the same time too.
    """

    def __init__(
        self,
        workspace_dir: Optional[_checks.PathLike] = None,
        custom_master_mounts: _MountsArg = None,
        *,
        custom_agent_mounts: _MountsArg = None,
        custom_public_agent_mounts: _MountsArg = None,
        node_image: Optional[str] = None,
        network: Any = None,
        privileged: Optional[bool] = None,
        cluster_id: Optional[str] = None,
        transport: Union[Transport, str, None] = None,
        connect_timeout: float = 10.0,
        ready_timeout: float = 120.0,
        docker_hosts: Optional[Sequence[str]] = None,
        published_address: Optional[str] = None,
        container_name_prefix: Optional[str] = None,
        custom_container_mounts: _MountsArg = None,
        docker_container_labels: Optional[Dict[str, str]] = None,
        docker_master_labels: Optional[Dict[str, str]] = None,
        docker_agent_labels: Optional[Dict[str, str]] = None,
        docker_public_agent_labels: Optional[Dict[str, str]] = None,
        one_master_host_port_map: Optional[Dict[Any, int]] = None,
        mount_sys_fs_cgroup: bool = True,
        linux_distribution: Optional[Distribution] = None,
        docker_version: Optional[DockerVersion] = None,
        storage_driver: Optional[DockerStorageDriver] = None,
    ) -> None:
        """
        Args:
            workspace_dir: The directory in which each cluster's temporary directory
                (keys, the installer's genconf) is made; the system's temporary
                directory if ``None``. Removed with the cluster.
            custom_master_mounts: Bind mounts on master nodes, in docker-py ``volumes``
                form: ``{'/host/path': {'bind': '/path/in/node', 'mode': 'rw'}}``. A
                change on the host is seen in the nodes at once.
            custom_agent_mounts: The same for agent nodes.
            custom_public_agent_mounts: The same for public agent nodes.
            node_image: The Docker image of the nodes (it must run systemd and sshd);
                ours, built on this machine when missing, if ``None``.
            network: An existing Docker network for the nodes, by name or as a
                docker-py ``Network``; a new one per cluster if ``None``.
            privileged: Run nodes ``--privileged``: ``None`` where the daemon allows
                it, ``True`` always, ``False`` never.
            cluster_id: The cluster's id (the prefix of its container names); a random
                ``dcos-e2e-...`` id if ``None``. Only one cluster at a time can have it.
            transport: How commands reach the nodes: ``Transport.SSH`` or
                ``Transport.DOCKER_EXEC`` (or ``'ssh'``, ``'docker-exec'``). ``None``:
                SSH, except on a Docker daemon that does not see this machine's files
                (another host), where it is docker exec. SSH there goes through a jump
                host whose port that daemon publishes.
            connect_timeout: Seconds one SSH connection attempt may take.
            ready_timeout: Seconds new nodes may take to accept commands.
            docker_hosts: The Docker daemons to make clusters on (``unix://``,
                ``tcp://``); where ``DOCKER_HOST`` says if ``None``. Several: members
                of one Docker Swarm, the first a manager; the nodes are spread over
                them (see the repository's ``docs/remote-hosts.md``).
            published_address: Where this machine reaches ports the (first) daemon's
                host publishes, for SSH through the jump host; if ``None``, the host of
                a ``tcp://`` or ``ssh://`` daemon address, else 127.0.0.1.
            container_name_prefix: The final API's: each cluster's id (the prefix of
                its container names) is this, ``-`` and 8 hex digits.
            custom_container_mounts: The final API's: bind mounts on every node.
            docker_container_labels: The final API's: labels of yours on every node
                container (ours stay, and keys of ours are refused).
            docker_master_labels: The same on master containers (they win).
            docker_agent_labels: The same on agent containers.
            docker_public_agent_labels: The same on public agent containers.
            one_master_host_port_map: The final API's: ports of the first master
                published on this host's loopback, docker-py style ``{'80/tcp': 8080}``
                (``'80'`` or ``80`` too; TCP only).
            mount_sys_fs_cgroup: The final API's; only ``True``: our nodes' systemd
                needs the host's ``/sys/fs/cgroup``.
            linux_distribution: The final API's: the nodes' Debian release
                (``Distribution.DEBIAN_BOOKWORM``, the default, ``_TRIXIE``,
                ``_FORKY``); the final's other distributions are refused.
            docker_version: The final API's: ``DockerVersion.DISTRIBUTION`` puts the
                release's Docker Engine in the nodes (none by default); the final's
                fixed versions are refused.
            storage_driver: The final API's: the nodes' engine's storage driver
                (``OVERLAY_2``, ``FUSE_OVERLAYFS``, ``VFS``, ``AUTO``); it puts the
                engine in the nodes (``docker_version=DockerVersion.DISTRIBUTION``).
        """
        self.workspace_dir = _checks.optional_path("workspace_dir", workspace_dir)
        self.custom_master_mounts = custom_master_mounts or {}
        self._mounts = (
            _checked_mounts("custom_master_mounts", custom_master_mounts),
            _checked_mounts("custom_agent_mounts", custom_agent_mounts),
            _checked_mounts("custom_public_agent_mounts", custom_public_agent_mounts),
        )
        self.node_image = _checks.optional_str("node_image", node_image)
        self.network = _network(network)
        if privileged is not None:
            _checks.boolean("privileged", privileged)
        self.privileged = privileged
        self.cluster_id = _checks.optional_str("cluster_id", cluster_id)
        if transport is None:
            pass
        elif isinstance(transport, str):
            try:
                transport = Transport(transport.replace("_", "-"))
            except ValueError:
                raise ValueError(
                    "transport must be Transport.SSH or Transport.DOCKER_EXEC, "
                    "got {!r}".format(transport)
                ) from None
        if transport is not None and not isinstance(transport, Transport):
            raise _checks.type_error("transport", "a dcos_e2e.node.Transport", transport)
        self.transport = transport
        if docker_hosts is None or isinstance(docker_hosts, str):
            if docker_hosts is not None:
                raise _checks.type_error("docker_hosts", "a list of daemon addresses", docker_hosts)
            hosts: List[str] = []
        else:
            hosts = [_checks.text("docker_hosts", h) for h in docker_hosts]
            if not all(hosts):
                raise ValueError("docker_hosts: each daemon address must be a non-empty string")
        self.docker_hosts = hosts
        self.published_address = _checks.optional_str("published_address", published_address)
        self.connect_timeout = _checks.seconds("connect_timeout", connect_timeout)
        self.ready_timeout = _checks.seconds("ready_timeout", ready_timeout)
        prefix = _checks.optional_str("container_name_prefix", container_name_prefix)
        if prefix is not None and self.cluster_id is not None:
            raise ValueError("give container_name_prefix or cluster_id, not both")
        #: Given, it makes each cluster's id; the default is what our ids start with.
        self._prefix_given = prefix is not None
        self.container_name_prefix = prefix if prefix is not None else "dcos-e2e"
        every = _checked_mounts("custom_container_mounts", custom_container_mounts)
        self._mounts = tuple(every + mounts for mounts in self._mounts)
        #: (role or None for every node, key, value)
        self._labels: List[Tuple[Optional[str], str, str]] = []
        for role, name, given in (
            (None, "docker_container_labels", docker_container_labels),
            ("master", "docker_master_labels", docker_master_labels),
            ("agent", "docker_agent_labels", docker_agent_labels),
            ("public-agent", "docker_public_agent_labels", docker_public_agent_labels),
        ):
            for key, value in _checks.mapping(name, given).items():
                self._labels.append((role, _checks.text(name, key), _checks.text(name, value)))
        self._master_ports = [
            _port_pair(container, host)
            for container, host in _checks.mapping(
                "one_master_host_port_map", one_master_host_port_map
            ).items()
        ]
        self.linux_distribution = _one_of(
            "linux_distribution", linux_distribution, Distribution, distributions.OURS
        )
        self.docker_version = _one_of(
            "docker_version", docker_version, DockerVersion, (DockerVersion.DISTRIBUTION,)
        )
        drivers = (DockerStorageDriver.OVERLAY_2, DockerStorageDriver.FUSE_OVERLAYFS,
                   DockerStorageDriver.VFS, DockerStorageDriver.AUTO)
        self.storage_driver = _one_of("storage_driver", storage_driver, DockerStorageDriver, drivers)
        #: The final API's name for it; ``AUTO`` unless given.
        self.docker_storage_driver = self.storage_driver or DockerStorageDriver.AUTO
        if self.storage_driver is not None and self.docker_version is None:
            # The driver is the nodes' engine's: asking for one asks for the engine (the
            # final's nodes always had one).
            self.docker_version = DockerVersion.DISTRIBUTION
        if _checks.boolean("mount_sys_fs_cgroup", mount_sys_fs_cgroup) is not True:
            raise NotImplementedError(
                "mount_sys_fs_cgroup=False: our nodes' systemd needs the host's /sys/fs/cgroup"
            )

    @property
    def cluster_cls(self) -> Type["DockerCluster"]:
        return DockerCluster

    @property
    def supports_destruction(self) -> bool:
        """Docker clusters can be destroyed."""
        return True

    @property
    def default_ssh_user(self) -> str:
        """``root``: commands on Docker nodes run as root by default."""
        return "root"

    @property
    def ip_detect_path(self) -> Path:
        """An ``ip-detect`` that prints a node's address on its first network (the one
        an install uses unless given another); installs without it detect the address
        the nodes reach the first master from."""
        return Path(__file__).parent / "resources" / "ip-detect"

    @property
    def base_config(self) -> Dict[str, Any]:
        """The harness's configuration without the node lists."""
        config = json.loads(_core.base_config([], [], [], self.default_ssh_user))
        return {k: v for k, v in config.items() if not k.endswith("_list")}


def _network(given: Any) -> Optional[str]:
    """A network's name: as given, or a docker-py ``Network``'s (the final API's)."""
    if given is None or isinstance(given, str):
        return given
    name = getattr(given, "name", None)
    if isinstance(name, str) and hasattr(given, "attrs"):
        return name
    raise _checks.type_error("network", "a network name (str) or a docker-py Network", given)


def _one_of(name: str, given: Any, kind: Type[enum.Enum], ours: Tuple[Any, ...]) -> Any:
    """``given``, a member of ``kind`` that we support, or ``None``."""
    if given is None:
        return None
    if not isinstance(given, kind):
        raise _checks.type_error(name, "a " + kind.__module__ + "." + kind.__name__, given)
    if given not in ours:
        raise ValueError(
            "{} {} is not one we can make here; ours: {}".format(
                name, given.name, ", ".join(m.name for m in ours))
        )
    return given


def _port_pair(container: Any, host: Any) -> Tuple[int, int]:
    """(host port, container port) from a docker-py port map entry."""
    text = str(container)
    port, _, protocol = text.partition("/")
    if protocol not in ("", "tcp") or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            "one_master_host_port_map: {!r} is not a TCP port ('80/tcp', '80' or 80)".format(
                container)
        )
    if isinstance(host, bool) or not isinstance(host, int) or not 0 < host < 65536:
        raise _checks.type_error("one_master_host_port_map", "host ports as int", host)
    return host, int(port)


class DockerCluster(_LibraryCluster):
    """A cluster of Docker containers, created and installed from a build artifact (or,
    ``nodes_only``, the final API's nodes to install on later)."""

    def __init__(
        self,
        build_artifact: Optional[Union[str, Path]],
        masters: int,
        agents: int,
        public_agents: int,
        extra_config: Dict[str, Any],
        log_output_live: bool,
        files_to_copy_to_installer: Dict[Path, Path],
        cluster_backend: Docker,
        *,
        destroy_on_error: bool = True,
        destroy_on_success: bool = True,
        nodes_only: bool = False,
    ) -> None:
        """
        Create the nodes and install from ``build_artifact`` (``nodes_only``: the nodes
        alone). A failed creation is removed if ``destroy_on_error``; a cluster dropped
        without ``with`` is destroyed when garbage-collected if ``destroy_on_success``.

        Raises:
            ValueError: No ``build_artifact`` was given, or a parameter is refused.
            NotImplementedError: ``build_artifact`` is not a ``pathlib.Path`` (a URL).
            subprocess.CalledProcessError: The installer failed.
        """
        if nodes_only:
            build_artifact = None
        elif not build_artifact:
            raise ValueError(
                "The Docker backend only supports creating new clusters. "
                "build_artifact must be a path to a build artifact."
            )
        elif not isinstance(build_artifact, Path):
            if isinstance(build_artifact, str):
                raise NotImplementedError(
                    "The Docker backend only supports creating clusters from "
                    "build artifacts specified by path."
                )
            raise _checks.type_error("build_artifact", "a pathlib.Path", build_artifact)
        extra_config_json = _checks.config_json("extra_config", extra_config)
        files = [
            (
                str(_checks.path("files_to_copy_to_installer keys", source)),
                str(_checks.path("files_to_copy_to_installer values", destination)),
            )
            for source, destination in files_to_copy_to_installer.items()
        ]
        backend = cluster_backend
        handle = _core.create_docker_cluster(
            build_artifact=None if build_artifact is None else str(build_artifact),
            extra_config_json=extra_config_json,
            masters=masters,
            agents=agents,
            public_agents=public_agents,
            log_output_live=log_output_live,
            destroy_on_error=destroy_on_error,
            destroy_on_success=destroy_on_success,
            files_to_copy_to_installer=files,
            workspace_dir=None if backend.workspace_dir is None else str(backend.workspace_dir),
            master_mounts=backend._mounts[0],
            agent_mounts=backend._mounts[1],
            public_agent_mounts=backend._mounts[2],
            node_image=backend.node_image,
            network=backend.network,
            privileged=backend.privileged,
            cluster_id=backend.cluster_id
            if not backend._prefix_given
            else "{}-{}".format(backend.container_name_prefix, os.urandom(4).hex()),
            # The final API's clusters are reached by docker exec unless told (its
            # default); the 2017 API's by SSH.
            transport=backend.transport.value if backend.transport is not None
            else "docker-exec" if nodes_only else None,
            docker_hosts=backend.docker_hosts,
            published_address=backend.published_address,
            labels=[(k, v) for role, k, v in backend._labels if role is None],
            role_labels=[(role, k, v) for role, k, v in backend._labels if role is not None],
            master_ports=backend._master_ports,
            distribution=None if backend.linux_distribution is None
            else backend.linux_distribution.value,
            engine=backend.docker_version is not None,
            storage_driver=None if backend.storage_driver is None
            else _DRIVER_NAMES[backend.storage_driver],
            connect_timeout=backend.connect_timeout,
            ready_timeout=backend.ready_timeout,
        )
        self._adopt(handle)

    @property
    def workspace(self) -> Optional[Path]:
        """The cluster's temporary directory on this host."""
        ws = self._handle.workspace
        return None if ws is None else Path(ws)

    def destroy(self) -> None:
        """Remove every container, volume and network of the cluster, and its workspace."""
        self._handle.destroy()

    def _keep(self) -> None:
        """The scope ended and the flags say keep: the cluster outlives this process."""
        self._handle.keep()


class AttachedCluster(_LibraryCluster):
    """A Docker cluster made elsewhere, opened by id (``Cluster.attach``)."""

    def __init__(self, handle: _core.ClusterHandle) -> None:  # noqa: D107 - ours only
        self._adopt(handle)

    def destroy(self) -> None:
        """Remove every container, volume and network of the cluster, and its workspace."""
        self._handle.destroy()


class ExistingCluster(ClusterBackend):
    """
    Nodes that already exist, for example those of another ``Cluster``. Commands reach
    them over SSH with each node's key. Such a cluster cannot be destroyed.
    """

    def __init__(
        self,
        masters: Iterable[Node],
        agents: Iterable[Node],
        public_agents: Iterable[Node],
        default_ssh_user: Optional[str] = None,
    ) -> None:
        """
        Args:
            masters: The master nodes.
            agents: The agent nodes.
            public_agents: The public agent nodes.
            default_ssh_user: The user commands run as by default (the 2017 API's).
                ``None`` (the final API's ``ExistingCluster(masters, agents,
                public_agents)``): each node's own ``default_user``, which must then
                be the same on every node.
        """
        self.masters = _nodes("masters", masters)
        self.agents = _nodes("agents", agents)
        self.public_agents = _nodes("public_agents", public_agents)
        if default_ssh_user is None:
            users = {n.default_user for n in self.masters | self.agents | self.public_agents}
            if len(users) > 1:
                raise ValueError(
                    "the nodes have different default users ({}): give default_ssh_user"
                    .format(", ".join(sorted(users)))
                )
            default_ssh_user = users.pop() if users else "root"
        self._default_ssh_user = _checks.text("default_ssh_user", default_ssh_user)

    @property
    def cluster_cls(self) -> Type["ExistingClusterManager"]:
        return ExistingClusterManager

    @property
    def supports_destruction(self) -> bool:
        """Destroying an existing cluster is the responsibility of the caller."""
        return False

    @property
    def default_ssh_user(self) -> str:
        return self._default_ssh_user


def _nodes(name: str, given: Any) -> Set[Node]:
    if isinstance(given, (str, bytes)) or not isinstance(given, Iterable):
        raise _checks.type_error(name, "a collection of dcos_e2e.node.Node", given)
    nodes = list(given)
    for node in nodes:
        if not isinstance(node, Node):
            raise _checks.type_error(name, "a collection of dcos_e2e.node.Node", nodes)
    return set(nodes)


class ExistingClusterManager(_LibraryCluster):
    """The nodes of an ``ExistingCluster``, reached over SSH."""

    def __init__(
        self,
        build_artifact: Optional[Union[str, Path]],
        masters: int,
        agents: int,
        public_agents: int,
        extra_config: Dict[str, Any],
        log_output_live: bool,
        files_to_copy_to_installer: Dict[Path, Path],
        cluster_backend: ExistingCluster,
        *,
        destroy_on_error: bool = False,
        destroy_on_success: bool = False,
    ) -> None:
        """
        Wrap the backend's nodes.

        Raises:
            ValueError: A parameter does not fit an existing cluster: an artifact, node
                counts other than the nodes', ``extra_config`` or files for the
                installer.
        """
        backend = cluster_backend
        if build_artifact is not None:
            raise ValueError(
                "Cluster already exists with DC/OS installed. "
                "Therefore, `build_artifact` must be `None`."
            )
        for given, nodes, what, parameter in (
            (masters, backend.masters, "master", "masters"),
            (agents, backend.agents, "agent", "agents"),
            (public_agents, backend.public_agents, "public agent", "public_agents"),
        ):
            if given != len(nodes):
                raise ValueError(
                    "The number of {what} nodes is `{n}`. "
                    "Therefore, `{parameter}` must be set to `{n}`.".format(
                        what=what, n=len(nodes), parameter=parameter
                    )
                )
        if extra_config:
            raise ValueError(
                "Nodes are already configured. Therefore, `extra_config` must be empty."
            )
        if files_to_copy_to_installer:
            raise ValueError(
                "No files can be copied to the installer of an existing cluster. "
                "Therefore, `files_to_copy_to_installer` must be empty."
            )

        def hosts(nodes: Set[Node]) -> List[Tuple[str, str]]:
            return [(str(n.ip_address), str(n.ssh_key_path)) for n in nodes]

        handle = _core.existing_cluster(
            masters=hosts(backend.masters),
            agents=hosts(backend.agents),
            public_agents=hosts(backend.public_agents),
            default_ssh_user=backend.default_ssh_user,
            log_output_live=log_output_live,
        )
        self._adopt(handle)

    def destroy(self) -> None:
        """
        Destroying an existing cluster is the responsibility of the caller.

        Raises:
            NotImplementedError: Always.
        """
        raise NotImplementedError(
            "An ExistingCluster cannot be destroyed: its nodes are not ours to remove."
        )


#: The final API's backends that are out of scope here, and why.
_ELSEWHERE = {
    "AWS": "clusters on AWS EC2",
    "Vagrant": "clusters of Vagrant virtual machines",
}


def __getattr__(name: str) -> Any:
    """``from dcos_e2e.backends import AWS`` (or ``Vagrant``): a clear error."""
    if name in _ELSEWHERE:
        raise ImportError(
            "dcos_e2e.backends.{} ({}) is not provided by this package: its backends "
            "are Docker and ExistingCluster".format(name, _ELSEWHERE[name]),
            name=name,
        )
    raise AttributeError("module {!r} has no attribute {!r}".format(__name__, name))
