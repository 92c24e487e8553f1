"""Heavy work (an optimiser's inversion) off Streamlit's script thread, one job at a time for the whole server.

An optimiser run inside a page's script thread competes, thread for thread, with every other
session's script and with the browser on the same cores: measured on 2 cores, the 100-step hybrid
took 61 s in the app against 4.9 s as a library call. Here the server runs such jobs one at a time
on one worker thread, with torch's threads capped by the server's thread budget; a page only
submits a job and polls its progress, so it stays responsive, its Stop button works, and other
visitors' sliders keep a core. Plain Python, so it is tested without Streamlit.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import torch

THREADS_VARIABLE = "THISINEQ_TORCH_THREADS"
KEEP_SECONDS = 600.0  # a finished job nobody collected (its session closed) is forgotten after this long

# A job's work: called with a `report(step, total) -> bool` callback (False: stop now), returns its result.
Work = Callable[[Callable[[int, int], bool]], object]


class JobStopped(Exception):
    """The job's owner pressed Stop: its partial result is discarded."""


def thread_budget() -> int:
    """torch threads for the app's work: `THISINEQ_TORCH_THREADS`, else all cores but one (the browser's and the server's).

    Oversubscribed cores are what made in-app inversion slow: one core busy elsewhere turned a
    2-thread, 5-second inversion into 79 s, while 1 thread took 6.8 s.
    """
    configured = os.environ.get(THREADS_VARIABLE, "").strip()
    if configured:
        try:
            threads = int(configured)
        except ValueError:
            raise ValueError(f"{THREADS_VARIABLE} must be a whole number of threads, got {configured!r}") from None
        if threads < 1:
            raise ValueError(f"{THREADS_VARIABLE} must be at least 1, got {threads}")
        return threads
    return max(1, (os.cpu_count() or 1) - 1)


def apply_thread_budget() -> int:
    """Cap torch's threads in this process at the budget (idempotent); returns it."""
    threads = thread_budget()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


@dataclass
class Job:
    """One submitted piece of work, as its owner's page sees it."""

    id: int
    owner: str  # the session that submitted it
    label: str  # what it is, in words ("hybrid inversion, 100 steps")
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    step: int = 0
    total: int = 0
    finished: float | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    future: Future | None = None

    @property
    def done(self) -> bool:
        return self.future is not None and self.future.done()

    def seconds_left(self) -> float | None:
        """Time left at the pace so far, once a few steps have run."""
        if self.started is None or self.step < 3 or not self.total:
            return None
        elapsed = time.monotonic() - self.started
        return elapsed / self.step * (self.total - self.step)

    def result(self):
        """The work's result; raises JobStopped if it was stopped, or whatever the work raised."""
        return self.future.result()


class JobQueue:
    """Jobs run one at a time, first come first served, on one worker thread under the thread budget."""

    def __init__(self, threads: int | None = None):
        self.threads = threads or thread_budget()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="thisineq-job")
        self._jobs: list[Job] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def submit(self, owner: str, label: str, work: Work) -> Job:
        """Queue `work` for `owner`; refused while the owner has a job waiting or running (one heavy job per session)."""
        with self._lock:
            now = time.monotonic()
            self._jobs = [job for job in self._jobs if job.finished is None or now - job.finished < KEEP_SECONDS]
            if self.active(owner) is not None:
                raise RuntimeError("this session already has a job waiting or running: stop it or wait for it first")
            job = Job(next(self._ids), owner, label)
            job.future = self._executor.submit(self._run, job, work)
            self._jobs.append(job)
            return job

    def _run(self, job: Job, work: Work):
        job.started = time.monotonic()
        torch.set_num_threads(self.threads)  # per worker thread too: the cap is what keeps the cores shared

        def report(step: int, total: int) -> bool:
            job.step, job.total = step, total
            return not job.stop.is_set()

        try:
            if job.stop.is_set():
                raise JobStopped(job.label)
            result = work(report)
            if job.stop.is_set():
                raise JobStopped(job.label)
            return result
        finally:
            job.finished = time.monotonic()

    def active(self, owner: str) -> Job | None:
        """The owner's job that is waiting or running, if any."""
        return next((job for job in self._jobs if job.owner == owner and not job.done), None)

    def ahead_of(self, job: Job) -> int:
        """How many jobs will run before `job` starts (0 once it runs)."""
        if job.started is not None:
            return 0
        return sum(1 for other in self._jobs if other.id < job.id and not other.done)

    def busy_with_others(self, owner: str) -> int:
        """Jobs of other sessions waiting or running."""
        return sum(1 for job in self._jobs if job.owner != owner and not job.done)

    def stop(self, job: Job) -> None:
        """Ask a job to stop at its next step (a waiting job never starts)."""
        job.stop.set()

    def forget(self, job: Job) -> None:
        """Drop a finished job from the queue's records (its owner has taken its result)."""
        with self._lock:
            self._jobs = [other for other in self._jobs if other is not job]
