"""
Ctrl-C (SIGINT) of a pytest run, and SIGKILL of a Python process, while a cluster
exists: nothing is left behind. Each case runs pytest (or Python) in a child process
on a small test file written here; the child says on its stdout when to strike.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import List

import pytest

from conftest import assert_gone, docker

HEADER = """
import sys
from pathlib import Path

import pytest

from dcos_e2e.backends import Docker
from dcos_e2e.cluster import Cluster

ARTIFACT = Path({artifact!r})
CLUSTER_ID = {cluster_id!r}


def say(line):
    print(line, flush=True)
"""


def child(tmp_path: Path, body: str, artifact: Path, cluster_id: str,
          pytest_run: bool = True) -> subprocess.Popen:
    source = tmp_path / "test_child.py"
    source.write_text(
        HEADER.format(artifact=str(artifact), cluster_id=cluster_id) + textwrap.dedent(body)
    )
    command: List[str] = [sys.executable]
    if pytest_run:
        command += ["-m", "pytest", "-p", "no:cacheprovider", "-s", "-q", str(source)]
    else:
        command += [str(source)]
    return subprocess.Popen(
        command, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        universal_newlines=True,
    )


def wait_for_line(process: subprocess.Popen, wanted: str) -> List[str]:
    """Read the child's output until `wanted` (a blocking read: no polling)."""
    seen = []
    assert process.stdout is not None
    for line in process.stdout:
        seen.append(line)
        if line.strip() == wanted:
            return seen
    raise AssertionError("the child ended before saying {!r}: {}".format(wanted, "".join(seen)))


def interrupt(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate()
    return out


def test_ctrl_c_during_a_command_in_a_with_block(artifact: Path, tmp_path: Path) -> None:
    cluster_id = "dcos-e2e-py-sigint-with"
    process = child(tmp_path, """
        def test_blocked():
            with Cluster(cluster_backend=Docker(cluster_id=CLUSTER_ID), build_artifact=ARTIFACT,
                         agents=0, public_agents=0) as cluster:
                (master,) = cluster.masters
                say("READY")
                master.run(["sleep", "600"], user="root")
    """, artifact, cluster_id)
    wait_for_line(process, "READY")
    assert docker("ps", "-q", "--filter", "name=" + cluster_id + "-master-1").strip()
    out = interrupt(process)
    assert process.returncode == 2, out  # pytest: interrupted
    assert "KeyboardInterrupt" in out
    assert_gone(cluster_id)


def test_ctrl_c_with_the_cluster_in_a_fixture(artifact: Path, tmp_path: Path) -> None:
    cluster_id = "dcos-e2e-py-sigint-fixture"
    process = child(tmp_path, """
        import threading

        @pytest.fixture(scope="module")
        def cluster():
            with Cluster(cluster_backend=Docker(cluster_id=CLUSTER_ID), build_artifact=ARTIFACT,
                         agents=0, public_agents=0) as cluster:
                yield cluster

        def test_waiting_in_python(cluster):
            say("READY")
            threading.Event().wait()
    """, artifact, cluster_id)
    wait_for_line(process, "READY")
    out = interrupt(process)
    assert process.returncode == 2, out
    assert_gone(cluster_id)


def test_ctrl_c_while_the_cluster_is_being_created(artifact: Path, tmp_path: Path) -> None:
    cluster_id = "dcos-e2e-py-sigint-create"
    # An installer that blocks until interrupted: the create is cut off in the middle.
    slow = tmp_path / "slow_installer.sh"
    slow.write_text("echo installing\nexec sleep 600\n")
    process = child(tmp_path, """
        def test_creating():
            Cluster(cluster_backend=Docker(cluster_id=CLUSTER_ID),
                    build_artifact=Path({slow!r}), agents=0, public_agents=0,
                    log_output_live=True)
    """.replace("{slow!r}", repr(str(slow))), artifact, cluster_id)
    # The installer runs once the nodes exist: wait for its first line in the log.
    events = subprocess.Popen(
        ["docker", "events", "--filter", "label=dcos-e2e.cluster-id=" + cluster_id,
         "--filter", "event=start", "--format", "{{.Actor.Attributes.name}}"],
        stdout=subprocess.PIPE, universal_newlines=True,
    )
    try:
        assert events.stdout is not None
        started = events.stdout.readline().strip()
        assert started.startswith(cluster_id)
    finally:
        events.kill()
        events.wait()
    out = interrupt(process)
    assert process.returncode == 2, out
    assert_gone(cluster_id)
    assert [p for p in Path(os.environ.get("TMPDIR", "/tmp")).glob(cluster_id + "-*")] == []


def test_sigkill_leaves_the_cluster_to_its_watchdog(artifact: Path, tmp_path: Path) -> None:
    cluster_id = "dcos-e2e-py-sigkill"
    process = child(tmp_path, """
        import threading
        cluster = Cluster(cluster_backend=Docker(cluster_id=CLUSTER_ID), build_artifact=ARTIFACT,
                          agents=0, public_agents=0)
        say("READY")
        threading.Event().wait()
    """, artifact, cluster_id, pytest_run=False)
    wait_for_line(process, "READY")
    process.kill()
    process.communicate()
    # The watchdog removes the cluster, then itself: wait until it is gone (its exit,
    # which `docker wait` reports, comes a moment before its auto-removal).
    deadline = time.monotonic() + 120
    while subprocess.run(["docker", "container", "inspect", cluster_id + "-watchdog"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
        assert time.monotonic() < deadline, "the watchdog is still there"
        time.sleep(0.2)
    assert_gone(cluster_id)
