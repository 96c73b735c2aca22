"""
The final DC/OS E2E API's Cluster beside the 2017 one: nodes made first and installed
afterwards, clusters of existing nodes, the base config, the final waits and the test
environment; and how a call is told to be of one API or the other.
"""

import json
import logging
import socket
import subprocess
from ipaddress import IPv4Address
from pathlib import Path
from typing import List

import pytest

from conftest import assert_gone, docker, running
from dcos_e2e import cluster as cluster_module
from dcos_e2e.backends import Docker, ExistingCluster
from dcos_e2e.cluster import Cluster
from dcos_e2e.distributions import Distribution
from dcos_e2e.docker_storage_drivers import DockerStorageDriver
from dcos_e2e.docker_versions import DockerVersion
from dcos_e2e.exceptions import DCOSNotInstalledError, DCOSTimeoutError, HarnessError
from dcos_e2e.node import Node, Output, Transport

FAST = {"sample_startup_delay": 0}


def test_nodes_first_then_install_wait_and_test_environment(
    artifact: Path, docker_backend: Docker, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Cluster(docker_backend, 1, 1, 0) as cluster:
        (master,) = cluster.masters
        (agent,) = cluster.agents
        assert not cluster.public_agents
        # Nodes only: nothing is installed yet.
        with pytest.raises(DCOSNotInstalledError):
            master.dcos_build_info()
        config = cluster.base_config
        assert config["master_list"] == [str(master.ip_address)]
        assert config["agent_list"] == [str(agent.ip_address)]
        assert config["public_agent_list"] == []
        # The final wait gives up with its own error, still a TimeoutError.
        monkeypatch.setattr(cluster_module, "FINAL_WAIT_TIMEOUT", 2.0)
        with pytest.raises(DCOSTimeoutError) as timed_out:
            cluster.wait_for_dcos_oss()
        assert isinstance(timed_out.value, TimeoutError)
        monkeypatch.undo()

        # The final API's way: the full configuration from base_config, changed.
        cluster.install_dcos_from_path(artifact, dcos_config={**config, **FAST})
        cluster.wait_for_dcos_oss()
        cluster.wait_for_dcos_ee(superuser_username="u", superuser_password="p")
        assert master.dcos_build_info().version == "2.2.0"
        result = cluster.run_with_test_environment(
            ["pytest", "-q", "test_sample_cluster.py"], output=Output.LOG_AND_CAPTURE
        )
        assert b"4 passed" in result.stdout
        env = cluster.run_with_test_environment(
            ["echo", "$SLAVE_HOSTS", "$MINE", "$PWD"], env={"MINE": "x"}, node=agent
        )
        assert env.stdout.split() == [
            str(agent.ip_address).encode(), b"x", b"/opt/mesosphere/active/dcos-integration-test"
        ]
        on_tty = cluster.run_with_test_environment(
            ["[ -t 1 ] && echo $MASTER_HOSTS"], tty=True, transport=Transport.SSH
        )
        assert on_tty.stdout.strip() == str(master.ip_address).encode()

        # A cluster of the same nodes, as the final API makes one: never destroyed.
        with Cluster.from_nodes(
            masters=cluster.masters, agents=cluster.agents, public_agents=set()
        ) as again:
            assert {n.ip_address for n in again.masters} == {master.ip_address}
            assert again.default_ssh_user == "root"
            again.wait_for_dcos_oss()
            out = again.run_with_test_environment(["echo", "$MASTER_HOSTS"])
            assert out.stdout.strip() == str(master.ip_address).encode()
        assert len(running(cluster.cluster_id)) == 2
    # Leaving the final API's block destroyed the nodes.
    assert_gone(cluster.cluster_id)


def test_the_two_apis_are_told_apart_by_what_is_given(ssh_key: Path) -> None:
    docker = Docker()
    # The 2017 API: build_artifact given (even None) is its call, with its refusal.
    with pytest.raises(ValueError, match="only supports creating new clusters"):
        Cluster(docker, build_artifact=None, masters=1, agents=0, public_agents=0)
    # The final API's positional counts, and a count given twice.
    with pytest.raises(TypeError, match="multiple values for argument 'masters'"):
        Cluster(docker, 1, masters=2)
    with pytest.raises(TypeError, match="2017 API's extra_config"):
        Cluster(docker, 1, extra_config={"a": 1})
    # An existing cluster by the final API is never destroyed, so it needs no flags;
    # by the 2017 API the flags must say so.
    nodes = {Node(IPv4Address("127.0.0.1"), ssh_key)}
    existing = ExistingCluster(
        masters=nodes, agents=set(), public_agents=set(), default_ssh_user="root"
    )
    with Cluster(existing, 1, 0, 0) as wrapped:
        assert {n.ip_address for n in wrapped.masters} == {IPv4Address("127.0.0.1")}
    with pytest.raises(ValueError, match="destroy_on_error"):
        Cluster(existing, masters=1, agents=0, public_agents=0, log_output_live=True)
    # from_nodes reaches every node as their one default user.
    a = Node(IPv4Address("127.0.0.1"), IPv4Address("127.0.0.1"), "alice", ssh_key)
    b = Node(IPv4Address("127.0.0.2"), IPv4Address("127.0.0.2"), "bob", ssh_key)
    with pytest.raises(ValueError, match="one default user; these have alice, bob"):
        Cluster.from_nodes(masters={a}, agents={b}, public_agents=set())
    assert Cluster.from_nodes(masters={a}, agents=set(), public_agents=set()).default_ssh_user == "alice"


def test_final_node_commands_copies_and_constructor(
    docker_backend: Docker, tmp_path: Path, capfd: pytest.CaptureFixture,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with Cluster(docker_backend, 1, 0, 0) as cluster:
        (node,) = cluster.masters
        # The final API's default transport.
        assert node.default_user == "root" and node.default_transport is Transport.DOCKER_EXEC
        # shell=False (the final's default): each word as it is; shell=True: the shell's.
        assert node.run(["echo", "$HOME", "a  b"]).stdout == b"$HOME a  b\n"
        assert node.run(["echo", "$HOME", "|", "tr", "r", "R"], shell=True).stdout == b"/Root\n"
        out, _ = node.popen(["echo", "$HOME"]).communicate()
        assert out == b"$HOME\n"

        node.run([
            "useradd -m alice && install -d -m 700 -o alice -g alice /home/alice/.ssh "
            "&& install -m 600 -o alice -g alice /root/.ssh/authorized_keys /home/alice/.ssh/ "
            "&& echo 'alice ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/alice"
        ], shell=True)
        assert node.run(["id", "-un"], user="alice").stdout.strip() == b"alice"
        assert node.run(["id", "-un"], user="alice", sudo=True).stdout.strip() == b"root"
        local = tmp_path / "f"
        local.write_text("x")
        # Refused: both our error and the final's.
        with pytest.raises(HarnessError, match="Permission denied") as refused:
            node.send_file(local, Path("/etc/dcos-e2e-final/f"), user="alice")
        assert isinstance(refused.value, subprocess.CalledProcessError)
        assert b"Permission denied" in refused.value.stderr
        # Through sudo, and then the user's (as the final left it).
        node.send_file(local, Path("/etc/dcos-e2e-final/f"), user="alice", sudo=True)
        owner = node.run(["stat", "-c", "%U %s", "/etc/dcos-e2e-final/f"]).stdout
        assert owner.split() == [b"alice", b"1"]
        # An existing directory receives a file or a directory under its own name.
        node.send_file(local, Path("/etc/dcos-e2e-final"))
        tree = tmp_path / "tree"
        (tree / "in").mkdir(parents=True)
        (tree / "in" / "g").write_text("y")
        node.send_file(tree, Path("/etc/dcos-e2e-final"))
        listed = node.run(["find", "/etc/dcos-e2e-final", "-type", "f"]).stdout.split()
        assert sorted(listed) == [b"/etc/dcos-e2e-final/f", b"/etc/dcos-e2e-final/tree/in/g"]
        # Downloads: into a directory under the file's name; never over a file.
        (tmp_path / "down").mkdir()
        node.download_file(Path("/etc/dcos-e2e-final/f"), tmp_path / "down")
        assert (tmp_path / "down" / "f").read_text() == "x"
        with pytest.raises(ValueError, match="A file already exists in that location"):
            node.download_file(Path("/etc/dcos-e2e-final/f"), tmp_path / "down" / "f")
        with pytest.raises(ValueError, match="File does not exist"):
            node.download_file(Path("/etc/dcos-e2e-final/none"), tmp_path / "none")

        # LOG_AND_CAPTURE: the command, then stdout lines at DEBUG and stderr lines at
        # WARNING, each stream captured apart.
        with caplog.at_level(logging.DEBUG, logger="dcos_e2e"):
            caplog.clear()
            logged = node.run(["echo out; echo err >&2"], shell=True, output=Output.LOG_AND_CAPTURE)
        assert (logged.stdout, logged.stderr) == (b"out\n", b"err\n")
        records = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "dcos_e2e.node"]
        assert records[0] == (logging.DEBUG, "Running command `/bin/sh -c echo out; echo err >&2` "
                                             "on a node `{}`".format(node))
        assert sorted(records[1:]) == [(logging.DEBUG, "out"), (logging.WARNING, "err")]
        with pytest.raises(subprocess.CalledProcessError) as failed:
            node.run(["echo gone >&2; exit 3"], shell=True, output=Output.LOG_AND_CAPTURE)
        assert (failed.value.returncode, failed.value.stderr) == (3, b"gone\n")
        # NO_CAPTURE: passed on as it comes; a failure carries no output.
        capfd.readouterr()
        shown = node.run(["echo shown; echo also >&2"], shell=True, output=Output.NO_CAPTURE)
        assert shown.stdout is None and capfd.readouterr() == ("shown\n", "also\n")
        with pytest.raises(subprocess.CalledProcessError) as failed:
            node.run(["exit 4"], shell=True, output=Output.NO_CAPTURE)
        assert (failed.value.returncode, failed.value.stdout) == (4, None)
        # A terminal: the command sees one, its size ours (80x24 without one here).
        on_tty = node.run(["[ -t 1 ] && stty size"], shell=True, tty=True)
        assert on_tty.stdout.strip() == b"24 80"
        assert node.run(["[ -t 1 ] || echo no"], shell=True).stdout == b"no\n"
        # popen too, with what is written typed on the terminal.
        typed = node.popen(["read line; echo \"got $line\"; stty size"], shell=True,
                           stdin=True, tty=True)
        out, _ = typed.communicate(input=b"hi\n")
        assert out.replace(b"\r", b"").splitlines()[-2:] == [b"got hi", b"24 80"]
        # Another transport for one call: SSH to a docker exec node.
        over = "echo ${SSH_CONNECTION:+ssh}"
        assert node.run([over], shell=True, transport=Transport.SSH).stdout == b"ssh\n"
        assert node.run([over], shell=True).stdout == b"\n"
        node.send_file(local, Path("/tmp/via-ssh"), transport=Transport.SSH)
        assert node.run(["cat", "/tmp/via-ssh"]).stdout == b"x"
        with pytest.raises(TypeError, match="transport"):
            node.run(["true"], transport="ssh")

        # The final API's Node made directly: the same machine, as the given user.
        direct = Node(node.public_ip_address, node.private_ip_address, "alice", node.ssh_key_path)
        assert direct == node and direct.default_user == "alice"
        assert direct.run(["id", "-un"]).stdout.strip() == b"alice"
        assert direct.run(["echo", "$USER"], shell=True).stdout.strip() == b"alice"
        back = tmp_path / "back"
        direct.download_file(Path("/etc/dcos-e2e-final/f"), back)
        assert back.read_text() == "x"
    assert_gone(cluster.cluster_id)


def test_final_docker_parameters(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "note").write_text("seen")
    backend = Docker(
        container_name_prefix="final-e2e",
        custom_container_mounts={str(shared): {"bind": "/shared", "mode": "ro"}},
        docker_container_labels={"team": "all"},
        docker_master_labels={"team": "masters", "kind": "m"},
        one_master_host_port_map={"80/tcp": _free_port()},
        transport=Transport.SSH,
    )
    with Cluster(backend, 1, 1, 0) as cluster:
        assert cluster.cluster_id.startswith("final-e2e-")
        (master,) = cluster.masters
        (agent,) = cluster.agents
        assert master.default_transport is Transport.SSH
        for node in (master, agent):
            assert node.run(["cat", "/shared/note"]).stdout == b"seen"
        labels = {
            name: docker("inspect", "-f", "{{json .Config.Labels}}", name)
            for name in (master._node().container_name, agent._node().container_name)
        }
        master_labels, agent_labels = (json.loads(v) for v in labels.values())
        assert (master_labels["team"], master_labels["kind"]) == ("masters", "m")
        assert agent_labels["team"] == "all" and "kind" not in agent_labels
        ports = docker("port", master._node().container_name, "80/tcp")
        assert ports.startswith("127.0.0.1:")
    assert_gone(cluster.cluster_id)
    # docker-py Mount objects (dicts of the engine API's fields), bind mounts only.
    mount = {"Target": "/shared", "Source": str(shared), "Type": "bind", "ReadOnly": True}
    assert Docker(custom_container_mounts=[mount])._mounts[1] == [(str(shared), "/shared", True)]
    with pytest.raises(ValueError, match="only bind mounts"):
        Docker(custom_container_mounts=[{**mount, "Type": "volume"}])
    with pytest.raises(ValueError, match="not a TCP port"):
        Docker(one_master_host_port_map={"53/udp": 5353})
    with pytest.raises(NotImplementedError, match="/sys/fs/cgroup"):
        Docker(mount_sys_fs_cgroup=False)
    with pytest.raises(ValueError, match="not both"):
        Docker(container_name_prefix="a", cluster_id="b")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_final_distribution_engine_and_storage_driver() -> None:
    # The final's names import, and are refused with the list of ours.
    with pytest.raises(ValueError, match="CENTOS_7 is not one we can make here; ours: DEBIAN_BOOKWORM"):
        Docker(linux_distribution=Distribution.CENTOS_7)
    with pytest.raises(ValueError, match="v18_06_3_ce .*ours: DISTRIBUTION"):
        Docker(docker_version=DockerVersion.v18_06_3_ce)
    with pytest.raises(ValueError, match="AUFS"):
        Docker(docker_version=DockerVersion.DISTRIBUTION, storage_driver=DockerStorageDriver.AUFS)
    # A storage driver asks for the engine too (the final's nodes always had one).
    with_driver = Docker(storage_driver=DockerStorageDriver.VFS)
    assert with_driver.docker_version is DockerVersion.DISTRIBUTION
    assert with_driver.docker_storage_driver is DockerStorageDriver.VFS
    with pytest.raises(TypeError, match="linux_distribution"):
        Docker(linux_distribution="bookworm")

    backend = Docker(
        linux_distribution=Distribution.DEBIAN_BOOKWORM,
        docker_version=DockerVersion.DISTRIBUTION,
        storage_driver=DockerStorageDriver.VFS,
    )
    with Cluster(backend, 1, 0, 0) as cluster:
        (master,) = cluster.masters
        release = master.run(["sh", "-c", ". /etc/os-release; echo $VERSION_CODENAME"])
        assert release.stdout.strip() == b"bookworm"
        driver = master.run(["docker", "info", "--format", "{{.Driver}}"])
        assert driver.stdout.strip() == b"vfs"
    assert_gone(cluster.cluster_id)


def test_final_node_install_by_role_backend_config_and_existing_form(
    artifact: Path, docker_backend: Docker, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    from dcos_e2e.base_classes import ClusterBackend as FinalBackend
    from dcos_e2e.node import Role

    assert FinalBackend is cluster_module.ClusterBackend
    # The backend's own ip-detect and config, for the final's install calls.
    assert docker_backend.ip_detect_path.read_text().startswith("#!/usr/bin/env bash")
    assert docker_backend.base_config["bootstrap_url"] == "file:///opt/dcos_install_tmp"
    assert not any(k.endswith("_list") for k in docker_backend.base_config)
    assert docker_backend.container_name_prefix == "dcos-e2e"
    with pytest.raises(NotImplementedError):
        ExistingCluster(set(), set(), set()).ip_detect_path  # noqa: B018 - raises

    with Cluster(docker_backend, 1, 1, 0) as cluster:
        (master,) = cluster.masters
        (agent,) = cluster.agents
        mine = tmp_path / "ip-detect"
        mine.write_text("#!/bin/bash\necho {}\n".format(master.private_ip_address))
        config = {**cluster.base_config, **FAST}
        # A file for /genconf/ip-detect wins over ip_detect_path.
        master.install_dcos_from_path(
            artifact, dcos_config=config, ip_detect_path=docker_backend.ip_detect_path,
            role=Role.MASTER, files_to_copy_to_genconf_dir=[(mine, Path("/genconf/ip-detect"))],
        )
        assert master.dcos_build_info().version == "2.2.0"
        with pytest.raises(DCOSNotInstalledError):
            agent.dcos_build_info()
        assert master.run(["cat", "/opt/mesosphere/bin/detect_ip"]).stdout == mine.read_bytes()
        agent.install_dcos_from_path(
            artifact, dcos_config=config, ip_detect_path=docker_backend.ip_detect_path,
            role=Role.AGENT,
        )
        cluster.wait_for_dcos_oss()
        with pytest.raises(TypeError, match="role"):
            agent.install_dcos_from_path(artifact, dcos_config=config, role="slave")

        # The final's ExistingCluster(masters, agents, public_agents): each node's user.
        wrapped = ExistingCluster(cluster.masters, cluster.agents, set())
        with Cluster(wrapped, masters=1, agents=1, public_agents=0) as existing:
            assert existing.masters == cluster.masters
            assert {n.dcos_build_info().version for n in existing.agents} == {"2.2.0"}

        # The final's Node made with docker exec: the container of ours at that address.
        direct = Node(master.public_ip_address, master.private_ip_address, "root",
                      master.ssh_key_path, default_transport=Transport.DOCKER_EXEC)
        assert direct.run(["echo ${SSH_CONNECTION:+ssh}"], shell=True).stdout == b"\n"
    nowhere = Node(IPv4Address("127.0.0.9"), IPv4Address("127.0.0.9"), "root", tmp_path / "k",
                   default_transport=Transport.DOCKER_EXEC)
    with pytest.raises(ValueError, match="no node container .* 127.0.0.9"):
        nowhere.run(["true"])

    # An install asked to log (output=LOG_AND_CAPTURE) logs the installer's stderr as
    # WARNING records; without it, nothing.
    def warned() -> List[str]:
        return [r.getMessage() for r in caplog.records
                if r.name == "dcos_e2e.installer" and r.levelno == logging.WARNING]

    with caplog.at_level(logging.DEBUG, logger="dcos_e2e"):
        for output, logs in ((Output.CAPTURE, False), (Output.LOG_AND_CAPTURE, True)):
            caplog.clear()
            with Cluster(docker_backend, 2, 0, 0) as two:
                with pytest.raises(subprocess.CalledProcessError):
                    two.install_dcos_from_path(artifact, dcos_config=two.base_config,
                                               output=output)
            assert any("Must have 1, 3, 5, 7, or 9 masters" in m for m in warned()) == logs


def test_loopback_volume_sidecar() -> None:
    from dcos_e2e.docker_utils import DockerLoopbackVolume

    with DockerLoopbackVolume(size_megabytes=2, labels={"dcos-e2e-test": "loop"}) as device:
        assert device.path.startswith("/dev/loop")
        labels = json.loads(docker("inspect", "-f", "{{json .Config.Labels}}", device.container_id))
        assert labels["dcos-e2e-test"] == "loop"
        # The kernel's device, seen from the host: of the size asked for.
        size = subprocess.run(["blockdev", "--getsize64", device.path], check=True,
                              capture_output=True, text=True).stdout.strip()
        assert size == str(2 * 1024 * 1024)
        with DockerLoopbackVolume(size_megabytes=1) as second:
            assert second.path != device.path
    # Detached, and the sidecar gone.
    assert subprocess.run(["losetup", device.path], capture_output=True).returncode != 0
    assert subprocess.run(["docker", "inspect", device.container_id],
                          capture_output=True).returncode != 0
    with pytest.raises(ValueError, match="at least 1"):
        DockerLoopbackVolume(size_megabytes=0)
    with pytest.raises(TypeError, match="size_megabytes"):
        DockerLoopbackVolume(size_megabytes="1")  # type: ignore[arg-type]


def test_the_final_aws_and_vagrant_backends_are_a_clear_import_error() -> None:
    for name in ("AWS", "Vagrant"):
        with pytest.raises(ImportError, match="dcos_e2e.backends.{} .* Docker and ExistingCluster"
                           .format(name)):
            exec("from dcos_e2e.backends import {}".format(name), {})
    with pytest.raises(AttributeError):
        getattr(__import__("dcos_e2e.backends").backends, "Nothing")
