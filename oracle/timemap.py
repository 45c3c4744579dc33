"""Chain time <-> data time, for replaying historical data on a devnet.

A devnet lists markets in "chain time" (e.g. delivery 2026-12) while the vendored data
are from 2021-2025. The replay maps each chain timestamp to a data timestamp with an
affine map anchored at one pair of instants::

    data_time = data_anchor + (chain_time - chain_anchor) * speed

``speed = 1`` with an offset (``data_anchor - chain_anchor``) is a plain shift; ``speed > 1``
compresses time (one chain hour replays ``speed`` data hours). When the devnet was
started at the data period's own timestamp (``anvil --timestamp``) the map is the identity.
All methodology (profile hours, holidays, trailing windows) runs on data time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class TimeMap:
    chain_anchor: int = 0
    data_anchor: int = 0
    speed: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.speed) and self.speed > 0):
            raise ValueError(f"replay speed must be a positive number, got {self.speed!r}")

    @classmethod
    def identity(cls) -> TimeMap:
        return cls()

    @classmethod
    def from_offset(cls, offset_s: int) -> TimeMap:
        """``data_time = chain_time + offset_s`` (offset usually negative: data is older)."""
        return cls(chain_anchor=0, data_anchor=int(offset_s), speed=1.0)

    @property
    def is_identity(self) -> bool:
        return self.speed == 1.0 and self.chain_anchor == self.data_anchor

    def to_data(self, chain_time: int) -> int:
        """Data timestamp for a chain timestamp (floored to whole seconds)."""
        return int(self.data_anchor + math.floor((int(chain_time) - self.chain_anchor) * self.speed))

    def to_chain(self, data_time: int) -> int:
        """Chain timestamp for a data timestamp (ceiled, so to_data(to_chain(t)) >= t)."""
        return int(self.chain_anchor + math.ceil((int(data_time) - self.data_anchor) / self.speed))
