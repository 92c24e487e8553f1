"""The runner: each stale step of `STEPS` in order (or in lanes, side by side), its fingerprint recorded in
`pipeline.json` when it finishes."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from thisineq.errors import ConfigError
from thisineq.io import atomic_open, sha256_file, write_json
from thisineq.pipeline import schedule
from thisineq.pipeline.config import PipelineConfig
from thisineq.pipeline.steps import STEPS, Step
from thisineq.pipeline.workspace import Workspace


def fingerprint(settings: dict, inputs: Iterable[Path]) -> str:
    """sha256 of a step's settings (as sorted JSON) and of each input's name and content."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for path in inputs:
        digest.update(path.name.encode())
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()


class Pipeline:
    """One run of the pipeline over one config: what each step is handed (`config`, `paths`, `log`, `progress`)."""

    def __init__(self, config: PipelineConfig, *, progress: bool = True, log: Callable[[str], None] = print):
        self.config, self.progress, self.log = config, progress, log
        self.paths = Workspace(config)

    def steps(self) -> list[Step]:
        """The steps of this config's run, in order."""
        return [step for step in STEPS if step.wanted(self.config)]

    def fingerprint(self, step: Step) -> str:
        return fingerprint(step.settings(self.config), step.inputs(self.paths))

    def is_current(self, step: Step) -> bool:
        """Whether `step` finished with today's settings and inputs, and its outputs are still there."""
        if not all(path.exists() for path in step.outputs(self.paths)):
            return False
        if not all(path.exists() for path in step.inputs(self.paths)):  # a step before it has yet to write them
            return False
        return self._state().get(step.name) == self.fingerprint(step)

    def run(self, only: list[str] | None = None, lanes: int = 1) -> None:
        """Run every stale step in order (or just the named ones); with `lanes` > 1, independent steps side by side."""
        steps = self.steps()
        unknown = [name for name in only or [] if name not in {step.name for step in steps}]
        if unknown:
            raise ConfigError(f"no pipeline step named {', '.join(unknown)}; the steps: {', '.join(s.name for s in steps)}")
        if lanes < 1:
            raise ConfigError(f"lanes must be 1 or more, got {lanes}")
        self._check_own_inputs()
        chosen = [step for step in steps if not only or step.name in only]
        if lanes == 1:
            for step in chosen:
                self._run_step(step)
            return
        config_file = self.paths.work / "logs" / "pipeline_config.json"  # what each step's process reads
        config_file.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(config_file, "w", encoding="utf-8") as handle:
            handle.write(schedule.config_json(self.config))
        logs = config_file.parent
        by_name = {step.name: step for step in steps}
        schedule.run_in_lanes(
            [step.name for step in chosen],
            schedule.dependencies(steps, self.paths),
            schedule.lanes_of(lanes),
            schedule.step_process(self, config_file),
            log=self.log,
            failure_hint=lambda failed: "see " + ", ".join(str(logs / f"{name}.log") for name in failed),
            is_current=lambda name: self.is_current(by_name[name]),
        )

    def _check_own_inputs(self) -> None:
        """Bringing your own: the dataset and generator must be in the set already; say how to put them there."""
        if not self.config.bring_your_own:
            return
        out, missing = Path(self.config.out), []
        if not (self.paths.artifacts.dataset / "dataset.json").is_file():
            missing.append(f"a dataset (`thisineq data ingest … --out {out / 'city' / 'dataset'}`)")
        if not self.paths.generator.is_file():
            missing.append(f"a generator (`thisineq import SNAPSHOT --out {out / 'gan'}`)")
        if missing:
            raise ConfigError(f"bring_your_own builds from what is in {out}, which lacks {' and '.join(missing)}")

    def _run_step(self, step: Step) -> None:
        if self.is_current(step):
            self.log(f"[{step.name}] current, skipped")
            return
        self.log(f"[{step.name}] running")
        started = time.time()
        carried = step.run(self)  # a step that took its work from an earlier sitting gives that work's (start, end)
        span = (started, time.time()) if carried is None else carried
        seconds = span[1] - span[0]
        self.log(f"[{step.name}] done in {seconds:.0f} s")
        with self._records_locked():  # steps in other lanes may finish at the same moment
            write_json(self.paths.state, self._state() | {step.name: self.fingerprint(step)})
            if step.name != "headline":  # the headline reports the others' times: its own would change its input
                times, spans = self.paths.artifacts.pipeline_times, self.paths.artifacts.pipeline_spans
                write_json(times, _read(times) | {step.name: round(seconds, 1)})
                write_json(spans, _read(spans) | {step.name: [round(span[0], 1), round(span[1], 1)]})

    @contextlib.contextmanager
    def _records_locked(self):
        """Hold the lock on `pipeline.json` and `pipeline_times.json` while one step updates them."""
        self.paths.work.mkdir(parents=True, exist_ok=True)
        self.paths.state.parent.mkdir(parents=True, exist_ok=True)
        with open(self.paths.work / ".pipeline.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _state(self) -> dict:
        """Each step's fingerprint when it last finished."""
        return _read(self.paths.state)


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def run_pipeline(config: PipelineConfig, only: list[str] | None = None, *, progress: bool = True, lanes: int = 1) -> Path:
    """Run the stale steps of `config`'s pipeline (or just the named ones), in `lanes` side by side; returns the
    artifact set's folder."""
    Pipeline(config, progress=progress).run(only, lanes)
    return Path(config.out)
