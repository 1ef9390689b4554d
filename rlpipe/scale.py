"""Run commands here or as Ray tasks on a cluster, behind one small interface.

Both `rlpipe search` (one `rlpipe train` per trial) and `rlpipe suite run` (one DVC train
stage each) start commands through a runner and poll them; `--ray [ADDRESS]` swaps the
local runner for Ray's. Ray workers run the command in the same working-tree path, so the
tree must be on a filesystem every node shares.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Any, Protocol, cast

from rlpipe.errors import RlpipeError

Command = list[str] | str  # an argument list, or a shell command line (a DVC stage's cmd)
STOP_GRACE_S = 120.0  # rlpipe train saves its state on SIGTERM; give it time to finish
TAIL_LINES = 25


@dataclass(frozen=True)
class Resources:
    """What one command needs on the node that runs it."""

    cpus: float = 1.0
    gpus: float = 0.0


@dataclass(frozen=True)
class CommandResult:
    """How a command ended: exit code, the end of its output, the host it ran on."""

    returncode: int
    output_tail: str
    host: str
    stopped: bool = False  # stopped on request (a pruned trial), not failed


def _argv(command: Command) -> list[str]:
    """The command behind the parent-death guard (see rlpipe/die_with_parent.py)."""
    inner = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
    return [sys.executable, "-m", "rlpipe.die_with_parent", *inner]


def _environment() -> dict[str, str]:
    """This environment with its Python's bin folder first, so `rlpipe` and `dvc` resolve
    to the same installation (on a Ray worker: the worker's)."""
    bin_dir = os.path.dirname(sys.executable)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


def _tail(stream: Any) -> str:
    stream.seek(0)
    text = stream.read().decode("utf-8", errors="replace")
    return "\n".join(text.rstrip().splitlines()[-TAIL_LINES:])


class _Process:
    """A started command: its own process group, output in a temporary file."""

    def __init__(self, command: Command, cwd: str) -> None:
        if not os.path.isdir(cwd):
            raise RlpipeError(
                f"{socket.gethostname()} has no folder {cwd}: the working tree must be on a "
                "filesystem shared by every node, at the same path"
            )
        self.output = tempfile.TemporaryFile()  # noqa: SIM115 (closed when the command ends)
        self.process = subprocess.Popen(
            _argv(command),
            cwd=cwd,
            env=_environment(),
            stdin=subprocess.DEVNULL,
            stdout=self.output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.stopped = False
        self.result: CommandResult | None = None

    def poll(self) -> CommandResult | None:
        code = self.process.poll()
        return None if code is None else self._result(code)

    def stop(self) -> None:
        """SIGTERM to the command's process group (rlpipe train keeps its checkpoints)."""
        if self.process.poll() is not None:
            return
        self.stopped = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)

    def wait(self) -> CommandResult:
        try:
            code = self.process.wait(timeout=STOP_GRACE_S if self.stopped else None)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            code = self.process.wait()
        return self._result(code)

    def _result(self, code: int) -> CommandResult:
        if self.result is None:  # read the output once, then release it
            self.result = CommandResult(
                code, _tail(self.output), socket.gethostname(), self.stopped
            )
            self.output.close()
        return self.result


def execute(command: Command, cwd: str) -> CommandResult:
    """Run a command to its end; a KeyboardInterrupt (Ctrl-C, Ray's cancel) stops it first."""
    process = _Process(command, cwd)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.stop()
        return process.wait()


class Running(Protocol):
    """A command started by a runner."""

    def poll(self) -> CommandResult | None:
        """The result once it has ended, else None."""

    def stop(self) -> None:
        """Ask it to stop (SIGTERM); poll() then returns a result with stopped=True."""


class Runner(Protocol):
    """Starts commands: here, or as tasks on a Ray cluster."""

    def start(self, command: Command, cwd: str, resources: Resources) -> Running:
        """Start a command in the folder cwd."""

    def max_cpus_per_node(self) -> float:
        """The most CPUs any one node offers (a task asking for more would never start)."""

    def total_cpus(self) -> float:
        """All CPUs this runner can use at once."""

    def close(self) -> None:
        """Release the runner (disconnect from the cluster)."""


class LocalRunner:
    """Runs each command as a child process of this one."""

    def start(self, command: Command, cwd: str, resources: Resources) -> Running:
        """Start a command in the folder cwd (resources are not reserved locally)."""
        return _Process(command, cwd)

    def max_cpus_per_node(self) -> float:
        """This machine's cores."""
        return float(os.cpu_count() or 1)

    def total_cpus(self) -> float:
        """This machine's cores."""
        return self.max_cpus_per_node()

    def close(self) -> None:
        """Nothing to release."""


class _RayRunning:
    def __init__(self, ray: Any, reference: Any) -> None:
        self.ray, self.reference, self.stopped = ray, reference, False

    def poll(self) -> CommandResult | None:
        done, _ = self.ray.wait([self.reference], timeout=0)
        if not done:
            return None
        try:
            return cast("CommandResult", self.ray.get(self.reference))
        except self.ray.exceptions.TaskCancelledError:
            return CommandResult(-signal.SIGTERM, "stopped before it started", "", True)
        except self.ray.exceptions.RayError as exc:
            return CommandResult(-1, f"the Ray task failed: {exc}", "", self.stopped)

    def stop(self) -> None:
        # Ray raises KeyboardInterrupt in the task, which stops the command (see execute).
        self.stopped = True
        self.ray.cancel(self.reference, force=False)


RAY_CONNECT_TIMEOUT_S = 10.0
"""How long --ray HOST:PORT waits for the head's port to answer (Ray itself retries for
minutes, silently)."""


def _check_reachable(address: str) -> None:
    """Raise RlpipeError unless a TCP connection to HOST:PORT opens within the timeout."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise RlpipeError(f"--ray {address}: expected HOST:PORT (e.g. 10.0.0.5:6379) or auto")
    try:
        with socket.create_connection((host, int(port)), timeout=RAY_CONNECT_TIMEOUT_S):
            pass
    except OSError as error:
        raise RlpipeError(
            f"--ray {address}: no Ray head answers there within {RAY_CONNECT_TIMEOUT_S:g} s "
            f"({error.strerror or error}); start one with `ray start --head`, or check the "
            "address `ray start` printed"
        ) from None


class RayRunner:
    """Runs each command as a Ray task on the cluster at `address` (None: a local one)."""

    def __init__(self, address: str | None) -> None:
        try:
            import ray
        except ImportError:
            raise RlpipeError(
                "--ray needs Ray, an optional extra: pip install -e '.[ray]'"
            ) from None
        self.ray = ray
        if address and address != "auto":
            _check_reachable(address)
        try:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            where = address or "a local Ray instance"
            cause = f" ({exc.__cause__})" if exc.__cause__ else ""
            raise RlpipeError(
                f"--ray {address or ''}: cannot connect to {where}: {exc}{cause}; start a "
                "cluster with `ray start --head` (and `ray start --address HEAD:PORT` on each "
                "worker)"
            ) from None
        self.task = ray.remote(max_retries=0)(execute)

    def start(self, command: Command, cwd: str, resources: Resources) -> Running:
        """Submit the command as a task with the CPUs and GPUs it needs."""
        options = self.task.options(num_cpus=resources.cpus, num_gpus=resources.gpus)
        return _RayRunning(self.ray, options.remote(command, cwd))

    def max_cpus_per_node(self) -> float:
        """The most CPUs of any live node."""
        nodes = [n for n in self.ray.nodes() if n.get("Alive")]
        return max((n["Resources"].get("CPU", 0.0) for n in nodes), default=1.0)

    def total_cpus(self) -> float:
        """The cluster's CPUs."""
        return float(self.ray.cluster_resources().get("CPU", 1.0))

    def close(self) -> None:
        """Disconnect from the cluster (it keeps running)."""
        self.ray.shutdown()


def make_runner(use_ray: bool, address: str | None) -> Runner:
    """The Ray runner when asked for, else the local one."""
    return RayRunner(address) if use_ray else LocalRunner()
