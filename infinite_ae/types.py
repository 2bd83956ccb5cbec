"""Array aliases, the dimension legend and small shared types.

Dimension legend used in every docstring:

  U  real users              I  items
  S  support (or synthetic) users (the ∞-AE memory / Distill-CF summary)
  B  a batch of users         Q  query users
  K  ranking cut-off          N  interactions (rows of a UIR table)
  L  sequence length          M  Monte Carlo samples / masks
"""

from __future__ import annotations

from typing import Any, TypeAlias

import jax
import numpy as np

Array: TypeAlias = jax.Array
ArrayLike: TypeAlias = jax.typing.ArrayLike
PRNGKey: TypeAlias = jax.Array
NDArray: TypeAlias = np.ndarray
PyTree: TypeAlias = Any

SPLITS = ("train", "val", "test")
