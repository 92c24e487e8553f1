"""Running the pipeline in lanes: who waits for whom, at most one step a lane, and a failure that stops new starts."""

from __future__ import annotations

import json

import pytest

from thisineq.errors import ConfigError, StepError
from thisineq.metrics import lpips
from thisineq.pipeline import STEPS, Pipeline, PipelineConfig
from thisineq.pipeline.schedule import Lane, dependencies, lanes_of, run_in_lanes


class FakeProcess:
    """A step's process on a fake clock: done `ticks` polls after it starts, with `returncode`."""

    def __init__(self, ticks: int, returncode: int = 0):
        self.ticks, self.code, self.returncode = ticks, returncode, None

    def poll(self):
        self.ticks -= 1
        if self.ticks < 0:
            self.returncode = self.code
        return self.returncode


def fake_run(order, needs, n_lanes, ticks, fails=(), events=None):
    """Run fake steps; returns the finishing order and each step's [start tick, finish tick, lane] (in `events`)."""
    clock, events = {"now": 0}, {} if events is None else events

    def start(name, lane):
        events[name] = [clock["now"], None, lane.index]
        return FakeProcess(ticks[name], returncode=1 if name in fails else 0)

    def log(message):
        name = message[1 : message.index("]")]
        if " done " in message or " failed " in message:
            events[name][1] = clock["now"]

    def tick(_seconds):
        clock["now"] += 1

    lanes = [Lane(i, (i,)) for i in range(n_lanes)]
    return run_in_lanes(order, needs, lanes, start, log=log, poll_seconds=0, wait=tick), events


def test_a_step_starts_once_what_it_needs_is_done_and_lanes_run_side_by_side():
    order = ["gan", "oracle", "e4e", "restyle", "boundaries", "headline"]
    needs = {"e4e": {"gan"}, "restyle": {"gan"}, "boundaries": {"e4e", "restyle"}, "headline": set(order) - {"headline"}}
    ticks = {"gan": 10, "oracle": 4, "e4e": 5, "restyle": 3, "boundaries": 2, "headline": 1}
    finished, events = fake_run(order, needs, 2, ticks)
    assert sorted(finished) == sorted(order)
    for name, wanted in needs.items():
        assert all(events[name][0] >= events[other][1] for other in wanted), name
    assert events["oracle"][0] == events["gan"][0] == 0 and events["oracle"][2] != events["gan"][2]  # side by side
    assert events["e4e"][0] == events["restyle"][0]  # both encoders as soon as the GAN is done
    busy = [(start, end, lane) for start, end, lane in events.values()]
    for lane in (0, 1):  # never two steps at once in one lane
        spans = sorted((s, e) for s, e, k in busy if k == lane)
        assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:], strict=False))
    # One lane is the plain order.
    finished, _ = fake_run(order, needs, 1, ticks)
    assert finished == order


def test_current_steps_are_skipped_once_what_they_need_is_done_and_asked_once():
    asked = []

    def current(name):
        asked.append(name)
        return name == "b"

    events = {}
    clock = {"now": 0}

    def start(name, lane):
        events[name] = clock["now"]
        return FakeProcess(3)

    def tick(_seconds):
        clock["now"] += 1

    messages = []
    finished = run_in_lanes(
        ["a", "b", "c", "d"],
        {"b": {"a"}, "c": {"b"}, "d": {"a"}},
        [Lane(0, (0,))],
        start,
        log=messages.append,
        poll_seconds=0,
        wait=tick,
        is_current=current,
    )
    assert sorted(finished) == ["a", "c", "d"] and "[b] current, skipped" in messages
    assert asked.count("c") == 1 and asked.count("d") == 1  # waiting for the one lane, they are not asked again
    assert asked.index("b") > asked.index("a")  # b is asked only once a is done


