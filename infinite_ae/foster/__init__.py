"""FOSTER-style first-order distillation for text-based sequential recommendation,
reconstructed from the abstract.

Only the abstract of FOSTER is public; it names three components, and everything
here beyond them is a reconstruction:

* `subset`: stochastic item-subset sampling (each step encodes and ranks only the
  items of a sampled subset; the full computation when it is the catalogue);
* `step`: first-order optimisation with trajectory-anchored parameter reset (a
  penalty objective over two model copies, reset to expert checkpoints; no
  unrolled or second-order gradients; `step.unrolled_step` is the second-order
  variant, for the efficiency comparison only);
* `objective`: the subset losses and the semantic co-occurrence regulariser from
  frozen text similarity;
* `synthetic`: synthetic sequences as per-position item logits, discretised to
  real item ids unique within a sequence.
"""

from infinite_ae.foster import objective, step, subset, synthetic

__all__ = ["objective", "step", "subset", "synthetic"]
