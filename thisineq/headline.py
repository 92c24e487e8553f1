"""The headline record's format: what an artifact set's `headline.json` holds.

`thisineq.pipeline.headline` writes it; the Overview page reads it (the app may not import the pipeline).

Schema (`SCHEMA`): {"schema", "set", "figures": [{"area", "figure", "value", "interval", "target", "met", "source"}]}
with `value` a number or null, `interval` its 95% interval [low, high] where the source gives one (resampled
by LSOA) or null, `target` a phrase or null, `met` true/false/null (no target). The verdict judges the value;
the interval says how far another draw of the same photos could move it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

SCHEMA = "thisineq-headline/2"


@dataclass(frozen=True)
class Figure:
    area: str  # GAN, inversion, Table 1, walks, out of distribution, known answer, image side, pipeline
    figure: str  # what was measured, in words
    value: float | None
    interval: list[float] | None  # [low, high], 95%, where the source has one
    target: str | None  # e.g. "≥ 0.7"
    met: bool | None  # None: no target
    source: str  # the artifact it was read from, relative to the set


FIGURE_KEYS = tuple(field.name for field in fields(Figure))


def check_headline(record: dict) -> list[str]:
    """What is wrong with a headline record ([] when it follows the schema)."""
    problems = [] if record.get("schema") == SCHEMA else [f"schema is {record.get('schema')!r}, not {SCHEMA!r}"]
    if not isinstance(record.get("set"), str):
        problems.append("set is not a name")
    figures = record.get("figures")
    if not isinstance(figures, list):
        return [*problems, "figures is not a list"]
    for k, entry in enumerate(figures):
        if not isinstance(entry, dict) or set(entry) != set(FIGURE_KEYS):
            problems.append(f"figure {k} does not have exactly {', '.join(FIGURE_KEYS)}")
            continue
        if not _number_or_null(entry["value"]):
            problems.append(f"figure {k} ({entry['figure']}): value is not a number or null")
        if entry["interval"] is not None and not _is_interval(entry["interval"]):
            problems.append(f"figure {k} ({entry['figure']}): interval is not null or [low, high] with low ≤ high")
        if entry["met"] not in (True, False, None) or (entry["target"] is None and entry["met"] is not None):
            problems.append(f"figure {k} ({entry['figure']}): met must be true, false or null with a target, null without")
    return problems


def _number_or_null(value) -> bool:
    return isinstance(value, (int, float, type(None))) and not isinstance(value, bool)


def _is_interval(value) -> bool:
    """[low, high]: two numbers, low ≤ high."""
    bounds = value if isinstance(value, list) and len(value) == 2 else [None, None]
    return all(b is not None and _number_or_null(b) for b in bounds) and bounds[0] <= bounds[1]
