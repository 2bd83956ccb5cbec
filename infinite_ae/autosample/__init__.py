"""AutoSample-style negative-sampler search, reconstructed from the abstract.

Only the abstract of "Towards Automated Negative Sampling in Implicit
Recommendation" (arXiv 2311.03526) is public; everything here beyond its three
components (a loss-to-instance weighted sum over candidate samplers, an adaptive
search, and re-using the search's parameters to initialise the final training) is
a reconstruction:

* `mixture`: every training row draws one negative from each candidate sampler and
  the loss is the weighted sum of the per-sampler BPR losses, weights
  alpha = softmax(a / T) (in expectation, training with the mixture sampler).
* `unroll`: the weights follow a validation objective through a one-step
  unroll theta' = theta - xi sum_s alpha_s g_s; because the loss is linear in alpha
  the hypergradient is first order, dL_val(theta')/d alpha_s = -xi <grad L_val(theta'),
  g_s>.
* `selector`: annealed search (temperature T0 -> T_min), an EXP3 bandit alternative,
  selection by the weights averaged over the last part of the search, retraining with
  the chosen sampler warm-started from the search's parameters (or from scratch).
* `oracle`: the exhaustive search, every sampler trained alone.
* `sequential`: the same search for SASRec / GRU4Rec sampled losses.
"""

from infinite_ae.autosample import sequential
from infinite_ae.autosample.mixture import (
    draw_negatives,
    mixture_weights,
    sampler_losses,
)
from infinite_ae.autosample.oracle import exhaustive_search
from infinite_ae.autosample.selector import (
    AutoSampleResult,
    SearchResult,
    autosample,
    search,
    search_bandit,
    select_sampler,
)
from infinite_ae.autosample.unroll import (
    hypergradient,
    sampler_gradients,
    validation_loss,
)

__all__ = [
    "AutoSampleResult",
    "SearchResult",
    "autosample",
    "draw_negatives",
    "exhaustive_search",
    "hypergradient",
    "mixture_weights",
    "sampler_gradients",
    "sampler_losses",
    "search",
    "search_bandit",
    "select_sampler",
    "sequential",
    "validation_loss",
]
