"""
Refused parameters: the original's exceptions and messages, in the original's order,
and a TypeError or ValueError naming the parameter for a wrong type. Nothing here
makes a cluster (the checks come first), except where said.
"""

import inspect
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, Dict

import pytest

from conftest import assert_gone, leftovers
from dcos_e2e.backends import ClusterBackend, Docker, ExistingCluster
from dcos_e2e.cluster import Cluster
from dcos_e2e.node import Node, Transport

NOT_DESTROYABLE_ERROR = (
    "The given cluster backend does not support being destroyed. "
    "Therefore, `destroy_on_error` must be set to `False`."
)
NOT_DESTROYABLE_SUCCESS = (
    "The given cluster backend does not support being destroyed. "
    "Therefore, `destroy_on_success` must be set to `False`."
)
NO_ARTIFACT = (
    "The Docker backend only supports creating new clusters. "
    "build_artifact must be a path to a build artifact."
)
URL_ARTIFACT = (
    "The Docker backend only supports creating clusters from "
    "build artifacts specified by path."
)
EXISTS = (
    "Cluster already exists with DC/OS installed. "
    "Therefore, `build_artifact` must be `None`."
)
CONFIGURED = "Nodes are already configured. Therefore, `extra_config` must be empty."
NO_FILES = (
    "No files can be copied to the installer of an existing cluster. "
    "Therefore, `files_to_copy_to_installer` must be empty."
)


KEY = Path("/nonexistent/key")


@pytest.fixture(autouse=True)
def _key(ssh_key: Path) -> None:
    # A real key file (the library reads it when it wraps hosts); no host is contacted.
    global KEY
    KEY = ssh_key


def nodes(count: int, first: int = 1) -> set:
    """Nodes that are never contacted: every refusal comes before a connection."""
    return {
        Node(IPv4Address("127.0.0.{}".format(first + i)), KEY) for i in range(count)
    }


def existing(masters: int = 1, agents: int = 2, public_agents: int = 0) -> ExistingCluster:
    return ExistingCluster(
        masters=nodes(masters, 1),
        agents=nodes(agents, 10),
        public_agents=nodes(public_agents, 20),
        default_ssh_user="root",
    )


def refused(exception: type, **kwargs: Any) -> str:
    with pytest.raises(exception) as excinfo:
        Cluster(**kwargs)
    assert type(excinfo.value) is exception
    return str(excinfo.value)


OK_EXISTING: Dict[str, Any] = dict(
    masters=1, agents=2, public_agents=0, destroy_on_error=False, destroy_on_success=False
)


