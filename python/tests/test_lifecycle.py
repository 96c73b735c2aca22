"""
The final API's cluster life after create: build info, upgrade (by path and by URL),
nodes destroyed and added.
"""

import functools
import http.server
import subprocess
import threading
from pathlib import Path
from typing import Iterator

import pytest

from dcos_e2e.backends import Docker
from dcos_e2e.cluster import Cluster
from dcos_e2e.exceptions import DCOSNotInstalledError
from dcos_e2e.node import DCOSVariant

FAST = {"sample_startup_delay": 0}


def at_version(artifact: Path, version: str, directory: Path) -> Path:
    """The sample installer at another version (a second artifact)."""
    text = artifact.read_text()
    line = next(l for l in text.splitlines() if l.startswith("SAMPLE_DCOS_VERSION="))
    path = directory / "dcos_generate_config.sh"
    path.write_text(text.replace(line, "SAMPLE_DCOS_VERSION=" + version, 1))
    return path


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """A loopback HTTP server of ``tmp_path/www``; its base URL."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:{}".format(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_upgrade_from_path_and_url_then_a_master_replaced(
    artifact: Path, docker_backend: Docker, tmp_path: Path, served: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DCOS_E2E_CACHE_DIR", str(tmp_path / "cache"))
    with Cluster(
        docker_backend, artifact, extra_config=FAST, masters=3, agents=1, public_agents=0
    ) as cluster:
        cluster.wait_for_dcos()
        info = next(iter(cluster.masters)).dcos_build_info()
        assert (info.version, info.variant, len(info.commit)) == ("2.2.0", DCOSVariant.OSS, 40)

        second = tmp_path / "b"
        second.mkdir()
        cluster.upgrade_dcos_from_path(at_version(artifact, "2.3.0", second), dcos_config=FAST)
        nodes = cluster.masters | cluster.agents
        assert {n.dcos_build_info().version for n in nodes} == {"2.3.0"}

        third = tmp_path / "www"
        at_version(artifact, "2.4.0", third)
        cluster.upgrade_dcos_from_url(served + "/dcos_generate_config.sh", dcos_config=FAST)
        assert {n.dcos_build_info().version for n in nodes} == {"2.4.0"}

        lost = sorted(cluster.masters, key=lambda m: m.ip_address)[1]
        cluster.destroy_node(lost)
        assert len(cluster.masters) == 2 and lost not in cluster.masters
        with pytest.raises(Exception, match=str(lost.ip_address)):
            cluster.wait_for_dcos(timeout=30)
        again = cluster.add_node("master")
        assert again.ip_address == lost.ip_address
        assert again in cluster.masters and len(cluster.masters) == 3
        cluster.wait_for_dcos()
        assert again.dcos_build_info().version == "2.4.0"
        cluster.run_integration_tests(["pytest", "-x"])

        # A node's own upgrade (the final API's Node method): a node already at 2.4.0
        # whose upgrade fails names where it stopped.
        agent = next(iter(cluster.agents))
        agent.run(["rm", "/opt/mesosphere/etc/role"])
        with pytest.raises(subprocess.CalledProcessError) as failed:
            agent.upgrade_dcos_from_path(at_version(artifact, "2.5.0", second), dcos_config=FAST)
        assert b"no role recorded" in failed.value.output
        assert "upgrade stopped at agent 1" in str(getattr(failed.value, "__notes__", [""]))


def test_build_info_of_a_node_without_dcos(
    artifact: Path, docker_backend: Docker
) -> None:
    with Cluster(docker_backend, artifact, extra_config=FAST, agents=0, public_agents=0) as cluster:
        master = next(iter(cluster.masters))
        master.run(["rm", "/opt/mesosphere/etc/dcos-version.json"])
        with pytest.raises(DCOSNotInstalledError, match="dcos-version.json is missing"):
            master.dcos_build_info()
        with pytest.raises(ValueError, match="URL"):
            cluster.upgrade_dcos_from_url("ftp://127.0.0.1/x.sh")
        cluster.destroy_node(master)
        assert not cluster.masters
        # Not its node any more.
        with pytest.raises(ValueError):
            cluster.destroy_node(master)
