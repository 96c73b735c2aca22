"""
Faults from Python: node machines stopped, paused and killed; network cuts healed by
``with`` blocks; slow links; and the ``faults()`` block that undoes them all.
"""

import subprocess
from pathlib import Path

import pytest

from dcos_e2e.backends import Docker
from dcos_e2e.cluster import Cluster
from dcos_e2e.node import Node

from conftest import assert_gone


def reaches(source: Node, target: Node) -> bool:
    """Whether a TCP connection from ``source`` to ``target``'s sshd is made."""
    probe = "timeout 2 bash -c '</dev/tcp/{}/22' && echo yes || echo no".format(
        target.ip_address
    )
    return source.run(["bash", "-c", repr(probe)]).stdout.strip() == b"yes"


def test_node_faults_partitions_and_the_faults_block(
    artifact: Path, docker_backend: Docker
) -> None:
    with Cluster(
        cluster_backend=docker_backend,
        build_artifact=artifact,
        extra_config={"sample_startup_delay": 0},
        masters=1,
        agents=2,
        public_agents=0,
    ) as cluster:
        (master,) = cluster.masters
        first, second = sorted(cluster.agents, key=lambda n: n.ip_address)
        address = first.ip_address

        first.pause()
        assert first.state == "paused"
        with pytest.raises(subprocess.CalledProcessError) as raised:
            first.run(["true"])
        assert raised.value.returncode == 255
        assert "paused" in raised.value.stderr.decode()
        first.resume()
        first.run(["true"])

        first.stop()
        assert first.state == "stopped"
        first.start()
        assert first.ip_address == address
        first.run(["true"])
        assert first.kill("SIGKILL") == "stopped"
        first.start()

        with cluster.partition([master], [first, second]) as cut:
            assert cut.name.startswith("dcos-e2e-")
            assert not reaches(master, first)
            assert not reaches(second, master)
            assert reaches(first, second)
            master.run(["true"])
        assert reaches(master, first)

        with first.isolate():
            assert not reaches(first, second)
        assert reaches(first, second)

        with pytest.raises(ValueError):
            cluster.partition([master], [master])
        with pytest.raises(TypeError):
            cluster.partition(master, [first])  # type: ignore[arg-type]

        with pytest.raises(RuntimeError):
            with cluster.faults():
                second.pause()
                cluster.partition([master], [first])
                first.shape(rate=10_000_000)
                raise RuntimeError("the test failed")
        assert second.state == "running"
        assert reaches(master, first)
        second.run(["true"])

        # Delay needs sch_netem: done where the kernel has it, else refused naming it.
        try:
            first.shape(delay=0.01)
        except NotImplementedError as e:
            assert "sch_netem" in str(e)
        else:
            first.unshape()
        cluster.shape_between([master], [first], rate=50_000_000)
        cluster.unshape()
        cluster.wait_for_dcos()
    assert_gone(cluster.cluster_id)


def test_a_node_made_directly_cannot_be_stopped(ssh_key: Path) -> None:
    node = Node("127.0.0.1", ssh_key)
    with pytest.raises(NotImplementedError):
        node.stop()
