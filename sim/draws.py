"""Random draws taken from a generator in blocks.

A national run makes ~10^5 single draws a year (breakdown times, match checks); a numpy
call per draw costs more than the draw itself, so draws are taken 65,536 at a time and
handed out one by one. The sequence is still fully determined by the generator's seed.
"""

from __future__ import annotations

import numpy as np

BLOCK = 65_536


class BufferedDraws:
    """Standard exponential and uniform draws from one generator, one block at a time."""

    def __init__(self, rng: np.random.Generator, block: int = BLOCK) -> None:
        self.rng = rng
        self.block = block
        self._exp: list[float] = []
        self._uni: list[float] = []

    def exponential(self) -> float:
        """An Exp(1) draw: divide by a rate (or multiply by a mean) to scale it."""
        if not self._exp:
            self._exp = self.rng.standard_exponential(self.block).tolist()
        return self._exp.pop()

    def uniform(self) -> float:
        """A U[0, 1) draw."""
        if not self._uni:
            self._uni = self.rng.random(self.block).tolist()
        return self._uni.pop()