class TestExistingClusterConditions:
    def test_destroy_on_error_comes_first(self) -> None:
        # Both flags are True by default: the first condition is the one reported.
        assert refused(ValueError, cluster_backend=existing(), masters=1, agents=2,
                       public_agents=0, destroy_on_error=True,
                       destroy_on_success=True) == NOT_DESTROYABLE_ERROR

    def test_destroy_on_success(self) -> None:
        assert refused(ValueError, cluster_backend=existing(), **{
            **OK_EXISTING, "destroy_on_success": True}) == NOT_DESTROYABLE_SUCCESS

    def test_build_artifact_before_counts(self, artifact: Path) -> None:
        message = refused(ValueError, cluster_backend=existing(), build_artifact=artifact,
                          **{**OK_EXISTING, "masters": 3})
        assert message == EXISTS

    def test_counts_name_the_real_numbers(self) -> None:
        backend = existing(masters=1, agents=2, public_agents=0)
        assert refused(ValueError, cluster_backend=backend, **{
            **OK_EXISTING, "masters": 3, "agents": 0}) == (
            "The number of master nodes is `1`. Therefore, `masters` must be set to `1`."
        )
        assert refused(ValueError, cluster_backend=backend, **{
            **OK_EXISTING, "agents": 1, "public_agents": 5}) == (
            "The number of agent nodes is `2`. Therefore, `agents` must be set to `2`."
        )
        assert refused(ValueError, cluster_backend=backend, **{
            **OK_EXISTING, "public_agents": 1}) == (
            "The number of public agent nodes is `0`. "
            "Therefore, `public_agents` must be set to `0`."
        )

    def test_extra_config_before_files(self) -> None:
        assert refused(ValueError, cluster_backend=existing(), extra_config={"foo": "bar"},
                       files_to_copy_to_installer={Path("/foo"): Path("/bar")},
                       **OK_EXISTING) == CONFIGURED

    def test_files_message_wins_over_path_checks(self) -> None:
        # A missing source and a destination outside /genconf: still this message.
        assert refused(ValueError, cluster_backend=existing(),
                       files_to_copy_to_installer={Path("/foo"): Path("/bar")},
                       **OK_EXISTING) == NO_FILES

    def test_empty_values_are_accepted_as_none(self) -> None:
        # `{}` is as good as None for both; the wrapped hosts are not contacted.
        cluster = Cluster(cluster_backend=existing(), extra_config={},
                          files_to_copy_to_installer={}, **OK_EXISTING)
        assert len(cluster.masters) == 1 and len(cluster.agents) == 2
        with pytest.raises(NotImplementedError):
            cluster.destroy()
        # The methods check their parameters before contacting a node.
        for call, name in (
            (lambda: cluster.wait_for_dcos(timeout="10m"), "timeout"),
            (lambda: cluster.wait_for_dcos(timeout=0), "timeout"),
            (lambda: cluster.run_integration_tests(pytest_command="pytest -x"), "pytest_command"),
            (lambda: cluster.run_integration_tests(pytest_command=["pytest"], env=["A=1"]), "env"),
        ):
            with pytest.raises((TypeError, ValueError)) as excinfo:
                call()
            assert name in str(excinfo.value)


class TestDockerConditions:
    def test_no_artifact(self, tmp_path: Path) -> None:
        assert refused(ValueError, cluster_backend=Docker(workspace_dir=tmp_path),
                       build_artifact=None) == NO_ARTIFACT

    def test_url_artifact(self, tmp_path: Path) -> None:
        # Before any check of the file: there is no such file.
        url = "https://downloads.dcos.io/dcos/stable/dcos_generate_config.sh"
        assert refused(NotImplementedError, cluster_backend=Docker(workspace_dir=tmp_path),
                       build_artifact=url) == URL_ARTIFACT

    def test_artifact_of_another_type(self) -> None:
        message = refused(TypeError, cluster_backend=Docker(), build_artifact=42)
        assert "build_artifact" in message

    def test_missing_artifact_is_named_and_nothing_is_made(self, tmp_path: Path) -> None:
        missing = tmp_path / "no_such_installer.sh"
        message = refused(ValueError, cluster_backend=Docker(workspace_dir=tmp_path,
                                                            cluster_id="dcos-e2e-py-none"),
                          build_artifact=missing)
        assert "build_artifact" in message and str(missing) in message
        assert_gone("dcos-e2e-py-none")
        assert list(tmp_path.iterdir()) == []

    def test_artifact_directory(self, tmp_path: Path) -> None:
        message = refused(ValueError, cluster_backend=Docker(), build_artifact=tmp_path)
        assert "build_artifact" in message and "not a file" in message

    def test_zero_masters(self, artifact: Path) -> None:
        message = refused(ValueError, cluster_backend=Docker(), build_artifact=artifact,
                          masters=0)
        assert "masters" in message

    def test_genconf_destination_outside_genconf(self, artifact: Path, tmp_path: Path) -> None:
        source = tmp_path / "license.txt"
        source.write_text("x")
        message = refused(ValueError, cluster_backend=Docker(), build_artifact=artifact,
                          files_to_copy_to_installer={source: Path("/etc/license.txt")})
        assert "files_to_copy_to_installer" in message and "/etc/license.txt" in message

    def test_malformed_cluster_id(self, artifact: Path) -> None:
        message = refused(ValueError, cluster_backend=Docker(cluster_id="no spaces"),
                          build_artifact=artifact)
        assert "cluster_id" in message and "no spaces" in message
        assert leftovers("no spaces") == {"containers": [], "volumes": [], "networks": []}


