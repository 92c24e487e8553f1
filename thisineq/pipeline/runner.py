"""The runner: each stale step of `STEPS` in order, its fingerprint recorded in `pipeline.json` when it finishes."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from thisineq.errors import ConfigError
from thisineq.io import sha256_file, write_json
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
        recorded = self._state().get(step.name) == self.fingerprint(step)
        return recorded and all(path.exists() for path in step.outputs(self.paths))

    def run(self, only: list[str] | None = None) -> None:
        """Run every stale step in order (or just the named ones)."""
        steps = self.steps()
        unknown = [name for name in only or [] if name not in {step.name for step in steps}]
        if unknown:
            raise ConfigError(f"no pipeline step named {', '.join(unknown)}; the steps: {', '.join(s.name for s in steps)}")
        self._check_own_inputs()
        for step in steps:
            if not only or step.name in only:
                self._run_step(step)

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
        started = time.perf_counter()
        step.run(self)
        seconds = time.perf_counter() - started
        self.log(f"[{step.name}] done in {seconds:.0f} s")
        write_json(self.paths.state, self._state() | {step.name: self.fingerprint(step)})
        if step.name != "headline":  # the headline reports the others' times: its own would change its input
            write_json(
                self.paths.artifacts.pipeline_times, _read(self.paths.artifacts.pipeline_times) | {step.name: round(seconds, 1)}
            )

    def _state(self) -> dict:
        """Each step's fingerprint when it last finished."""
        return _read(self.paths.state)


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def run_pipeline(config: PipelineConfig, only: list[str] | None = None, *, progress: bool = True) -> Path:
    """Run the stale steps of `config`'s pipeline (or just the named ones); returns the artifact set's folder."""
    Pipeline(config, progress=progress).run(only)
    return Path(config.out)
