"""infinite_ae: kernel-regression data distillation for recommender systems in JAX."""

__version__ = "0.1.0"
