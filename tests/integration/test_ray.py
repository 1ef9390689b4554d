"""Search trials and suite train stages as Ray tasks, on a local Ray head this module starts."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from rlpipe.errors import RlpipeError
from rlpipe.scale import RayRunner
from tests.conftest import REPO
from tests.suite_project import BROKEN_SAC_PENDULUM, environment, make_project
from tests.suite_project import run as run_in

pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")

SPACE = "algorithm.lr: {type: log_float, low: 1e-4, high: 3e-3}\n"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environment() -> dict[str, str]:
    return environment(
        RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",  # loopback addresses only, no network
        RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S="0",  # stop at once at the end
        RAY_USAGE_STATS_ENABLED="0",
    )


def _node_is_up(address: str) -> bool:
    # `ray status` answers before the node has registered; wait for its CPUs to show.
    status = subprocess.run(
        ["ray", "status", f"--address={address}"],
        env=_environment(),
        capture_output=True,
        text=True,
    )
    return "CPU" in status.stdout


def _start_head(temp_dir: str, log: IO[str]) -> tuple[subprocess.Popen, str]:
    """`ray start --head --block` with 2 CPUs, every port free-picked; its address."""
    port = _free_port()
    ports = {
        name: _free_port()
        for name in ("node-manager", "object-manager", "dashboard-agent-listen",
                     "dashboard-agent-grpc", "runtime-env-agent", "metrics-export")
    }  # fmt: skip
    command = [
        "ray", "start", "--head", "--block", "--num-cpus=2", "--include-dashboard=false",
        f"--port={port}", "--object-store-memory=100000000", f"--temp-dir={temp_dir}",
        "--disable-usage-stats", *(f"--{name}-port={value}" for name, value in ports.items()),
    ]  # fmt: skip
    head = subprocess.Popen(command, env=_environment(), stdout=log, stderr=subprocess.STDOUT)
    return head, f"127.0.0.1:{port}"


def _stop(head: subprocess.Popen) -> None:
    head.send_signal(signal.SIGTERM)
    try:
        head.wait(timeout=120)
    except subprocess.TimeoutExpired:
        head.kill()
        head.wait()


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A local Ray head on loopback, stopped afterwards. Ray gives its raylet 30 s to
    register, which a machine loaded by other jobs can miss: then it is started again."""
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: it holds unix sockets
    log_path = Path(temp_dir) / "head.log"
    with open(log_path, "w") as log:
        for _attempt in range(3):
            head, address = _start_head(temp_dir, log)
            deadline = time.monotonic() + 300
            while head.poll() is None and time.monotonic() < deadline:
                if _node_is_up(address):
                    break
                time.sleep(1)
            if head.poll() is None and time.monotonic() < deadline:
                break
            _stop(head)
        else:
            pytest.fail(f"the Ray head did not start:\n{log_path.read_text()[-3000:]}")
        try:
            yield address
        finally:
            _stop(head)
    shutil.rmtree(temp_dir, ignore_errors=True)


def run(cwd: Path, *command: str, check: bool = True) -> subprocess.CompletedProcess:
    return run_in(cwd, *command, check=check, env=_environment())


def test_search_trials_run_as_ray_tasks(tmp_path, ray_address):
    import optuna

    (tmp_path / "space.yaml").write_text(SPACE)
    run(
        tmp_path,
        "rlpipe", "search", "ppo", "cartpole", "--space", "space.yaml", "--trials", "2",
        "-s", "max_frame=512", "-s", "meta.log_interval=256", "--pruner", "none",
        "--ray", ray_address, "--pipelines", str(REPO / "pipelines"),
    )  # fmt: skip
    folder = tmp_path / "searches" / "ppo-cartpole"
    study = optuna.load_study(study_name="ppo-cartpole", storage=f"sqlite:///{folder / 'study.db'}")
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    for trial in study.trials:
        assert (folder / f"trial-{trial.number}" / "summary.json").is_file()
    assert (folder / "SEARCH.md").is_file() and (folder / "best.yaml").is_file()


@pytest.fixture
def project(tmp_path) -> Path:
    """A git + DVC copy of the repo with the 2-run smoke suite, nothing trained yet."""
    return make_project(tmp_path / "project")


def test_suite_stages_run_on_ray_are_committed_so_dvc_and_audit_are_clean(project, ray_address):
    sac = project / "pipelines" / "sac.yaml"
    good = sac.read_text()
    assert BROKEN_SAC_PENDULUM[0] in good
    sac.write_text(good.replace(*BROKEN_SAC_PENDULUM))

    failed = run(project, "rlpipe", "suite", "run", "--ray", ray_address, check=False)
    assert failed.returncode == 2
    assert "train-sac-pendulum-seeds-0" in failed.stderr and "'Pendulum-v0'" in failed.stderr
    assert "committed: train-crossq-cartpole" in failed.stderr  # finished stages are kept
    assert "train-crossq-cartpole" in (project / "dvc.lock").read_text()
    assert "train-sac-pendulum" not in (project / "dvc.lock").read_text()

    sac.write_text(good)
    result = run(project, "rlpipe", "suite", "run", "--ray", ray_address)
    groups = "train-sac-pendulum-seeds-0, train-sac-pendulum-seeds-1"
    assert f"2 stale train stages: {groups}" in result.stdout
    assert "Data and pipelines are up to date." in run(project, "dvc", "status").stdout
    audit = run(project, "rlpipe", "audit", check=False)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    report = (project / "reports" / "BENCHMARKS.md").read_text()
    assert "crossq-cartpole" in report and "sac-pendulum" in report


@pytest.mark.parametrize(
    "address,message",
    [
        ("127.0.0.1:1", "--ray 127.0.0.1:1: no Ray head answers there within 10 s"),
        ("nohost", "--ray nohost: expected HOST:PORT"),
    ],
)
def test_an_address_without_a_ray_head_fails_fast(address, message):
    started = time.monotonic()
    with pytest.raises(RlpipeError, match=re.escape(message)):
        RayRunner(address)
    assert time.monotonic() - started < 15
