"""The server's queue of heavy jobs: one at a time, first come first served, stoppable, one per session, under a thread budget."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from thisineq.app.jobs import JobQueue, JobStopped, apply_thread_budget, thread_budget


def wait_until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def stepping(steps: int, gate: threading.Event | None = None, log: list | None = None):
    """Work that reports `steps` steps (waiting for `gate` before the first) and returns the threads torch ran on."""

    def work(report):
        if gate is not None:
            gate.wait(10)
        for step in range(1, steps + 1):
            if log is not None:
                log.append(step)
            if not report(step, steps):
                return None
            time.sleep(0.005)
        return torch.get_num_threads()

    return work


def test_jobs_run_one_at_a_time_in_the_order_they_came():
    queue = JobQueue(threads=1)
    gate, order = threading.Event(), []
    first = queue.submit("ann", "first", stepping(3, gate, order))
    second = queue.submit("bob", "second", lambda report: order.append("second") or "done")
    wait_until(lambda: first.started is not None)
    assert queue.ahead_of(first) == 0 and queue.ahead_of(second) == 1
    assert queue.busy_with_others("bob") == 1 and queue.busy_with_others("cat") == 2
    gate.set()
    assert second.future.result(10) == "done"
    assert order == [1, 2, 3, "second"] and first.result() == 1  # the first ran under the queue's thread budget
    assert first.step == first.total == 3


def test_a_session_has_one_job_at_a_time_and_can_stop_it():
    queue = JobQueue(threads=1)
    gate = threading.Event()
    job = queue.submit("ann", "long", stepping(10_000, gate))
    with pytest.raises(RuntimeError, match="already has a job"):
        queue.submit("ann", "another", stepping(1))
    assert queue.active("ann") is job and queue.active("bob") is None
    gate.set()
    wait_until(lambda: job.step > 5)
    queue.stop(job)
    with pytest.raises(JobStopped):
        job.future.result(10)
    assert job.step < 10_000 and job.done and queue.active("ann") is None
    queue.forget(job)
    assert queue.submit("ann", "next", stepping(2)).future.result(10) == 1


def test_a_waiting_job_that_is_stopped_never_starts():
    queue = JobQueue(threads=1)
    gate, ran = threading.Event(), []
    queue.submit("ann", "first", stepping(1, gate))
    waiting = queue.submit("bob", "second", lambda report: ran.append(1))
    queue.stop(waiting)
    gate.set()
    with pytest.raises(JobStopped):
        waiting.future.result(10)
    assert ran == []


def test_the_thread_budget_leaves_a_core_unless_told_otherwise(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    monkeypatch.delenv("THISINEQ_TORCH_THREADS", raising=False)
    assert thread_budget() == 1
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert thread_budget() == 15
    monkeypatch.setenv("THISINEQ_TORCH_THREADS", "3")
    assert thread_budget() == 3
    for bad in ("0", "two"):
        monkeypatch.setenv("THISINEQ_TORCH_THREADS", bad)
        with pytest.raises(ValueError, match="THISINEQ_TORCH_THREADS"):
            thread_budget()
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("THISINEQ_TORCH_THREADS", "1")
        assert apply_thread_budget() == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
