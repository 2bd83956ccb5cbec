"""Memory-budgeted tiles: how many rows of users fit a byte budget.

Nothing in the library materialises a [U, I] or [U, U] array for all users: the unit
of work is a tile of B users whose rows are densified from the sparse matrices,
processed and dropped. B is chosen from a byte budget (`plan_tiles`) and a per-row
memory model, not by hand, so memory stays linear in the number of users.

Memory model of one evaluation tile (float32, `evaluation_row_bytes`), per user row:
the dense query rows (also the seen-item mask), the scores, the masked copy and the
top-k work space (4 × 4·I bytes on the device), the held-out rows (1·I, bool), the
host-side dense copies of the query and held-out rows (5·I), and the kernel row
K(x, X_S) with its elementwise intermediates (≈ 6 × 4·S). At Netflix shape
(I = 17,770, S = 500) that is ≈ 0.40 MB per user: a 1 GiB budget gives 2,476 users
per tile. A replicated ∞-AE support costs `support_bytes` (X_S, α and K_SS) once.
`distill_row_bytes` and `distill_fixed_bytes` model one Distill-CF step the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

DEFAULT_BUDGET_BYTES = 1 << 30
"""Default device+host budget for the per-tile intermediates (1 GiB)."""

_FLOAT_BYTES = 4


@dataclasses.dataclass(frozen=True)
class TilePlan:
    """How many rows per tile, derived from a byte budget.

    Attributes:
      num_rows: rows to cover.
      tile_size: rows per tile (a multiple of ``multiple_of``).
      num_tiles: ceil(num_rows / tile_size).
      row_bytes: estimated bytes per row of a tile.
      fixed_bytes: bytes that do not depend on the tile size (e.g. the support).
      budget_bytes: the budget the plan was made for.
    """

    num_rows: int
    tile_size: int
    num_tiles: int
    row_bytes: int
    fixed_bytes: int
    budget_bytes: int

    @property
    def padded_rows(self) -> int:
        """num_tiles · tile_size."""
        return self.num_tiles * self.tile_size

    @property
    def peak_bytes(self) -> int:
        """Estimated peak: fixed_bytes + tile_size · row_bytes."""
        return self.fixed_bytes + self.tile_size * self.row_bytes

    def slices(self) -> Iterator[tuple[int, int]]:
        """(start, stop) of each tile; the last one may be short."""
        for start in range(0, self.num_rows, self.tile_size):
            yield start, min(start + self.tile_size, self.num_rows)


def plan_tiles(
    num_rows: int,
    row_bytes: int,
    budget_bytes: int,
    *,
    fixed_bytes: int = 0,
    multiple_of: int = 1,
    max_tile: int | None = None,
) -> TilePlan:
    """The largest tile that fits ``budget_bytes``, balanced over the rows.

    ``tile = (budget − fixed) // row_bytes`` rounded down to ``multiple_of``, capped at
    ``max_tile`` and at ``num_rows`` (rounded up to ``multiple_of``); then shrunk to
    ``ceil(num_rows / num_tiles)`` (rounded up to ``multiple_of``) so the tiles are
    equally full and the last one wastes little padding.

    Args:
      num_rows: rows to cover (users).
      row_bytes: bytes per row of a tile (e.g. `evaluation_row_bytes`).
      budget_bytes: total bytes the tiles may use, including ``fixed_bytes``.
      fixed_bytes: bytes independent of the tile (e.g. `support_bytes`).
      multiple_of: tile sizes are multiples of this (the device count).
      max_tile: upper bound on the tile size.

    Returns:
      A `TilePlan`.

    Raises:
      ValueError: if not even ``multiple_of`` rows fit the budget (the message
        gives the minimum budget).

    >>> plan = plan_tiles(10_000, 1_000, 3_000_000)
    >>> plan.tile_size, plan.num_tiles
    (2500, 4)
    """
    if num_rows < 1 or row_bytes < 1 or multiple_of < 1:
        raise ValueError(
            f"need positive num_rows, row_bytes, multiple_of; got {num_rows}, "
            f"{row_bytes}, {multiple_of}"
        )

    def ceil_div(a: int, b: int) -> int:
        return -(-a // b)

    available = int(budget_bytes) - int(fixed_bytes)
    tile = available // int(row_bytes) // multiple_of * multiple_of
    if tile < multiple_of:
        need = fixed_bytes + multiple_of * row_bytes
        raise ValueError(
            f"budget {budget_bytes / 2**20:.1f} MiB is too small: "
            f"{fixed_bytes / 2**20:.1f} MiB fixed + {row_bytes / 2**10:.1f} KiB "
            "per row needs at least "
            f"{need / 2**20:.1f} MiB for {multiple_of} row(s)"
        )
    cap = ceil_div(num_rows, multiple_of) * multiple_of
    if max_tile is not None:
        cap = min(cap, max(multiple_of, max_tile // multiple_of * multiple_of))
    tile = min(tile, cap)
    num_tiles = ceil_div(num_rows, tile)
    tile = ceil_div(ceil_div(num_rows, num_tiles), multiple_of) * multiple_of
    return TilePlan(
        num_rows=int(num_rows),
        tile_size=int(tile),
        num_tiles=ceil_div(num_rows, tile),
        row_bytes=int(row_bytes),
        fixed_bytes=int(fixed_bytes),
        budget_bytes=int(budget_bytes),
    )


def evaluation_row_bytes(num_items: int, num_support: int) -> int:
    """Estimated bytes per user of one evaluation tile (module docstring).

    >>> evaluation_row_bytes(17_770, 500) // 1000
    402
    """
    device = 4 * _FLOAT_BYTES * num_items + num_items  # query, scores, masked, top-k
    host = (_FLOAT_BYTES + 1) * num_items  # dense query + held-out rows
    kernel = 6 * _FLOAT_BYTES * num_support
    return int(device + host + kernel)


def support_bytes(num_support: int, num_items: int) -> int:
    """Bytes of the replicated support: X_S and α [S, I], K_SS and its factor [S, S].

    >>> support_bytes(500, 17_770)
    73080000
    """
    return int(_FLOAT_BYTES * (2 * num_support * num_items + 2 * num_support**2))


def distill_row_bytes(num_items: int, num_support: int) -> int:
    """Estimated bytes per real user of one Distill-CF step (forward + backward).

    Per user: the dense target row on host and device, the predictions, their
    log-softmax and the cotangents of both (≈ 6 × 4·I), and the kernel row with its
    recurrence intermediates kept for the backward pass (≈ 12 × 4·S).

    >>> distill_row_bytes(17_770, 500) // 1000
    521
    """
    return int(
        6 * _FLOAT_BYTES * num_items
        + _FLOAT_BYTES * num_items
        + 12 * _FLOAT_BYTES * num_support
    )


def distill_fixed_bytes(num_support: int, num_items: int) -> int:
    """Bytes of a Distill-CF step independent of the batch: logits, Adam moments,
    the sampled support and its gradient, α and its cotangent, K_SS work (≈ 10 [S, I]
    + 4 [S, S] float32)."""
    return int(_FLOAT_BYTES * (10 * num_support * num_items + 4 * num_support**2))
