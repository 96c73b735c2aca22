"""
Commands, processes, files and logging on the nodes of a real cluster.
"""

import logging
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import List

import pytest

from dcos_e2e.cluster import Cluster
from dcos_e2e.node import Node, Process


@pytest.fixture(scope="module")
def master(small_cluster: Cluster) -> Node:
    (node,) = small_cluster.masters
    return node


def debug_lines(records: List[logging.LogRecord], text: str) -> List[logging.LogRecord]:
    return [r for r in records if r.levelno == logging.DEBUG and text in r.getMessage()]


class TestRun:
    def test_args_are_read_by_the_shell(self, master: Node) -> None:
        result = master.run(args=["echo", "$USER", "&&", "pwd", "|", "tr", "/", "_"],
                            user="root")
        assert isinstance(result, subprocess.CompletedProcess)
        assert result.args == ["echo", "$USER", "&&", "pwd", "|", "tr", "/", "_"]
        assert result.returncode == 0
        assert result.stdout == b"root\n_root\n"
        assert result.stderr == b""

    def test_env_values_arrive_literally(self, master: Node) -> None:
        result = master.run(args=["echo", '"$GREETING"', "$NUMBER"],
                            env={"GREETING": "it's a $HOME", "NUMBER": 7})
        assert result.stdout == b"it's a $HOME 7\n"

    def test_failure_is_a_called_process_error(self, master: Node) -> None:
        with pytest.raises(subprocess.CalledProcessError) as excinfo:
            master.run(args=["echo", "out;", "echo", "err", ">&2;", "exit", "3"])
        error = excinfo.value
        assert (error.returncode, error.cmd) == (3, ["echo", "out;", "echo", "err", ">&2;", "exit", "3"])
        assert (error.stdout, error.stderr) == (b"out\n", b"err\n")
        with pytest.raises(subprocess.CalledProcessError) as excinfo:
            master.run(args=["unset_command"])
        assert excinfo.value.returncode == 127
        assert b"command not found" in excinfo.value.stderr

    def test_binary_output(self, master: Node) -> None:
        result = master.run(args=["printf", "'\\000\\377\\n'"])
        assert result.stdout == b"\x00\xff\n"


class TestLogging:
    def test_live_output_is_debug_records_with_stderr_merged(
        self, master: Node, caplog: pytest.LogCaptureFixture
    ) -> None:
        with pytest.raises(subprocess.CalledProcessError) as excinfo:
            master.run(args=["echo", "to-stdout;", "unset_command_live"], log_output_live=True)
        assert excinfo.value.stderr == b""
        assert b"command not found" in excinfo.value.stdout
        (out,) = debug_lines(caplog.records, "to-stdout")
        assert out.msg == "to-stdout" and out.name == "dcos_e2e.node"
        (err,) = debug_lines(caplog.records, "unset_command_live")
        assert "command not found" in str(err.msg)
        assert err.stream == "stdout" and str(master.ip_address) in err.node

    def test_not_live_logs_nothing_at_debug(
        self, master: Node, caplog: pytest.LogCaptureFixture
    ) -> None:
        with pytest.raises(subprocess.CalledProcessError):
            master.run(args=["echo", "quiet-output;", "unset_command_quiet"])
        assert debug_lines(caplog.records, "quiet-output") == []
        assert debug_lines(caplog.records, "unset_command_quiet") == []

    def test_the_level_is_read_on_each_call(
        self, master: Node, caplog: pytest.LogCaptureFixture
    ) -> None:
        package = logging.getLogger("dcos_e2e")
        before = package.level
        try:
            package.setLevel(logging.INFO)
            master.run(args=["echo", "hidden-line"], log_output_live=True)
            assert debug_lines(caplog.records, "hidden-line") == []
            package.setLevel(logging.DEBUG)
            master.run(args=["echo", "shown-line"], log_output_live=True)
            assert len(debug_lines(caplog.records, "shown-line")) == 1
        finally:
            package.setLevel(before)

    def test_records_reach_the_root_logger(self, master: Node) -> None:
        seen: List[logging.LogRecord] = []

        class Collect(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                seen.append(record)

        handler = Collect(level=logging.DEBUG)
        logging.getLogger().addHandler(handler)
        try:
            master.run(args=["echo", "for-the-root"], log_output_live=True)
        finally:
            logging.getLogger().removeHandler(handler)
        assert [r.msg for r in seen if "for-the-root" in r.getMessage()] == ["for-the-root"]


class TestPopen:
    def test_two_processes_meet_through_a_fifo(self, master: Node) -> None:
        reader = master.popen(
            args=["rm", "-f", "/tmp/fifo", "&&", "(mkfifo /tmp/fifo | true)", "&&",
                  "(cat /tmp/fifo)"],
            user="root",
        )
        assert isinstance(reader, Process)
        # The reader made the fifo before the writer may open it.
        assert master.run(["for", "i in $(seq 600); do", "test -p /tmp/fifo && exit 0;",
                           "sleep 0.1;", "done;", "exit 1"]).returncode == 0
        writer = master.popen(args=["(echo $USER > /tmp/fifo)"], user="root")
        stdout, stderr = reader.communicate()
        assert (stdout, stderr) == (b"root\n", b"")
        assert reader.poll() == 0
        writer.communicate()
        assert writer.poll() == 0 and writer.returncode == 0

    def test_poll_wait_kill(self, master: Node) -> None:
        process = master.popen(args=["echo", "started;", "exec", "sleep", "600"])
        assert process.stdout.readline() == b"started\n"
        assert process.poll() is None
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=0.2)
        with pytest.raises(subprocess.TimeoutExpired):
            process.communicate(timeout=0.2)
        process.kill()
        assert process.wait() == 128 + signal.SIGKILL
        assert process.communicate() == (b"", b"")

    def test_exit_status_and_streams(self, master: Node) -> None:
        process = master.popen(args=["for i in 1 2 3; do echo line $i; done;",
                                     "echo oops >&2;", "exit 5"])
        assert list(process.stdout) == [b"line 1\n", b"line 2\n", b"line 3\n"]
        assert process.stderr.read() == b"oops\n"
        assert process.wait() == 5 and process.poll() == 5
        with pytest.raises(ValueError):
            process.communicate(input=b"no stdin")

    def test_standard_input(self, master: Node) -> None:
        # Written as it comes, read by the command; closing is its end of file.
        # (A shell loop: each echo is written at once, where tr would buffer.)
        process = master.popen(
            args=["while IFS= read -r l; do echo \"got $l\"; done; echo \"end $l\""],
            stdin=True,
        )
        assert process.stdin is not None
        process.stdin.write(b"first line\n")
        assert process.stdout.readline() == b"got first line\n"
        process.stdin.write(b"then the rest")
        process.stdin.close()
        assert process.stdout.read() == b"end then the rest\n"
        assert process.wait() == 0
        with pytest.raises(ValueError, match="closed"):
            process.stdin.write(b"late")
        # communicate(input=...) writes it all, then closes.
        counted = master.popen(args=["wc", "-c"], stdin=True)
        out, _ = counted.communicate(input=b"x" * 200_000)
        assert out.strip() == b"200000" and counted.returncode == 0


