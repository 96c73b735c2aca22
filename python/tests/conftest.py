"""
Fixtures for the dcos_e2e package's own tests: real Docker, the sample installer.
"""

import json
import os
import subprocess
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from dcos_e2e.backends import Docker
from dcos_e2e.cluster import Cluster

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def artifact() -> Path:
    """The sample installer (a test fixture of the repository)."""
    path = Path(
        os.environ.get(
            "DCOS_E2E_TEST_ARTIFACT",
            REPOSITORY / "tests" / "fixtures" / "sample-installer" / "dcos_generate_config.sh",
        )
    )
    assert path.is_file(), path
    return path


@pytest.fixture(scope="session")
def ssh_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private key that logs in nowhere: for nodes that are never contacted."""
    path = tmp_path_factory.mktemp("key") / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True
    )
    return path


@pytest.fixture(scope="session")
def docker_backend() -> Docker:
    """One backend for the session, as users of the original had."""
    return Docker()


def docker(*args: str) -> str:
    """Run the docker CLI; its output, which must succeed."""
    return subprocess.run(
        ["docker", *args], check=True, stdout=subprocess.PIPE, universal_newlines=True
    ).stdout


def leftovers(cluster_id: str) -> Dict[str, List[str]]:
    """Every Docker object still carrying the cluster's label."""
    label = "label=dcos-e2e.cluster-id=" + cluster_id
    return {
        "containers": docker("ps", "-aq", "--filter", label).split(),
        "volumes": docker("volume", "ls", "-q", "--filter", label).split(),
        "networks": docker("network", "ls", "-q", "--filter", label).split(),
    }


def assert_gone(cluster_id: str) -> None:
    left = leftovers(cluster_id)
    assert left == {"containers": [], "volumes": [], "networks": []}, left


def remove_by_label(cluster_id: str) -> None:
    """Remove what a test had to leave behind on purpose (a kept cluster it lost)."""
    left = leftovers(cluster_id)
    if left["containers"]:
        docker("rm", "-f", "-v", *left["containers"])
    left = leftovers(cluster_id)
    if left["volumes"]:
        docker("volume", "rm", "-f", *left["volumes"])
    if left["networks"]:
        docker("network", "rm", *left["networks"])


def running(cluster_id: str) -> List[str]:
    """Names of the cluster's running node containers."""
    out = docker(
        "ps",
        "--filter",
        "label=dcos-e2e.cluster-id=" + cluster_id,
        "--format",
        "{{json .Names}}",
    )
    names = (json.loads(line) for line in out.splitlines() if line.strip())
    # The cleanup watchdog runs beside the nodes.
    return sorted(n for n in names if not n.endswith("-watchdog"))


@pytest.fixture(scope="module")
def small_cluster(artifact: Path, docker_backend: Docker) -> Iterator[Cluster]:
    """One master and nothing else, installed and up; shared by a module's tests."""
    with Cluster(
        cluster_backend=docker_backend,
        build_artifact=artifact,
        extra_config={"sample_startup_delay": 0},
        masters=1,
        agents=0,
        public_agents=0,
    ) as cluster:
        cluster.wait_for_dcos()
        yield cluster
    assert_gone(cluster.cluster_id)
