"""Types of the Rust extension module behind ``dcos_e2e`` (private: use the
``dcos_e2e.cluster``, ``dcos_e2e.backends`` and ``dcos_e2e.node`` modules)."""

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

__version__: str

class HarnessError(RuntimeError):
    """The harness itself failed (Docker, SSH, the node image), rather than a command
    on a node."""

_Mount = Tuple[str, str, bool]
_Host = Tuple[str, str]

class DCOSNotInstalledError(Exception): ...

class ClusterHandle:
    @property
    def id(self) -> str: ...
    @property
    def default_ssh_user(self) -> str: ...
    @property
    def workspace(self) -> Optional[Path]: ...
    def masters(self) -> List[NodeHandle]: ...
    def agents(self) -> List[NodeHandle]: ...
    def public_agents(self) -> List[NodeHandle]: ...
    def wait_for_dcos(self, timeout: float) -> None: ...
    def export_logs(self, dir: str) -> Path: ...
    def web_urls(self) -> List[str]: ...
    def load_images(self, images: List[str], nodes: List["NodeHandle"]) -> None: ...
    def install(
        self,
        artifact: str,
        extra_config_json: Optional[str],
        files: List[Tuple[str, str]],
        sha256: Optional[str] = None,
        log_output_live: Optional[bool] = None,
        nodes: Optional[List[Tuple["NodeHandle", str]]] = None,
    ) -> None: ...
    def upgrade(
        self,
        artifact: str,
        extra_config_json: Optional[str],
        files: List[Tuple[str, str]],
        nodes: List[NodeHandle],
        node_timeout: float,
        sha256: Optional[str] = None,
    ) -> None: ...
    def destroy_node(self, node: NodeHandle) -> None: ...
    def add_node(self, role: str) -> NodeHandle: ...
    def destroy(self) -> None: ...
    def keep(self) -> None: ...

class NodeHandle:
    @property
    def ip_address(self) -> str: ...
    @property
    def ssh_key_path(self) -> Path: ...
    @property
    def role(self) -> str: ...
    @property
    def index(self) -> int: ...
    @property
    def container_name(self) -> Optional[str]: ...
    @property
    def transport(self) -> str: ...
    @property
    def default_user(self) -> str: ...
    def dcos_build_info(self) -> Tuple[str, str, str]: ...
    def run(
        self,
        script: str,
        user: Optional[str],
        env: List[Tuple[str, str]],
        log_output_live: bool,
        cmd: Any,
        sudo: bool = False,
        tty: Optional[Tuple[int, int, str]] = None,
    ) -> Tuple[bytes, bytes]: ...
    def popen(
        self,
        script: str,
        user: Optional[str],
        env: List[Tuple[str, str]],
        cmd: Any,
        stdin: bool = False,
        sudo: bool = False,
        tty: Optional[Tuple[int, int, str]] = None,
    ) -> ProcessHandle: ...
    def send_file(
        self, local: str, remote: str, user: Optional[str] = None, sudo: bool = False
    ) -> None: ...
    def download_file(self, remote: str, local: str) -> None: ...
    def via(self, transport: str) -> "NodeHandle": ...

class ProcessHandle:
    @property
    def pid(self) -> int: ...
    def write_stdin(self, data: bytes) -> None: ...
    def close_stdin(self) -> None: ...
    def read(self, which: int, size: int) -> bytes: ...
    def communicate(
        self, timeout: Optional[float] = None
    ) -> Optional[Tuple[bytes, bytes, int]]: ...
    def poll(self) -> Optional[int]: ...
    def wait(self, timeout: Optional[float] = None) -> Optional[int]: ...
    def kill(self) -> None: ...

def create_docker_cluster(
    *,
    build_artifact: Optional[str],
    extra_config_json: Optional[str],
    masters: int,
    agents: int,
    public_agents: int,
    log_output_live: bool,
    destroy_on_error: bool,
    destroy_on_success: bool,
    files_to_copy_to_installer: List[Tuple[str, str]],
    workspace_dir: Optional[str],
    master_mounts: List[_Mount],
    agent_mounts: List[_Mount],
    public_agent_mounts: List[_Mount],
    node_image: Optional[str],
    network: Optional[str],
    privileged: Optional[bool],
    cluster_id: Optional[str],
    transport: Optional[str],
    connect_timeout: float,
    ready_timeout: float,
    docker_hosts: List[str],
    published_address: Optional[str] = ...,
    labels: List[Tuple[str, str]] = ...,
    role_labels: List[Tuple[str, str, str]] = ...,
    master_ports: List[Tuple[int, int]] = ...,
    distribution: Optional[str] = ...,
    engine: bool = ...,
    storage_driver: Optional[str] = ...,
) -> ClusterHandle: ...
def attach_docker_cluster(cluster_id: str, transport: Optional[str] = None) -> ClusterHandle: ...
def base_config(
    masters: List[str], agents: List[str], public_agents: List[str], ssh_user: str
) -> str: ...
def existing_cluster(
    *,
    masters: List[_Host],
    agents: List[_Host],
    public_agents: List[_Host],
    default_ssh_user: str,
    log_output_live: bool,
) -> ClusterHandle: ...
def standalone_node(
    ip_address: str, ssh_key_path: str, default_user: str = "root"
) -> NodeHandle: ...
def flush_logs() -> None: ...
def keep_requested() -> bool: ...
def test_environment(
    masters: List[str], agents: List[str], public_agents: List[str], on: str
) -> Dict[str, str]: ...

def docker_node_at(ip_address: str) -> Optional[NodeHandle]: ...

class LoopbackHandle:
    @property
    def path(self) -> str: ...
    @property
    def container(self) -> str: ...
    def destroy(self) -> None: ...

def create_loopback(size_mib: int, labels: Dict[str, str]) -> LoopbackHandle: ...
