"""Which steps wait for which, and running independent steps side by side in lanes.

A step waits for the step that writes a file it reads: the file itself, or (for the files a step
writes beside its declared outputs, such as an inversion's `latents.npz` beside its
`inversion.json`) a file in the folder of, or a folder above, that step's outputs. Reads that a
step's inputs do not declare are named in its `after`.

On two cores, two lanes of one thread each finish sooner than one lane of two threads wherever
independent steps exist: the GAN trains in one lane while the oracles learn in the other, and the
two encoders train side by side. Each step runs in its own process (`thisineq pipeline --only
STEP`), pinned to its lane's cores, its output in `<work>/logs/<step>.log`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from thisineq.errors import StepError

if TYPE_CHECKING:
    from thisineq.pipeline.runner import Pipeline
    from thisineq.pipeline.steps import Step
    from thisineq.pipeline.workspace import Workspace

EVERY_OTHER_STEP = "*"  # in `Step.after`: the step reads what all the others wrote (the headline)


def dependencies(steps: Sequence[Step], paths: Workspace) -> dict[str, set[str]]:
    """For each step, the steps among `steps` whose outputs it reads."""
    writers = {path.resolve(): step.name for step in steps for path in step.outputs(paths)}
    folders = [(path.parent, name) for path, name in writers.items()]
    names = [step.name for step in steps]
    needs: dict[str, set[str]] = {}
    for step in steps:
        found = set()
        for path in (p.resolve() for p in step.inputs(paths)):
            if path in writers:
                found.add(writers[path])
            else:  # written beside a declared output, or above it (a dataset's folder holds its ground truth)
                found.update(name for folder, name in folders if folder.is_relative_to(path.parent))
        if EVERY_OTHER_STEP in step.after:
            found.update(names)
        found.update(name for name in step.after if name in names)
        needs[step.name] = found - {step.name}
    return needs


@dataclass(frozen=True)
class Lane:
    """One lane: the cores its steps are pinned to, and the threads they use."""

    index: int
    cores: tuple[int, ...]

    @property
    def threads(self) -> int:
        return len(self.cores)


def lanes_of(n_lanes: int, cores: Sequence[int] | None = None) -> list[Lane]:
    """`n_lanes` lanes sharing this process's cores evenly (a lane gets at least one core; lanes may share one)."""
    cores = sorted(os.sched_getaffinity(0)) if cores is None else list(cores)
    if n_lanes < 1:
        raise ValueError(f"lanes must be 1 or more, got {n_lanes}")
    share = max(1, len(cores) // n_lanes)
    return [Lane(i, tuple(cores[(i * share) % len(cores) :][:share])) for i in range(n_lanes)]


def run_in_lanes(
    order: Sequence[str],
    needs: dict[str, set[str]],
    lanes: Sequence[Lane],
    start: Callable[[str, Lane], subprocess.Popen],
    *,
    log: Callable[[str], None] = print,
    poll_seconds: float = 1.0,
    failure_hint: Callable[[list[str]], str] = lambda failed: "the output of each says why",
    wait: Callable[[float], None] = time.sleep,
    is_current: Callable[[str], bool] = lambda name: False,
) -> list[str]:
    """Run the steps of `order` (a valid order), each as soon as the steps it needs are done and a lane is free.

    A step is asked `is_current` once the steps it needs are done (their new outputs may make it
    stale), and skipped if it is. `needs` may name steps outside `order`: those count as done. After
    a failure no new step starts; those running finish (their work is kept), then the failure is
    raised. Returns the steps run, in the order they finished.
    """
    waiting, running, finished, failed = list(order), {}, [], []
    started_at: dict[str, float] = {}
    stale: set[str] = set()  # ready steps found stale: their inputs are final, so they are asked once
    while waiting or running:
        for name, (process, lane) in list(running.items()):
            if process.poll() is None:
                continue
            del running[name]
            seconds = time.perf_counter() - started_at[name]
            if process.returncode == 0:
                finished.append(name)
                log(f"[{name}] done in {seconds:.0f} s (lane {lane.index})")
            else:
                failed.append(name)
                log(f"[{name}] failed after {seconds:.0f} s (lane {lane.index}, exit status {process.returncode})")
        if failed:
            waiting.clear()
        busy = {lane.index for _, lane in running.values()}
        free = [lane for lane in lanes if lane.index not in busy]
        for name in [n for n in waiting if not (needs.get(n, set()) & (set(waiting) | set(running)))]:
            if name not in stale:
                if is_current(name):
                    waiting.remove(name)
                    log(f"[{name}] current, skipped")
                    continue
                stale.add(name)
            if not free:
                break
            lane = free.pop(0)
            waiting.remove(name)
            started_at[name] = time.perf_counter()
            log(f"[{name}] running (lane {lane.index}, cores {','.join(map(str, lane.cores))})")
            running[name] = (start(name, lane), lane)
        if running:
            wait(poll_seconds)
    if failed:
        raise StepError(f"pipeline steps failed: {', '.join(failed)}; {failure_hint(failed)}")
    return finished


def step_process(pipeline: Pipeline, config_file: Path) -> Callable[[str, Lane], subprocess.Popen]:
    """A starter for `run_in_lanes`: `thisineq pipeline --config CONFIG --only STEP`, pinned to the lane's cores,
    with as many threads, its output in `<work>/logs/<step>.log`."""
    logs = pipeline.paths.work / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    def start(name: str, lane: Lane) -> subprocess.Popen:
        threads = str(lane.threads)
        env = os.environ | {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "THISINEQ_LANE": str(lane.index)}
        command = [sys.executable, "-m", "thisineq.cli", "pipeline", "--config", str(config_file), "--only", name]
        with open(logs / f"{name}.log", "w", encoding="utf-8") as out:
            return subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=lambda: os.sched_setaffinity(0, lane.cores),  # noqa: PLW1509 - no threads run in between
            )

    return start


def config_json(config) -> str:
    """A PipelineConfig as the JSON `--config` reads back (tuples as lists)."""
    return json.dumps(asdict(config), indent=2)
