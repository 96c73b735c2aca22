"""
What the Rust core does, from Python: log bundles, web URLs, images loaded into the
nodes' engines, and a cluster opened again by id.
"""

import socket
import subprocess
from pathlib import Path

import pytest

from conftest import assert_gone, running
from dcos_e2e.backends import Docker
from dcos_e2e.cluster import Cluster
from dcos_e2e.docker_versions import DockerVersion

FAST = {"sample_startup_delay": 0}
TINY = "dcos-e2e-test/tiny:1"


@pytest.fixture
def tiny_image(tmp_path: Path) -> str:
    """A one-file image on this host's daemon, removed after the test."""
    (tmp_path / "hello").write_text("hi")
    tar = subprocess.run(["tar", "-C", str(tmp_path), "-c", "hello"], check=True,
                         stdout=subprocess.PIPE).stdout
    subprocess.run(["docker", "import", "-", TINY], input=tar, check=True,
                   stdout=subprocess.DEVNULL)
    yield TINY
    subprocess.run(["docker", "rmi", "-f", TINY], check=True, stdout=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_logs_urls_images_and_attach(artifact: Path, tmp_path: Path, tiny_image: str) -> None:
    port = free_port()
    backend = Docker(docker_version=DockerVersion.DISTRIBUTION,
                     one_master_host_port_map={"80/tcp": port})
    with Cluster(backend, artifact, extra_config=FAST, masters=1, agents=1,
                 public_agents=0) as cluster:
        cluster.wait_for_dcos()
        (master,) = cluster.masters
        (agent,) = cluster.agents
        assert cluster.web_urls() == [
            "http://{}".format(master.ip_address), "http://localhost:{}".format(port)]

        bundle = cluster.export_logs(tmp_path / "logs")
        dirs = sorted(p.name for p in bundle.iterdir() if p.is_dir())
        assert dirs == ["agent-1", "master-1"], dirs
        assert any((bundle / "master-1").iterdir())

        cluster.load_images([tiny_image], nodes=cluster.agents)
        seen = agent.run(["docker", "image", "inspect", "-f", "{{.Id}}", tiny_image])
        assert seen.stdout.strip()
        with pytest.raises(subprocess.CalledProcessError):
            master.run(["docker", "image", "inspect", tiny_image])

        # The same cluster by id: the same nodes; leaving its block destroys nothing.
        with Cluster.attach(cluster.cluster_id) as again:
            assert {n.ip_address for n in again.masters} == {master.ip_address}
            (same,) = again.agents
            assert same.run(["hostname"]).stdout == agent.run(["hostname"]).stdout
        assert len(running(cluster.cluster_id)) == 2
    assert_gone(cluster.cluster_id)
    with pytest.raises(ValueError, match="no cluster named `{}`".format(cluster.cluster_id)):
        Cluster.attach(cluster.cluster_id)