class TestWrongTypes:
    """Each parameter, given a value of the wrong type, is named in the error."""

    @pytest.mark.parametrize(
        "name, value",
        [
            ("masters", "1"),
            ("masters", 1.0),
            ("masters", True),
            ("agents", None),
            ("public_agents", "2"),
            ("log_output_live", "yes"),
            ("destroy_on_error", 1),
            ("destroy_on_success", None),
            ("extra_config", [("a", 1)]),
            ("extra_config", "cluster_name: x"),
            ("files_to_copy_to_installer", [Path("/a")]),
        ],
    )
    def test_cluster_parameters(self, artifact: Path, name: str, value: Any) -> None:
        kwargs: Dict[str, Any] = dict(cluster_backend=Docker(), build_artifact=artifact)
        kwargs[name] = value
        with pytest.raises(TypeError) as excinfo:
            Cluster(**kwargs)
        assert name in str(excinfo.value)

    def test_negative_count(self, artifact: Path) -> None:
        with pytest.raises(ValueError) as excinfo:
            Cluster(cluster_backend=Docker(), build_artifact=artifact, agents=-1)
        assert "agents" in str(excinfo.value)

    def test_backend(self, artifact: Path) -> None:
        with pytest.raises(TypeError) as excinfo:
            Cluster(cluster_backend="docker", build_artifact=artifact)
        assert "cluster_backend" in str(excinfo.value)

    def test_extra_config_values_must_be_yaml(self, artifact: Path) -> None:
        with pytest.raises(TypeError) as excinfo:
            Cluster(cluster_backend=Docker(), build_artifact=artifact,
                    extra_config={"path": Path("/x")})
        assert "extra_config" in str(excinfo.value)

    def test_genconf_file_paths(self, artifact: Path) -> None:
        with pytest.raises(TypeError) as excinfo:
            Cluster(cluster_backend=Docker(), build_artifact=artifact,
                    files_to_copy_to_installer={Path("/a"): 5})
        assert "files_to_copy_to_installer" in str(excinfo.value)

    @pytest.mark.parametrize(
        "name, value, exception",
        [
            ("workspace_dir", 5, TypeError),
            ("custom_master_mounts", "/a:/b", TypeError),
            ("custom_master_mounts", {"/": {"bind": "/x", "mode": "rx"}}, ValueError),
            ("custom_master_mounts", {"/": {"mode": "rw"}}, ValueError),
            ("custom_master_mounts", {"/no/such/dir": {"bind": "/x", "mode": "ro"}}, ValueError),
            ("custom_master_mounts", {"/": {"bind": "relative", "mode": "ro"}}, ValueError),
            ("custom_agent_mounts", ["/nothing-here:/x"], ValueError),
            ("custom_public_agent_mounts", 3, TypeError),
            ("node_image", 3, TypeError),
            ("network", ["n"], TypeError),
            ("privileged", "auto", TypeError),
            ("cluster_id", 7, TypeError),
            ("transport", "carrier-pigeon", ValueError),
            ("transport", 1, TypeError),
            ("connect_timeout", -1, ValueError),
            ("ready_timeout", "2m", TypeError),
        ],
    )
    def test_docker_parameters(self, name: str, value: Any, exception: type) -> None:
        with pytest.raises(exception) as excinfo:
            Docker(**{name: value})
        assert name in str(excinfo.value)

    @pytest.mark.parametrize(
        "name, value",
        [("masters", "10.0.0.1"), ("agents", [IPv4Address("10.0.0.2")]),
         ("public_agents", None), ("default_ssh_user", 0)],
    )
    def test_existing_cluster_parameters(self, name: str, value: Any) -> None:
        kwargs: Dict[str, Any] = dict(masters=set(), agents=set(), public_agents=set(),
                                      default_ssh_user="root")
        kwargs[name] = value
        with pytest.raises(TypeError) as excinfo:
            ExistingCluster(**kwargs)
        assert name in str(excinfo.value)

    def test_node_parameters(self) -> None:
        with pytest.raises(ValueError) as excinfo:
            Node(ip_address="not-an-address", ssh_key_path=Path("/k"))
        assert "ip_address" in str(excinfo.value)
        with pytest.raises(TypeError) as excinfo:
            Node(ip_address=167772161, ssh_key_path=Path("/k"))
        assert "ip_address" in str(excinfo.value)
        with pytest.raises(TypeError) as excinfo:
            Node(ip_address=IPv4Address("10.0.0.1"), ssh_key_path=None)
        assert "ssh_key_path" in str(excinfo.value)

    @pytest.mark.parametrize(
        "kwargs, name, exception",
        [
            (dict(args="echo hello"), "args", TypeError),
            (dict(args=["echo", 1]), "args", TypeError),
            (dict(args=[]), "args", ValueError),
            (dict(args=["true"], user=0), "user", TypeError),
            (dict(args=["true"], env=["A=1"]), "env", TypeError),
            (dict(args=["true"], env={1: "a"}), "env", TypeError),
            (dict(args=["true"], env={"NOT A NAME": "a"}), "env", ValueError),
            (dict(args=["true"], log_output_live="no"), "log_output_live", TypeError),
        ],
    )
    def test_run_parameters(self, kwargs: Dict[str, Any], name: str, exception: type) -> None:
        # Checked before the node (which does not exist) is contacted; the env name is
        # the library's check.
        node = Node(IPv4Address("127.0.0.1"), KEY)
        with pytest.raises(exception) as excinfo:
            node.run(**kwargs)
        assert name in str(excinfo.value)

    def test_file_parameters(self) -> None:
        node = Node(IPv4Address("127.0.0.1"), Path("/nonexistent/key"))
        with pytest.raises(TypeError) as excinfo:
            node.send_file(local_path=5, remote_path=Path("/x"))
        assert "local_path" in str(excinfo.value)
        with pytest.raises(TypeError) as excinfo:
            node.download_file(remote_path=Path("/x"), local_path=None)
        assert "local_path" in str(excinfo.value)
        with pytest.raises(TypeError) as excinfo:
            node.popen(args="sleep 1")
        assert "args" in str(excinfo.value)


