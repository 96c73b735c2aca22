"""
Python against Rust, in one run: warm ``Node.run(["true"])`` latency, and create +
destroy of a 1+1+1 cluster with the sample installer. Prints figures, asserts nothing.

    python python/bench/bench.py [--iterations 200] [--repetitions 3]

Run it with the Python that has ``dcos_e2e`` installed (a release build for fair
figures: ``pip install ./python``). It builds the Rust counterpart
(``cargo build --release --example rust_counterpart``) and runs it on the same cluster
(the latency) or alternately with the Python creates (create + destroy).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

from dcos_e2e.backends import Docker
from dcos_e2e.cluster import Cluster

PYTHON_DIR = Path(__file__).resolve().parents[1]
REPOSITORY = PYTHON_DIR.parent
ARTIFACT = REPOSITORY / "tests" / "fixtures" / "sample-installer" / "dcos_generate_config.sh"


def counterpart() -> Path:
    subprocess.run(
        ["cargo", "build", "--quiet", "--release", "--example", "rust_counterpart"],
        cwd=str(PYTHON_DIR),
        check=True,
    )
    target = Path(os.environ.get("CARGO_TARGET_DIR", PYTHON_DIR / "target"))
    if not (target / "release" / "examples").is_dir():
        # In the repository's Cargo workspace the target directory is the root's.
        target = REPOSITORY / "target"
    return target / "release" / "examples" / "rust_counterpart"


def rust(binary: Path, *args: str) -> Dict[str, List[float]]:
    out = subprocess.run(
        [str(binary), *args], check=True, stdout=subprocess.PIPE, universal_newlines=True
    ).stdout
    return json.loads(out)


def ms(values: List[float]) -> str:
    return "{:8.3f} ms".format(1000 * statistics.median(values))


def latency(binary: Path, iterations: int) -> None:
    with Cluster(
        cluster_backend=Docker(),
        build_artifact=ARTIFACT,
        extra_config={"sample_startup_delay": 0},
        masters=1,
        agents=0,
        public_agents=0,
    ) as cluster:
        (master,) = cluster.masters

        def python_samples() -> List[float]:
            for _ in range(20):
                master.run(["true"])
            samples = []
            for _ in range(iterations):
                t = time.perf_counter()
                master.run(["true"])
                samples.append(time.perf_counter() - t)
            return samples

        # Python, Rust, Python: the machine's load drifts.
        py = python_samples()
        rs = rust(binary, "run", cluster.cluster_id, str(iterations))["run"]
        py += python_samples()
    ratio = statistics.median(py) / statistics.median(rs)
    print("Node.run(['true']), median of {} warm calls (SSH):".format(iterations))
    print("  Python {}   Rust {}   Python/Rust {:.2f} (target <= 1.3)".format(
        ms(py), ms(rs), ratio))


def create_destroy(binary: Path, repetitions: int) -> None:
    py_create, py_destroy, rs_create, rs_destroy = [], [], [], []
    for _ in range(repetitions):
        t = time.perf_counter()
        cluster = Cluster(cluster_backend=Docker(), build_artifact=ARTIFACT)
        py_create.append(time.perf_counter() - t)
        t = time.perf_counter()
        cluster.destroy()
        py_destroy.append(time.perf_counter() - t)
        figures = rust(binary, "create", str(ARTIFACT), "1")
        rs_create += figures["create"]
        rs_destroy += figures["destroy"]
    total_py = [c + d for c, d in zip(py_create, py_destroy)]
    total_rs = [c + d for c, d in zip(rs_create, rs_destroy)]
    print("Create (with install) + destroy of 1+1+1, median of {}, alternating:".format(
        repetitions))
    for name, p, r in (("create", py_create, rs_create), ("destroy", py_destroy, rs_destroy),
                       ("total", total_py, total_rs)):
        diff = 1000 * (statistics.median(p) - statistics.median(r))
        print("  {:8} Python {}   Rust {}   Python-Rust {:+8.1f} ms".format(
            name, ms(p), ms(r), diff))
    print("  (target: total at most +100 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--repetitions", type=int, default=3)
    options = parser.parse_args()
    binary = counterpart()
    print("load average: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    latency(binary, options.iterations)
    create_destroy(binary, options.repetitions)
    print("load average: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    sys.exit(main())