class TestFiles:
    def test_send_and_download(self, master: Node, tmp_path: Path) -> None:
        content = os.urandom(300_000)
        local = tmp_path / "blob.bin"
        local.write_bytes(content)
        local.chmod(0o750)
        remote = Path("/etc/new_dir/deeper/blob.bin")
        master.send_file(local_path=local, remote_path=remote)
        assert master.run(["stat", "-c", "%a", str(remote)]).stdout == b"750\n"
        back = tmp_path / "back" / "blob.bin"
        back.parent.mkdir()
        master.download_file(remote_path=remote, local_path=back)
        assert back.read_bytes() == content

    def test_a_missing_local_file(self, master: Node, tmp_path: Path) -> None:
        with pytest.raises(FileNotFoundError):
            master.send_file(local_path=tmp_path / "missing", remote_path=Path("/tmp/x"))


class TestStandaloneNode:
    def test_a_node_made_from_address_and_key(self, master: Node) -> None:
        node = Node(ip_address=master.ip_address, ssh_key_path=master.ssh_key_path)
        assert node.run(["hostname"], user="root").stdout == master.run(["hostname"]).stdout
        # Equal on addresses, as the final API's nodes are (DIFFERENCES.md).
        assert node == master and len({node, master}) == 1


class TestThreads:
    def test_a_blocked_call_lets_other_threads_run(self, master: Node) -> None:
        # The first command ends only when the second has run: with the GIL held while
        # waiting, the second could never start.
        flag = "/tmp/gil-{}".format(os.getpid())
        results: List[bytes] = []

        def wait_for_flag() -> None:
            results.append(master.run(["until", "test", "-e", flag + ";", "do", "sleep",
                                       "0.05;", "done;", "echo", "released"]).stdout)

        thread = threading.Thread(target=wait_for_flag)
        thread.start()
        master.run(["touch", flag])
        thread.join()
        assert results == [b"released\n"]


class TestInterrupt:
    def test_ctrl_c_stops_a_blocking_command(self, master: Node) -> None:
        marker = "/tmp/interrupt-{}".format(os.getpid())

        def interrupt_once_running() -> None:
            # Waits (on the node) until the command has started, then interrupts.
            master.run(["until", "test", "-e", marker + ";", "do", "sleep", "0.05;", "done"])
            os.kill(os.getpid(), signal.SIGINT)

        thread = threading.Thread(target=interrupt_once_running)
        thread.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                master.run(["touch", marker, "&&", "exec", "sleep", "600"])
        finally:
            thread.join()
        assert master.run(["echo", "still", "usable"]).stdout == b"still usable\n"
