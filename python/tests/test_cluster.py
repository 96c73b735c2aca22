"""
The cluster's lifecycle on real Docker: `with`, the two flags, garbage collection, two
clusters at once, installing, and what the installer and the integration tests report.
"""

import gc
import json
import logging
import os
import subprocess
import sys
from ipaddress import IPv4Address
from pathlib import Path
from typing import Iterator, List

import pytest

from conftest import assert_gone, docker, leftovers, remove_by_label, running
from dcos_e2e.backends import Docker
from dcos_e2e.cluster import Cluster
from dcos_e2e.node import Node

QUICK = {"sample_startup_delay": 0}


class Boom(Exception):
    pass


def one_master(artifact: Path, backend: Docker, **kwargs) -> Cluster:
    return Cluster(
        cluster_backend=backend,
        build_artifact=artifact,
        extra_config=kwargs.pop("extra_config", QUICK),
        masters=1,
        agents=0,
        public_agents=0,
        **kwargs,
    )


class TestContextManager:
    def test_destroyed_after_the_block_and_still_usable(
        self, artifact: Path, docker_backend: Docker
    ) -> None:
        with one_master(artifact, docker_backend) as cluster:
            (master,) = cluster.masters
            assert running(cluster.cluster_id) == [cluster.cluster_id + "-master-1"]
        assert_gone(cluster.cluster_id)
        # The object is still usable: its user, and a command that fails as the
        # original's did on a removed node.
        assert cluster.default_ssh_user == "root"
        with pytest.raises(subprocess.CalledProcessError) as excinfo:
            master.run(args=["echo", "hello"], user=cluster.default_ssh_user)
        assert excinfo.value.returncode == 255
        cluster.destroy()  # idempotent

    def test_exception_comes_out_unchanged_and_destroys(
        self, artifact: Path, docker_backend: Docker
    ) -> None:
        raised = Boom("inside")
        with pytest.raises(Boom) as excinfo:
            with one_master(artifact, docker_backend) as cluster:
                raise raised
        assert excinfo.value is raised
        assert_gone(cluster.cluster_id)

    def test_destroy_on_error_false_keeps_the_cluster(
        self, artifact: Path, docker_backend: Docker
    ) -> None:
        with pytest.raises(Boom):
            with one_master(artifact, docker_backend, destroy_on_error=False) as cluster:
                (master,) = cluster.masters
                raise Boom()
        try:
            result = master.run(args=["echo", "hello"], user="root")
            assert result.stdout == b"hello\n"
        finally:
            cluster.destroy()
        assert_gone(cluster.cluster_id)

    def test_destroy_on_success_false_keeps_the_cluster(
        self, artifact: Path, docker_backend: Docker
    ) -> None:
        with one_master(artifact, docker_backend, destroy_on_success=False) as cluster:
            (master,) = cluster.masters
        try:
            assert master.run(args=["hostname"]).stdout.decode().strip() == (
                cluster.cluster_id + "-master-1"
            )
        finally:
            cluster.destroy()
        assert_gone(cluster.cluster_id)

    def test_destroy_inside_the_block(self, artifact: Path, docker_backend: Docker) -> None:
        with one_master(artifact, docker_backend, destroy_on_success=False) as cluster:
            cluster.destroy()
            assert_gone(cluster.cluster_id)
        assert_gone(cluster.cluster_id)


class TestGarbageCollection:
    def test_a_dropped_cluster_is_destroyed(self, artifact: Path, docker_backend: Docker) -> None:
        cluster = one_master(artifact, docker_backend)
        cluster_id = cluster.cluster_id
        (master,) = cluster.masters
        assert running(cluster_id)
        del cluster
        gc.collect()
        assert_gone(cluster_id)
        # Its nodes outlive it, and say so as the original did.
        with pytest.raises(subprocess.CalledProcessError):
            master.run(args=["true"], user="root")

    def test_a_dropped_cluster_in_a_reference_cycle_is_destroyed(
        self, artifact: Path, docker_backend: Docker
    ) -> None:
        cluster = one_master(artifact, docker_backend)
        cluster_id = cluster.cluster_id
        cluster.myself = cluster  # only the cycle collector can free it
        del cluster
        assert running(cluster_id)
        gc.collect()
        assert_gone(cluster_id)

    def test_destroy_on_success_false_keeps_a_dropped_cluster(
        self, artifact: Path, tmp_path: Path
    ) -> None:
        cluster = one_master(artifact, Docker(workspace_dir=tmp_path), destroy_on_success=False)
        cluster_id = cluster.cluster_id
        try:
            del cluster
            gc.collect()
            assert running(cluster_id) == [cluster_id + "-master-1"]
        finally:
            remove_by_label(cluster_id)
        assert_gone(cluster_id)