def test_after_a_failure_no_new_step_starts_and_the_running_ones_finish():
    order = ["a", "b", "c", "d"]
    needs = {"c": {"a"}, "d": {"c"}}
    events = {}
    with pytest.raises(StepError, match=r"pipeline steps failed: a;"):
        fake_run(order, needs, 2, {"a": 1, "b": 5, "c": 1, "d": 1}, fails={"a"}, events=events)
    assert set(events) == {"a", "b"}  # c and d never started
    assert events["b"][1] is not None and events["b"][1] > events["a"][1]  # b ran to its end after a failed


def test_steps_wait_for_the_steps_that_write_what_they_read():
    pipeline = Pipeline(PipelineConfig(out="out", work="work"), progress=False)
    steps = pipeline.steps()
    needs = dependencies(steps, pipeline.paths)
    position = {step.name: k for k, step in enumerate(steps)}
    for name, wanted in needs.items():  # STEPS' order is one that respects every dependency
        assert all(position[other] < position[name] for other in wanted), name
    assert needs["gan"] == {"city"} and needs["oracle"] == {"city"}  # the GAN and the oracles can learn side by side
    assert needs["encoder_e4e"] == needs["encoder_restyle"] == {"gan"}
    assert {"invert_city_e4e", "invert_city_restyle", "invert_city_projector"} <= needs[
        "boundaries"
    ]  # latents beside inversion.json
    assert "city" in needs["crowd"]  # the ground truth, in the folder above the dataset
    assert "predict" in needs["perception"] and {"encoder_e4e", "gan"} <= needs["comparison"]  # declared in `after`
    assert needs["headline"] == {step.name for step in steps} - {"headline"}
    assert "oracle" not in needs["gan"] and "gan_quality" not in needs["boundaries"]


def test_lanes_share_the_cores():
    assert lanes_of(2, [0, 1]) == [Lane(0, (0,)), Lane(1, (1,))]
    assert lanes_of(1, [0, 1]) == [Lane(0, (0, 1))]
    assert [lane.cores for lane in lanes_of(3, [4, 5])] == [(4,), (5,), (4,)]
    assert lanes_of(2, [0, 1, 2, 3])[1].threads == 2
    with pytest.raises(ValueError, match="1 or more"):
        lanes_of(0)


@pytest.mark.slow
def test_a_tiny_pipeline_in_two_lanes_builds_what_one_lane_does(tmp_path):
    if not (lpips.weights_path("alex").is_file() and lpips.weights_path("vgg").is_file()):
        pytest.skip("LPIPS weights not converted yet: run `python -m thisineq.metrics.lpips` (make test does)")
    config = PipelineConfig.tiny(out=str(tmp_path / "out"), work=str(tmp_path / "work"))
    messages = []
    Pipeline(config, progress=False, log=messages.append).run(lanes=2)
    started = [m for m in messages if m.endswith(")") and " running (lane " in m]
    assert {m[1 : m.index("]")] for m in started} == {step.name for step in STEPS}
    assert {m.split("lane ")[1][0] for m in started} == {"0", "1"}
    # Every step recorded, and a plain rerun finds all of them current.
    recorded = json.loads((tmp_path / "out" / "pipeline.json").read_text(encoding="utf-8"))
    assert set(recorded) == {step.name for step in STEPS}
    times = json.loads((tmp_path / "out" / "pipeline_times.json").read_text(encoding="utf-8"))
    assert set(times) == {step.name for step in STEPS} - {"headline"}
    spans = json.loads((tmp_path / "out" / "pipeline_spans.json").read_text(encoding="utf-8"))
    assert set(spans) == set(times)
    ordered = sorted(spans.values())
    assert any(later[0] < earlier[1] for earlier, later in zip(ordered, ordered[1:], strict=False))  # side by side
    rerun = []
    Pipeline(config, progress=False, log=rerun.append).run()
    assert rerun == [f"[{step.name}] current, skipped" for step in STEPS]
    assert (tmp_path / "work" / "logs" / "gan.log").is_file()
    with pytest.raises(ConfigError, match="lanes must be 1 or more"):
        Pipeline(config, progress=False).run(lanes=0)
