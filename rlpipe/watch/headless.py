"""Rendering without a display: pygame's dummy video driver, and an offscreen GL for MuJoCo.

Classic control and Box2D draw their rgb_array frames with pygame, which needs no display but
tries to open one unless SDL_VIDEODRIVER says otherwise. ALE returns its screen as an array.
MuJoCo renders through OpenGL; gymnasium picks the backend from MUJOCO_GL (glfw, which needs a
display, egl or osmesa). Where MUJOCO_GL is unset, the first offscreen backend that renders here
is chosen: EGL (Debian: libegl1 libegl-mesa0), else OSMesa (libosmesa6).
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys

import gymnasium as gym

from rlpipe.errors import RlpipeError

OFFSCREEN_BACKENDS = ("egl", "osmesa")
SYSTEM_PACKAGES = {"egl": "libegl1 libegl-mesa0", "osmesa": "libosmesa6"}
_PROBE_TIMEOUT_S = 60
# Renders one frame of an empty MuJoCo world with the backend that MUJOCO_GL names.
_PROBE = (
    "import mujoco\n"
    "model = mujoco.MjModel.from_xml_string('<mujoco><worldbody/></mujoco>')\n"
    "renderer = mujoco.Renderer(model, 16, 16)\n"
    "renderer.update_scene(mujoco.MjData(model))\n"
    "renderer.render()\n"
    "renderer.close()\n"
)


def _renders_with(backend: str) -> str | None:
    """None if MuJoCo renders a frame with this backend (in a child process), else why not."""
    environment = {**os.environ, "MUJOCO_GL": backend}
    environment.pop("PYOPENGL_PLATFORM", None)  # each backend sets its own
    try:
        probe = subprocess.run(
            [sys.executable, "-c", _PROBE],
            env=environment,
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    if probe.returncode == 0:
        return None
    lines = [line for line in probe.stderr.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"exit status {probe.returncode}"


@functools.cache
def mujoco_backend() -> str:
    """The offscreen GL backend MuJoCo renders with here: MUJOCO_GL if set, else the first of
    egl, osmesa that works; RlpipeError naming the packages to install where none does."""
    chosen = os.environ.get("MUJOCO_GL")
    if chosen:
        if chosen not in OFFSCREEN_BACKENDS:
            raise RlpipeError(
                f"MUJOCO_GL={chosen} cannot render without a display: set MUJOCO_GL=egl or "
                "MUJOCO_GL=osmesa (or unset it to let rlpipe choose)"
            )
        problem = _renders_with(chosen)
        if problem is not None:
            raise RlpipeError(
                f"MuJoCo cannot render with MUJOCO_GL={chosen} ({problem}); install "
                f"{SYSTEM_PACKAGES[chosen]} (apt-get install {SYSTEM_PACKAGES[chosen]}) or try "
                "the other backend"
            )
        return chosen
    problems = {}
    for backend in OFFSCREEN_BACKENDS:
        problem = _renders_with(backend)
        if problem is None:
            return backend
        problems[backend] = problem
    tried = "; ".join(f"{backend}: {problem}" for backend, problem in problems.items())
    raise RlpipeError(
        f"MuJoCo has no offscreen OpenGL here ({tried}): install Mesa's EGL "
        f"(apt-get install {SYSTEM_PACKAGES['egl']}) or OSMesa "
        f"(apt-get install {SYSTEM_PACKAGES['osmesa']}, then MUJOCO_GL=osmesa)"
    )


def is_mujoco(env_id: str) -> bool:
    """Whether gymnasium builds this env with MuJoCo (so it renders through OpenGL)."""
    return env_id in gym.registry and "mujoco" in str(gym.spec(env_id).entry_point)


def prepare_rendering(env_id: str) -> None:
    """Set up this process to render env_id as rgb_array frames without a display."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # pygame: no window, no display needed
    if is_mujoco(env_id):
        os.environ["MUJOCO_GL"] = mujoco_backend()
