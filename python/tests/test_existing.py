"""
An ExistingCluster over the nodes of a Docker cluster.
"""

import subprocess
from pathlib import Path

import pytest

from conftest import assert_gone, running
from dcos_e2e.backends import Docker, ExistingCluster
from dcos_e2e.cluster import Cluster
from dcos_e2e.node import Transport


@pytest.mark.parametrize("transport", [Transport.SSH, Transport.DOCKER_EXEC])
def test_wrapping_the_nodes_of_a_docker_cluster(artifact: Path, transport: Transport) -> None:
    with Cluster(
        cluster_backend=Docker(transport=transport),
        build_artifact=artifact,
        extra_config={"sample_startup_delay": 0},
        destroy_on_success=False,
    ) as cluster:
        existing = ExistingCluster(
            masters=cluster.masters,
            agents=cluster.agents,
            public_agents=cluster.public_agents,
            default_ssh_user=cluster.default_ssh_user,
        )
        with Cluster(
            cluster_backend=existing,
            masters=1,
            agents=1,
            public_agents=1,
            destroy_on_error=False,
            destroy_on_success=False,
        ) as wrapped:
            assert wrapped.default_ssh_user == "root"
            pairs = [
                (cluster.masters, wrapped.masters),
                (cluster.agents, wrapped.agents),
                (cluster.public_agents, wrapped.public_agents),
            ]
            for (node,), (same,) in pairs:
                assert same.ip_address == node.ip_address
                assert same.ssh_key_path == node.ssh_key_path
                # A relative path is in the same home directory over either transport.
                same.run(["touch", "made_through_the_existing_cluster"], user="root")
                node.run(["test", "-f", "made_through_the_existing_cluster"], user="root")
            wrapped.wait_for_dcos()
            result = wrapped.run_integration_tests(["pytest", "-q", "test_sample_cluster.py"])
            assert b"4 passed" in result.stdout
        with pytest.raises(NotImplementedError):
            wrapped.destroy()
        # Neither leaving the block nor the refused destroy touched the nodes.
        assert len(running(cluster.cluster_id)) == 3
        cluster.destroy()
    assert_gone(cluster.cluster_id)
    # The wrapped nodes now fail as the original's did on removed hosts.
    (gone,) = wrapped.masters
    with pytest.raises(subprocess.CalledProcessError) as excinfo:
        gone.run(["true"], user="root")
    assert excinfo.value.returncode == 255


def test_install_and_upgrade_on_the_hosts_of_an_existing_cluster(
    artifact: Path, docker_backend: Docker, tmp_path: Path
) -> None:
    """
    The final API's install and upgrade on hosts the harness did not make: genconf
    here, ``serve/`` copied over SSH, the install and each node's upgrade as root.
    """
    fast = {"sample_startup_delay": 0}
    # The final API's Cluster: nodes only.
    with Cluster(docker_backend, masters=1, agents=1, public_agents=0) as nodes_only:
        # Used as they are: serve/ goes beside the nodes' read-only genconf bind.
        hosts = nodes_only.masters | nodes_only.agents
        existing = ExistingCluster(
            masters=nodes_only.masters,
            agents=nodes_only.agents,
            public_agents=set(),
            default_ssh_user="root",
        )
        with Cluster(
            cluster_backend=existing,
            masters=1,
            agents=1,
            public_agents=0,
            destroy_on_error=False,
            destroy_on_success=False,
        ) as wrapped:
            wrapped.install_dcos_from_path(artifact, dcos_config=fast)
            wrapped.wait_for_dcos()
            assert {n.dcos_build_info().version for n in hosts} == {"2.2.0"}

            text = artifact.read_text()
            line = next(l for l in text.splitlines() if l.startswith("SAMPLE_DCOS_VERSION="))
            second = tmp_path / "dcos_generate_config.sh"
            second.write_text(text.replace(line, "SAMPLE_DCOS_VERSION=2.3.0", 1))
            wrapped.upgrade_dcos_from_path(second, dcos_config=fast)
            assert {n.dcos_build_info().version for n in hosts} == {"2.3.0"}
            wrapped.wait_for_dcos()
            result = wrapped.run_integration_tests(["pytest", "-q", "test_sample_cluster.py"])
            assert b"4 passed" in result.stdout
    assert_gone(nodes_only.cluster_id)