class TestSignatures:
    """The original's names, order and defaults (its users pass them by keyword)."""

    @staticmethod
    def params(function: Any) -> list:
        return [
            (p.name, p.default if p.default is not p.empty else "required")
            for p in inspect.signature(function).parameters.values()
            if p.kind is not p.KEYWORD_ONLY
        ]

    def test_cluster(self) -> None:
        # The 2017 API's parameters by keyword, with its defaults; by position after
        # cluster_backend, its order (or the final API's counts: test_final_api.py).
        signature = inspect.signature(Cluster.__init__).parameters.values()
        assert [(p.name, p.kind) for p in signature][:3] == [
            ("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            ("cluster_backend", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            ("args", inspect.Parameter.VAR_POSITIONAL),
        ]
        assert [(p.name, p.default.value) for p in signature if p.kind is p.KEYWORD_ONLY] == [
            ("build_artifact", None),
            ("extra_config", None),
            ("masters", 1),
            ("agents", 1),
            ("public_agents", 1),
            ("log_output_live", False),
            ("destroy_on_error", True),
            ("destroy_on_success", True),
            ("files_to_copy_to_installer", None),
        ]

    def test_backends(self) -> None:
        assert self.params(Docker.__init__) == [
            ("self", "required"),
            ("workspace_dir", None),
            ("custom_master_mounts", None),
        ]
        assert self.params(ExistingCluster.__init__) == [
            ("self", "required"),
            ("masters", "required"),
            ("agents", "required"),
            ("public_agents", "required"),
            ("default_ssh_user", None),
        ]
        assert issubclass(Docker, ClusterBackend) and issubclass(ExistingCluster, ClusterBackend)
        assert Docker().default_ssh_user == "root" and Docker().supports_destruction
        assert not existing().supports_destruction

    def test_node(self) -> None:
        # Both APIs' constructors, by position and by keyword (DIFFERENCES.md).
        key = Path("/k")
        for node in (Node(IPv4Address("10.0.0.1"), key),
                     Node(ip_address="10.0.0.1", ssh_key_path=key)):
            assert node.ip_address == IPv4Address("10.0.0.1") and node.default_user == "root"
            assert node.public_ip_address == node.private_ip_address == node.ip_address
        final = Node(IPv4Address("10.0.0.1"), IPv4Address("10.1.0.1"), "centos", key)
        assert final.private_ip_address == IPv4Address("10.1.0.1")
        assert final.default_user == "centos"
        assert str(final) == "Node(public_ip=10.0.0.1, private_ip=10.1.0.1)"
        same = Node(public_ip_address="10.0.0.1", private_ip_address="10.1.0.1",
                    default_user="other", ssh_key_path=Path("/other"))
        assert same == final and {same, final} == {final}, "equal on addresses"
        assert final != Node(IPv4Address("10.0.0.1"), key)
        with pytest.raises(TypeError, match="unexpected keyword argument 'user'"):
            Node(ip_address="10.0.0.1", ssh_key_path=key, user="x")
        with pytest.raises(TypeError, match="missing required argument: 'ssh_key_path'"):
            Node(IPv4Address("10.0.0.1"), IPv4Address("10.1.0.1"), "centos")
        exec_node = Node(IPv4Address("10.0.0.1"), IPv4Address("10.1.0.1"), "c", key,
                         Transport.DOCKER_EXEC)
        assert exec_node.default_transport is Transport.DOCKER_EXEC
        with pytest.raises(TypeError, match="default_transport"):
            Node(IPv4Address("10.0.0.1"), IPv4Address("10.1.0.1"), "c", key, "docker")
        # run: the 2017 API's by position, then either API's keywords.
        run = inspect.signature(Node.run).parameters.values()
        assert [p.name for p in run][:4] == ["self", "args", "user", "rest"]
        assert [(p.name, p.default.value) for p in run if p.kind is p.KEYWORD_ONLY] == [
            ("log_output_live", False), ("env", None), ("output", None), ("shell", False),
            ("tty", False), ("transport", None), ("sudo", False)]
        assert [n for n, _ in self.params(Node.popen)] == [
            "self", "args", "user", "env", "shell", "transport", "stdin", "tty"]
        assert [n for n, _ in self.params(Node.send_file)] == [
            "self", "local_path", "remote_path", "user", "transport", "sudo"]
        # Transport by our values and by the final API's.
        assert Transport("ssh") is Transport(1) is Transport.SSH
        assert Transport("docker-exec") is Transport(2) is Transport.DOCKER_EXEC
        with pytest.raises(ValueError):
            Transport(3)
        node = Node(IPv4Address("10.0.0.1"), Path("/k"))
        with pytest.raises(TypeError, match="log_output_live is the 2017 API's"):
            node.run(["true"], log_output_live=True, shell=True)

    def test_cluster_methods(self) -> None:
        assert [n for n, _ in self.params(Cluster.run_integration_tests)] == [
            "self", "pytest_command", "env"]
        assert isinstance(inspect.getattr_static(Cluster, "masters"), property)
        assert isinstance(inspect.getattr_static(Cluster, "default_ssh_user"), property)

    def test_typed(self) -> None:
        import dcos_e2e

        package = Path(dcos_e2e.__file__).parent
        assert (package / "py.typed").is_file()
        assert (package / "_core.pyi").is_file()
