"""The perception ranker trained end to end on pixels: Dubey et al.'s (2016) Siamese CNN, sized for a CPU.

Frozen ImageNet features keep little of the marks a crowd judges safety by (graffiti half a pixel
wide at 64 px, litter a few pixels across); a network that learns its own filters from the votes can
look for them. One small CNN scores every study question at once (a head per question over a
shared trunk), so each question's votes teach the others' features too.

Training is batched by photo, not by vote. Each step reads a batch of photos once and applies every
vote they took part in, with Davidson's tie model (as `FeatureBradleyTerry`); the opponent's score
comes from a table of every photo's latest score, at most one pass old and refreshed after each
pass. A pass then costs one forward and backward per photo rather than two per vote: on the
synthetic city, about four votes per photo and question over three questions, that is 13 times
fewer images.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from torch import nn
from tqdm.auto import tqdm

from thisineq.data.votes import outcome_codes
from thisineq.errors import ConfigError
from thisineq.images import from_uint8
from thisineq.perception.ranker import davidson_log_likelihood

PASSES = 10  # over the photos: more overfit (on the synthetic city, 16 scored no better and 32 worse)
WIDTH = 24  # channels of the first convolutions


def _stage(in_channels: int, out_channels: int) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for channels in (in_channels, out_channels):
        layers += [nn.Conv2d(channels, out_channels, 3, padding=1), nn.BatchNorm2d(out_channels), nn.ReLU()]
    return layers


class PixelScorer(nn.Module):
    """Images in [-1, 1] (B, 3, H, W) → one score per question (B, n_questions).

    Four stages of two 3×3 convolutions (width w, 2w, 4w, 4w; halving the resolution between them),
    pooled by both mean and maximum: a small mark counts by its strongest response instead of being
    averaged away over the frame. Images of another size are resized to `input_size` first.
    """

    def __init__(self, n_questions: int, width: int = WIDTH, input_size: int = 64):
        super().__init__()
        self.input_size = input_size
        widths = (width, 2 * width, 4 * width, 4 * width)
        layers, channels = [], 3
        for index, out_channels in enumerate(widths):
            layers += ([nn.MaxPool2d(2)] if index else []) + _stage(channels, out_channels)
            channels = out_channels
        self.trunk = nn.Sequential(*layers)
        self.heads = nn.Linear(2 * channels, n_questions)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-2:] != (self.input_size, self.input_size):
            images = F.interpolate(images, size=(self.input_size,) * 2, mode="bilinear", antialias=True)
        maps = self.trunk(images)
        return self.heads(torch.cat([maps.mean((2, 3)), maps.amax((2, 3))], 1))


class PixelRanker(BaseEstimator):
    """fit(images, left, right, winner, question); decision_function(images) → scores (n, n_questions).

    images: uint8 (n, H, W, 3), e.g. a dataset's image cache; left/right: row indices into `images`;
    question: each vote's question as 0…Q−1 (None: all one question). Images larger than `max_size` are
    read at that size (the cost grows with the square of the side: 64 px is the synthetic city's).
    """

    def __init__(
        self,
        width: int = WIDTH,
        epochs: int = PASSES,
        batch: int = 64,
        lr: float = 2e-3,
        weight_decay: float = 1e-4,
        max_size: int = 128,
        seed: int = 0,
    ):
        self.width, self.epochs, self.batch, self.lr = width, epochs, batch, lr
        self.weight_decay, self.max_size, self.seed = weight_decay, max_size, seed

    def fit(self, images, left, right, winner, question=None, *, progress: bool = False) -> PixelRanker:
        images = _uint8_images(images)
        left, right, outcome = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64), outcome_codes(winner)
        question = np.zeros(len(outcome), np.int64) if question is None else np.asarray(question, dtype=np.int64)
        if not len(outcome):
            raise ConfigError("no votes to learn from")
        if not len(left) == len(right) == len(question) == len(outcome):
            raise ConfigError("left, right, winner and question must give one value per vote")
        if min(left.min(), right.min()) < 0 or max(left.max(), right.max()) >= len(images):
            raise ConfigError(f"votes name photos outside the {len(images)} images")
        if self.epochs < 1 or self.batch < 2 or self.width < 1 or self.max_size < 8:
            raise ConfigError("the pixel ranker needs at least 1 epoch, batches of 2, a width of 1 and images of 8 px")
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        n_questions = int(question.max()) + 1
        self.net_ = PixelScorer(n_questions, self.width, min(images.shape[1], self.max_size))
        self.log_tie_ = torch.zeros(n_questions, requires_grad=True)
        votes = _VotesByPhoto(left, right, outcome, question)
        voters = votes.photos
        per_pass = max(1, len(voters) // self.batch)  # the last partial batch waits for the next pass's shuffle
        optimiser = torch.optim.AdamW([*self.net_.parameters(), self.log_tie_], lr=self.lr, weight_decay=self.weight_decay)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimiser, max_lr=self.lr, total_steps=self.epochs * per_pass, pct_start=0.15
        )
        table = torch.zeros(len(images), n_questions)  # every photo's latest score: the opponents'
        for _ in tqdm(range(self.epochs), desc="pixel ranker", unit="pass", disable=not progress):
            self.net_.train()
            order = rng.permutation(voters)
            for step in range(per_pass):
                rows = order[step * self.batch : (step + 1) * self.batch]
                pixels = from_uint8(torch.from_numpy(images[rows]).permute(0, 3, 1, 2))
                flipped = torch.from_numpy(rng.random(len(rows)) < 0.5)  # a street mirrored looks no safer
                pixels = torch.where(flipped[:, None, None, None], pixels.flip(3), pixels)
                scores = self.net_(pixels)
                who, opponent, asked, sign = votes.of(rows)
                mine = scores[who, asked]
                log_likelihood = davidson_log_likelihood(mine - table[opponent, asked], self.log_tie_[asked], sign)
                loss = -log_likelihood.sum() / len(rows)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                schedule.step()
                table[torch.from_numpy(rows)] = scores.detach()
            table[torch.from_numpy(voters)] = torch.from_numpy(self.decision_function(images[voters]))
        self.net_.eval()
        self.n_questions_ = n_questions
        self.input_size_ = self.net_.input_size
        return self

    @torch.inference_mode()
    def decision_function(self, images, batch: int = 256) -> np.ndarray:
        """Scores (n, n_questions) of uint8 images (n, H, W, 3)."""
        images = _uint8_images(images)
        self.net_.eval()
        parts = [
            self.net_(from_uint8(torch.from_numpy(np.array(images[start : start + batch])).permute(0, 3, 1, 2)))
            for start in range(0, len(images), batch)
        ]
        return torch.cat(parts).numpy() if parts else np.zeros((0, self.net_.heads.out_features), np.float32)

    @torch.inference_mode()
    def score_tensor(self, images: torch.Tensor) -> np.ndarray:
        """Scores (B, n_questions) of images in [-1, 1] (B, 3, H, W): generated or edited ones too."""
        return self.net_.eval()(images.float()).numpy()


class _VotesByPhoto:
    """Every vote seen from each of its two photos: for a batch of photos, their votes' opponents, questions and
    outcomes (1 won, −1 lost, 0 tied) from their own side."""

    def __init__(self, left, right, outcome, question):
        me, opponent = np.concatenate([left, right]), np.concatenate([right, left])
        order = np.argsort(me, kind="stable")
        self.me, self.opponent = me[order], opponent[order]
        self.question = np.concatenate([question, question])[order]
        self.sign = np.concatenate([outcome, -outcome])[order]
        self.photos = np.unique(me)
        self.starts = np.searchsorted(self.me, np.arange(int(me.max()) + 2))

    def of(self, rows: np.ndarray):
        """(position of the photo in `rows`, opponent, question, outcome) of every vote of `rows`, as tensors."""
        counts = self.starts[rows + 1] - self.starts[rows]
        index = np.concatenate([np.arange(self.starts[r], self.starts[r + 1]) for r in rows])
        who = np.repeat(np.arange(len(rows)), counts)
        return (
            torch.from_numpy(who),
            torch.from_numpy(self.opponent[index]),
            torch.from_numpy(self.question[index]),
            torch.from_numpy(self.sign[index].astype(np.float32)),
        )


def _uint8_images(images) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ConfigError(f"the pixel ranker reads uint8 images (n, H, W, 3), got {images.dtype} {images.shape}")
    if images.shape[1] != images.shape[2]:
        raise ConfigError(f"the pixel ranker reads square images, got {images.shape[1]}×{images.shape[2]}")
    return images
