"""Crowd votes in the Place Pulse 2.0 layout: left image, right image, winner (left, right or equal), study question.

Place Pulse's own files name the columns `left_id`, `right_id`, `winner` and `study_id` or
`category`; both spellings are read. An image is named by its photo id or its file name (with or
without the folder and extension). Every vote that cannot be used — an image not in the collection,
a winner that is not left/right/equal, an image against itself — is reported with its reason, never
dropped silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from thisineq.errors import ConfigError, ThisIneqError

VOTE_COLUMNS = ("left", "right", "winner", "question")
OUTCOMES = {"left": 1.0, "right": -1.0, "equal": 0.0}  # a vote's winner as the sign of left's score minus right's
WINNERS = tuple(OUTCOMES)
ALIASES = {"left_id": "left", "right_id": "right", "study_id": "question", "study_question": "question", "category": "question"}


class VotesError(ThisIneqError, ValueError):
    """A votes file this code cannot read."""


def outcome_codes(winner) -> np.ndarray:
    """left → 1, right → −1, equal → 0."""
    winner = np.asarray(winner)
    unknown = set(np.unique(winner)) - set(OUTCOMES)
    if unknown:
        raise ConfigError(f"winners must be left, right or equal, got {sorted(unknown)}")
    return np.array([OUTCOMES[w] for w in winner], dtype=np.float32)


def vote_agreement(scores: np.ndarray, left, right, winner) -> np.ndarray:
    """Each decisive vote (in order): 1 where its winner has the higher score, 0 where the lower, 0.5 on a tie.

    scores: one per photo; left, right: each vote's photos as positions in `scores`."""
    outcome = outcome_codes(winner)
    decisive = outcome != 0
    difference = np.sign(scores[np.asarray(left)[decisive]] - scores[np.asarray(right)[decisive]])
    return np.where(difference == 0, 0.5, difference == outcome[decisive])


def read_votes(path: str | os.PathLike) -> pd.DataFrame:
    """The votes of a CSV, columns renamed to `VOTE_COLUMNS` (strings), in file order."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise VotesError(f"{path} is not a readable CSV of votes: {error}") from None
    table = table.rename(columns={c: ALIASES.get(c.strip().lower(), c.strip().lower()) for c in table.columns})
    missing = [c for c in VOTE_COLUMNS if c not in table.columns]
    if missing:
        raise VotesError(
            f"{path} has no column {', '.join(missing)}: a votes file needs left, right, winner (left/right/equal) and "
            "question (or Place Pulse's left_id, right_id, winner, study_id)"
        )
    table = table[list(VOTE_COLUMNS)].apply(lambda column: column.str.strip())
    table["winner"] = table["winner"].str.lower()
    return table


def image_keys(photos: pd.DataFrame) -> dict[str, str]:
    """Every name a vote may use for a photo → its photo id: the id, the file name, and the file stem."""
    keys = {}
    for photo_id, image in zip(photos.index.astype(str), photos["image"].astype(str), strict=True):
        name = Path(image).name
        keys.update({image: photo_id, name: photo_id, Path(name).stem: photo_id})
    keys.update({photo_id: photo_id for photo_id in photos.index.astype(str)})  # an id wins over a file name
    return keys


def check_votes(votes: pd.DataFrame, photos: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(usable votes with photo ids, problems: the rest with a reason each), both keeping the file's row number."""
    keys = image_keys(photos)
    table = votes.assign(row=range(2, len(votes) + 2))  # the file's line number (after the header)

    def photo_of(name: str) -> str | None:  # as written, else by its file name (a vote may carry another folder)
        return keys.get(name) or keys.get(Path(name.replace("\\", "/")).name)

    table["left_photo"], table["right_photo"] = table["left"].map(photo_of), table["right"].map(photo_of)
    reason = pd.Series("", index=table.index)
    reason[~table["winner"].isin(WINNERS)] = "winner is not left, right or equal"
    reason[table["question"] == ""] = "no question"
    reason[table["left_photo"].isna()] = "left image is not in the collection"
    reason[table["right_photo"].isna()] = "right image is not in the collection"
    reason[table["left_photo"].isna() & table["right_photo"].isna()] = "neither image is in the collection"
    reason[(reason == "") & (table["left_photo"] == table["right_photo"])] = "an image against itself"
    usable = table[reason == ""].drop(columns=["left", "right"]).rename(columns={"left_photo": "left", "right_photo": "right"})
    problems = table[reason != ""][["row", "left", "right", "winner", "question"]].assign(problem=reason[reason != ""])
    return usable[["row", "left", "right", "winner", "question"]].reset_index(drop=True), problems.reset_index(drop=True)


def problems_summary(problems: pd.DataFrame, total: int) -> str:
    """One line: how many votes were left out, and why."""
    if problems.empty:
        return f"all {total:,} votes name photos in the collection"
    counts = problems["problem"].value_counts()
    return f"{len(problems):,} of {total:,} votes left out: " + "; ".join(f"{n:,} {why}" for why, n in counts.items())
