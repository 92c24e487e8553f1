"""The inversion methods, each described once: what it runs, whether it optimises, and whose boundaries it walks."""

from __future__ import annotations

from dataclasses import dataclass

from thisineq.errors import ConfigError


@dataclass(frozen=True)
class Method:
    """One way of turning a photo into a latent."""

    name: str  # the key used in files, URLs and the CLI
    label: str  # how the app names it
    encoder: str | None  # the trained encoder it runs ("e4e", "restyle"), or None
    optimises: bool  # runs the projector: slow, needs a perceptual distance, reports progress
    walks: str  # the method whose boundaries its latents are walked along
    summary: str

    @property
    def bounded(self) -> bool:
        """Whether boundaries are fitted on this method's own latents (the paper's three methods)."""
        return self.walks == self.name


_ALL = (
    Method("e4e", "e4e", "e4e", False, "e4e", "an encoder for editing: one pass, instant"),
    Method("restyle", "ReStyle", "restyle", False, "restyle", "an encoder that refines its answer over a few passes"),
    Method("projector", "projector", None, True, "projector", "StyleGAN2-ADA's optimisation in W: slow, the closest fit"),
    # The hybrid refines e4e's codes, so its latents live where e4e's boundaries were fitted.
    Method("hybrid", "hybrid (e4e + projector)", "e4e", True, "e4e", "the e4e code refined by a short projector run in W+"),
)
METHODS: dict[str, Method] = {m.name: m for m in _ALL}
NAMES: tuple[str, ...] = tuple(METHODS)  # the order every table and page lists them in
BOUNDED: tuple[str, ...] = tuple(m.name for m in _ALL if m.bounded)  # the paper's three
ENCODERS: tuple[str, ...] = tuple(dict.fromkeys(m.encoder for m in _ALL if m.encoder))  # the encoders to train


def method(name: str) -> Method:
    """The method called `name`; an unknown name is an error that lists the known ones."""
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"no inversion method {name!r}; the methods: {', '.join(NAMES)}") from None
