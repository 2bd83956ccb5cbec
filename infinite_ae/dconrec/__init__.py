"""DConRec: dataset condensation for recommendation by policy-gradient estimation.

Modules: `pool` (pseudo-positives, tail set, candidate pool), `estimator` (REINFORCE),
`projection` (exact and bisection budget projections), `condense` (outer step, lr
schedule, final selection), `export` (NPZ / RecBole .inter / CSV with provenance).
"""

from infinite_ae.dconrec import condense, estimator, export, pool, projection

__all__ = ["condense", "estimator", "export", "pool", "projection"]
