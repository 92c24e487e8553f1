"""One command that rebuilds an artifact set from nothing: city → GAN → encoders → inversions → boundaries → known answer.

Every step (declared in `steps.STEPS`) records a fingerprint of its settings and of the files it
read in `pipeline.json`; a step whose outputs exist with the same fingerprint is skipped, so a rerun
after an interruption (or after changing one step's settings) redoes only what is stale. Long steps
resume by themselves.
"""

from thisineq.pipeline.config import HELD_OUT, PipelineConfig
from thisineq.pipeline.runner import Pipeline, fingerprint, run_pipeline
from thisineq.pipeline.steps import STEPS, Step, rebuild_commands
from thisineq.pipeline.workspace import Workspace

__all__ = [
    "HELD_OUT",
    "STEPS",
    "Pipeline",
    "PipelineConfig",
    "Step",
    "Workspace",
    "fingerprint",
    "rebuild_commands",
    "run_pipeline",
]