@pytest.fixture(scope="module")
def remote_daemon() -> Iterator[str]:
    """The tests' own Docker daemon in its own namespaces (scripts/remote-daemon), its
    DOCKER_HOST. Stopped after these tests, with its namespaces, unless it was running
    before them (then whoever started it stops it: scripts/test does at its end)."""
    script = str(Path(__file__).resolve().parents[2] / "scripts" / "remote-daemon")

    def namespaces() -> List[str]:
        listed = subprocess.run(["ip", "netns", "list"], check=True, stdout=subprocess.PIPE,
                                universal_newlines=True).stdout
        return [line.split()[0] for line in listed.splitlines() if line.strip()]

    before = namespaces()
    host = subprocess.run(
        [script, "start", "r1"], check=True, stdout=subprocess.PIPE, universal_newlines=True
    ).stdout.strip()
    yield host
    if not any(n.startswith("dcos-e2e-") for n in before):
        subprocess.run([script, "stop-all"], check=True)
    elif "dcos-e2e-r1" not in before:
        subprocess.run([script, "stop", "r1"], check=True)


class TestNodes:
    def test_sizes_and_types(self, artifact: Path, docker_backend: Docker) -> None:
        with Cluster(
            cluster_backend=docker_backend, build_artifact=artifact, extra_config=QUICK
        ) as cluster:
            assert (len(cluster.masters), len(cluster.agents), len(cluster.public_agents)) == (
                1, 1, 1)
            nodes: List[Node] = [*cluster.masters, *cluster.agents, *cluster.public_agents]
            assert all(isinstance(n, Node) for n in nodes)
            assert all(isinstance(n.ip_address, IPv4Address) for n in nodes)
            assert len({n.ip_address for n in nodes}) == 3
            assert all(n.ssh_key_path.is_file() for n in nodes)
            # The same objects on every access.
            assert cluster.masters == cluster.masters
            names = {
                n.run(["hostname"]).stdout.decode().strip() for n in nodes
            }
            assert names == {
                cluster.cluster_id + suffix
                for suffix in ("-master-1", "-agent-1", "-pub-agent-1")
            }
        assert_gone(cluster.cluster_id)

    def test_two_clusters_at_once_from_one_backend(
        self, artifact: Path, docker_backend: Docker
    ) -> None:
        with one_master(artifact, docker_backend) as first:
            with one_master(artifact, docker_backend) as second:
                assert first.cluster_id != second.cluster_id
                ((a,), (b,)) = (first.masters, second.masters)
                assert a.ip_address != b.ip_address
                assert a.run(["hostname"]).stdout.decode().strip() == first.cluster_id + "-master-1"
                assert b.run(["hostname"]).stdout.decode().strip() == second.cluster_id + "-master-1"
            assert_gone(second.cluster_id)
            assert a.run(["true"]).returncode == 0, "the first is untouched"
        assert_gone(first.cluster_id)

    def test_docker_exec_transport_and_options(self, artifact: Path, tmp_path: Path) -> None:
        mounted = tmp_path / "mounted.txt"
        mounted.write_text("first")
        backend = Docker(
            workspace_dir=tmp_path,
            custom_master_mounts={str(mounted): {"bind": "/etc/on_masters.txt", "mode": "ro"}},
            custom_agent_mounts=[str(tmp_path) + ":/mnt/host"],
            transport="docker-exec",
            cluster_id="dcos-e2e-py-options",
        )
        with Cluster(
            cluster_backend=backend,
            build_artifact=artifact,
            extra_config=QUICK,
            masters=1,
            agents=1,
            public_agents=0,
        ) as cluster:
            assert cluster.cluster_id == "dcos-e2e-py-options"
            (master,), (agent,) = cluster.masters, cluster.agents
            assert master.run(["cat", "/etc/on_masters.txt"]).stdout == b"first"
            mounted.write_text("second")
            assert master.run(["cat", "/etc/on_masters.txt"]).stdout == b"second"
            with pytest.raises(subprocess.CalledProcessError):
                master.run(["sh", "-c", "'echo x > /etc/on_masters.txt'"])
            assert agent.run(["cat", "/mnt/host/mounted.txt"]).stdout == b"second"
            workspaces = [p for p in tmp_path.iterdir() if p.is_dir()]
            assert [p.name.startswith("dcos-e2e-py-options") for p in workspaces] == [True]
            # A given id is taken while the cluster exists.
            with pytest.raises(ValueError) as excinfo:
                one_master(artifact, backend)
            assert "cluster_id" in str(excinfo.value)
        assert_gone("dcos-e2e-py-options")
        assert [p for p in tmp_path.iterdir() if p.is_dir()] == [], "workspace removed"


    def test_a_daemon_on_another_host(self, artifact: Path, remote_daemon: str) -> None:
        # A daemon of the tests' own in its own namespaces: it sees none of this
        # machine's /tmp, so the library sends it keys and genconf through the API and
        # reaches the nodes with docker exec.
        host = remote_daemon
        with Cluster(
            cluster_backend=Docker(docker_hosts=[host]),
            build_artifact=artifact,
            extra_config=QUICK,
            masters=1,
            agents=0,
            public_agents=0,
        ) as cluster:
            (master,) = cluster.masters
            assert master.run(["echo", "$USER"]).stdout == b"root\n"
            label = "label=dcos-e2e.cluster-id=" + cluster.cluster_id
            there = docker("-H", host, "ps", "-q", "--filter", label).split()
            assert len(there) == 2, "the master and its watchdog, on that daemon"
            assert leftovers(cluster.cluster_id)["containers"] == [], "none here"
            cluster.wait_for_dcos()
        assert docker("-H", host, "ps", "-aq", "--filter", label).split() == []
        with pytest.raises(TypeError):
            Docker(docker_hosts=host)

    def test_ssh_to_a_daemon_on_another_host_goes_through_a_jump_host(
        self, artifact: Path, remote_daemon: str
    ) -> None:
        host = remote_daemon
        # Where this machine reaches that daemon's host: its TCP listener's address.
        tcp = (Path(host[len("unix://") :]).parent / "tcp").read_text().strip()
        address = tcp[len("tcp://") :].rsplit(":", 1)[0]
        backend = Docker(docker_hosts=[host], transport="ssh", published_address=address)
        with Cluster(
            cluster_backend=backend,
            build_artifact=artifact,
            extra_config=QUICK,
            masters=1,
            agents=0,
            public_agents=0,
        ) as cluster:
            cluster.wait_for_dcos()
            (master,) = cluster.masters
            name = master.run(["hostname"]).stdout.decode().strip()
            assert name == cluster.cluster_id + "-master-1"
            label = "label=dcos-e2e.cluster-id=" + cluster.cluster_id
            names = docker("-H", host, "ps", "--format", "{{.Names}}", "--filter", label).split()
            assert cluster.cluster_id + "-jump" in names
        assert docker("-H", host, "ps", "-aq", "--filter", label).split() == []


class TestInstall:
    def test_extra_config_reaches_every_node(self, artifact: Path, docker_backend: Docker) -> None:
        credentials = {"auths": {"https://index.docker.io/v1/": {"auth": "redacted"}}}
        with Cluster(
            cluster_backend=docker_backend,
            build_artifact=artifact,
            extra_config={
                **QUICK,
                "cluster_docker_credentials": credentials,
                "cluster_docker_credentials_enabled": True,
            },
            masters=1,
            agents=1,
            public_agents=0,
        ) as cluster:
            for node in [*cluster.masters, *cluster.agents]:
                found = node.run(["cat", "/opt/mesosphere/etc/docker_credentials"])
                assert json.loads(found.stdout) == credentials

    def test_without_credentials_there_is_no_file(self, small_cluster: Cluster) -> None:
        (master,) = small_cluster.masters
        with pytest.raises(subprocess.CalledProcessError):
            master.run(["test", "-f", "/opt/mesosphere/etc/docker_credentials"])

    def test_files_to_copy_to_installer(
        self, artifact: Path, docker_backend: Docker, tmp_path: Path
    ) -> None:
        license_file = tmp_path / "license.txt"
        license_file.write_text("licensed")
        with Cluster(
            cluster_backend=docker_backend,
            build_artifact=artifact,
            extra_config=QUICK,
            masters=1,
            agents=0,
            public_agents=0,
            files_to_copy_to_installer={license_file: Path("/genconf/license.txt")},
        ) as cluster:
            (master,) = cluster.masters
            copied = master.run(["cat", "/opt/mesosphere/etc/genconf/license.txt"])
            assert copied.stdout == b"licensed"

    def test_two_masters_are_refused_by_the_installer(
        self, artifact: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        with pytest.raises(subprocess.CalledProcessError) as excinfo:
            with Cluster(
                cluster_backend=Docker(cluster_id="dcos-e2e-py-two-masters"),
                build_artifact=artifact,
                masters=2,
                agents=0,
                public_agents=0,
            ):
                pass  # pragma: no cover
        error = excinfo.value
        assert type(error) is subprocess.CalledProcessError
        assert error.returncode == 1
        assert b"Must have 1, 3, 5, 7, or 9 masters" in error.output
        assert "--genconf" in str(error.cmd)
        # Not live: the installer's output is not logged at DEBUG.
        assert not [
            r for r in caplog.records
            if r.levelno == logging.DEBUG and "Must have" in r.getMessage()
        ]
        # The failed cluster was removed (destroy_on_error).
        assert_gone("dcos-e2e-py-two-masters")

    def test_live_installer_output_is_debug_records(
        self, artifact: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        with pytest.raises(subprocess.CalledProcessError):
            Cluster(cluster_backend=Docker(cluster_id="dcos-e2e-py-live"),
                    build_artifact=artifact, masters=2, agents=0, public_agents=0,
                    log_output_live=True)
        (record,) = [
            r for r in caplog.records
            if r.levelno == logging.DEBUG and "Must have 1, 3, 5, 7, or 9 masters" in str(r.msg)
        ]
        assert record.name == "dcos_e2e.installer"
        # The harness's own account stays at INFO.
        assert [r for r in caplog.records
                if r.levelno == logging.INFO and "cluster ready" in r.getMessage()]
        assert_gone("dcos-e2e-py-live")

    def test_installer_exit_status_is_the_returncode(
        self, docker_backend: Docker, tmp_path: Path
    ) -> None:
        failing = tmp_path / "failing_installer.sh"
        failing.write_text("echo 'refusing this config' >&2\nexit 3\n")
        backend = Docker(workspace_dir=tmp_path, cluster_id="dcos-e2e-py-failing")
        with pytest.raises(subprocess.CalledProcessError) as excinfo:
            Cluster(cluster_backend=backend, build_artifact=failing, agents=0, public_agents=0)
        assert excinfo.value.returncode == 3
        assert b"refusing this config" in excinfo.value.output
        assert_gone("dcos-e2e-py-failing")

    def test_failed_install_kept_with_destroy_on_error_false(
        self, docker_backend: Docker, tmp_path: Path
    ) -> None:
        failing = tmp_path / "failing_installer.sh"
        failing.write_text("exit 1\n")
        # The kept cluster's workspace goes with tmp_path.
        backend = Docker(workspace_dir=tmp_path, cluster_id="dcos-e2e-py-kept")
        try:
            with pytest.raises(subprocess.CalledProcessError):
                Cluster(cluster_backend=backend, build_artifact=failing, agents=0,
                        public_agents=0, destroy_on_error=False)
            assert running("dcos-e2e-py-kept") == ["dcos-e2e-py-kept-master-1"]
        finally:
            remove_by_label("dcos-e2e-py-kept")
        assert_gone("dcos-e2e-py-kept")


class TestIntegrationTests:
    def test_pass_and_fail_with_pytest_status(self, artifact: Path, docker_backend: Docker) -> None:
        with Cluster(
            cluster_backend=docker_backend,
            build_artifact=artifact,
            extra_config=QUICK,
            public_agents=0,
        ) as cluster:
            result = cluster.run_integration_tests(
                pytest_command=["pytest", "-vvv", "-s", "-x", "test_auth.py"]
            )
            assert b"2 passed" in result.stdout
            result = cluster.run_integration_tests(
                pytest_command=["pytest", "-q", "-k", "'hosts_match'"],
                env={"PYTEST_ADDOPTS": "-p no:cacheprovider"},
            )
            assert b"3 passed" in result.stdout
            with pytest.raises(subprocess.CalledProcessError) as excinfo:
                cluster.run_integration_tests(pytest_command=["pytest", "test_no_such_file.py"])
            assert excinfo.value.returncode == 4
            # The environment names every node; the caller's env is added.
            (master,) = cluster.masters
            (agent,) = cluster.agents
            env = cluster.run_integration_tests(
                pytest_command=["env"], env={"EXTRA": "it's here"}
            ).stdout.decode()
            assert "MASTER_HOSTS={}\n".format(master.ip_address) in env
            assert "SLAVE_HOSTS={}\n".format(agent.ip_address) in env
            assert "PUBLIC_SLAVE_HOSTS=\n" in env
            # The library's environment, as the Rust API gives it.
            assert "PUBLIC_MASTER_HOSTS={}\n".format(master.ip_address) in env
            assert "DCOS_DNS_ADDRESS=http://{}\n".format(master.ip_address) in env
            assert "DCOS_NUM_MASTERS=1\n" in env and "DCOS_NUM_AGENTS=1\n" in env
            assert "EXTRA=it's here\n" in env

    def test_wait_for_dcos_times_out_naming_the_master(
        self, artifact: Path, docker_backend: Docker
    ) -> None:
        with one_master(artifact, docker_backend, extra_config={"sample_startup_delay": 600}) as c:
            with pytest.raises(TimeoutError) as excinfo:
                c.wait_for_dcos(timeout=1)
            (master,) = c.masters
            assert str(master.ip_address) in str(excinfo.value)


class TestEnvironment:
    def test_an_unreachable_docker_daemon_is_a_harness_error(
        self, artifact: Path, tmp_path: Path
    ) -> None:
        script = (
            "from pathlib import Path\n"
            "from dcos_e2e import HarnessError\n"
            "from dcos_e2e.backends import Docker\n"
            "from dcos_e2e.cluster import Cluster\n"
            "try:\n"
            "    Cluster(cluster_backend=Docker(), build_artifact=Path({!r}))\n"
            "except HarnessError as e:\n"
            "    print('HarnessError:', e)\n"
        ).format(str(artifact))
        result = subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "DOCKER_HOST": "unix://{}/no.sock".format(tmp_path)},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
        )
        assert result.stdout.startswith("HarnessError: cannot reach the Docker daemon"), (
            result.stdout)

    def test_dcos_e2e_keep_keeps_the_cluster(self, artifact: Path, tmp_path: Path) -> None:
        cluster_id = "dcos-e2e-py-keep"
        script = (
            "from pathlib import Path\n"
            "from dcos_e2e.backends import Docker\n"
            "from dcos_e2e.cluster import Cluster\n"
            "with Cluster(cluster_backend=Docker(workspace_dir=Path({ws!r}), cluster_id={id!r}),\n"
            "             build_artifact=Path({a!r}), agents=0, public_agents=0):\n"
            "    pass\n"
        ).format(ws=str(tmp_path), id=cluster_id, a=str(artifact))
        try:
            subprocess.run([sys.executable, "-c", script], check=True,
                           env={**os.environ, "DCOS_E2E_KEEP": "1"})
            assert running(cluster_id) == [cluster_id + "-master-1"]
        finally:
            remove_by_label(cluster_id)
        assert_gone(cluster_id)
