"""Typed job settings: a config becomes frozen dataclasses, checked before data loads.

`from_config(config)` turns the locked `ml_collections.ConfigDict` into a `Settings`
tree of frozen dataclasses. Every field is read once, here: its type is checked (a
`Literal` lists the valid choices), its range is checked (field metadata, e.g.
`POSITIVE`), and every error names the config field::

    config.dconrec.budget=-0.5: must be in (0, 1]

Jobs receive the dataclasses and never see a ConfigDict. The sections a method does
not use are not validated (a Distill-CF run does not check `config.dconrec`).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal

from infinite_ae import kernels

Check = tuple[Callable[[Any], bool], str]
"""A range check: (predicate on the value, what the value must be)."""


def _check(predicate: Callable[[Any], bool], text: str) -> dict[str, Check]:
    return {"check": (predicate, text)}


POSITIVE = _check(lambda v: v > 0, "must be > 0")
NON_NEGATIVE = _check(lambda v: v >= 0, "must be >= 0")
AT_LEAST_ONE = _check(lambda v: v >= 1, "must be >= 1")
FRACTION = _check(lambda v: 0 < v <= 1, "must be in (0, 1]")
UNIT_INTERVAL = _check(lambda v: 0 <= v <= 1, "must be in [0, 1]")
ALL_POSITIVE = _check(
    lambda v: len(v) > 0 and all(x > 0 for x in v),
    "must be a non-empty list of values > 0",
)
ALL_AT_LEAST_ONE = _check(
    lambda v: len(v) > 0 and all(x >= 1 for x in v),
    "must be a non-empty list of integers >= 1",
)


def _field(**metadata: Any) -> Any:
    return dataclasses.field(metadata=metadata)


class SettingsError(ValueError):
    """A config field has the wrong type or value (the message names the field)."""


def _fail(path: str, value: Any, text: str) -> SettingsError:
    return SettingsError(f"{path}={value!r}: {text}")


def _coerce(path: str, value: Any, hint: Any) -> Any:
    """``value`` converted to the annotated type, or a `SettingsError`."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Literal:
        if value not in args:
            raise _fail(path, value, f"valid: {', '.join(map(repr, args))}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        return _coerce(path, value, options[0])
    if dataclasses.is_dataclass(hint):
        return build(hint, value, path)
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise _fail(path, value, "must be a list")
        return tuple(_coerce(f"{path}[{i}]", v, args[0]) for i, v in enumerate(value))
    if origin is dict:
        if not (isinstance(value, Mapping) or hasattr(value, "items")):
            raise _fail(path, value, "must be a mapping")
        return {str(k): _coerce(f"{path}.{k}", v, args[1]) for k, v in value.items()}
    return _scalar(path, value, hint)


def _scalar(path: str, value: Any, hint: Any) -> Any:
    if hint is bool:
        if not isinstance(value, bool):
            raise _fail(path, value, "must be True or False")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, value, "must be an integer")
        return int(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(path, value, "must be a number")
        if not math.isfinite(value):
            raise _fail(path, value, "must be finite")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise _fail(path, value, "must be a string")
        return value
    raise TypeError(f"{path}: unsupported settings type {hint!r}")


T = typing.TypeVar("T")


def build(cls: type[T], section: Any, path: str) -> T:
    """A ``cls`` instance from a config section; every field checked and named.

    Args:
      cls: a frozen dataclass whose fields are annotated with supported types
        (bool, int, float, str, Literal, X | None, tuple[X, ...], dict[str, X], a
        nested settings dataclass) and may carry a `Check` in their metadata.
      section: a ConfigDict (or mapping) holding exactly those fields.
      path: the section's name in messages, e.g. "config.distill".

    Returns:
      The validated dataclass.

    Raises:
      SettingsError: a missing, unknown, mistyped or out-of-range field.
    """
    if not isinstance(section, Mapping) and not hasattr(section, "keys"):
        raise SettingsError(f"{path} must be a config section, got {section!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(section.keys()) - names)
    if unknown:
        raise SettingsError(f"{path}: unknown fields {unknown}; valid: {sorted(names)}")
    values = {}
    for f in dataclasses.fields(cls):
        where = f"{path}.{f.name}"
        if f.name not in section.keys():
            raise SettingsError(f"{where} is missing")
        value = _coerce(where, section[f.name], hints[f.name])
        check = f.metadata.get("check")
        if check is not None and value is not None and not check[0](value):
            raise _fail(where, section[f.name], check[1])
        values[f.name] = value
    return cls(**values)


# ---------------------------------------------------------------------------------
# Sections shared by every job.


@dataclasses.dataclass(frozen=True)
class SyntheticSettings:
    """`config.data.synthetic`: the built-in generator or a real dataset's shape."""

    num_users: int = _field(**AT_LEAST_ONE)
    num_items: int = _field(**AT_LEAST_ONE)
    mean_degree: float = _field(**POSITIVE)
    profile: Literal["", "netflix"] = _field()
    calibrate: bool = _field()


DataName = Literal[
    "synthetic",
    "movielens",
    "infinite_ae",
    "infinite_ae_ratings",
    "amazon_csv",
    "amazon_json",
    "recbole",
    "csv",
    "sequences_movielens",
    "sequences_amazon_json",
    "sequences_recbole",
    "markov",
]
SEQUENCE_DATA = (
    "sequences_movielens",
    "sequences_amazon_json",
    "sequences_recbole",
    "markov",
)
"""Data names that build `Sequences` (leave-one-out by time); other jobs use their
set view."""


@dataclasses.dataclass(frozen=True)
class DataSettings:
    """`config.data`: which dataset, and how it is filtered and split."""

    name: DataName = _field()
    path: str = _field()
    variant: Literal["ml-1m", "ml-100k"] = _field()
    prefer_original_split: bool = _field()
    rating_threshold: float | None = _field()
    dedup: Literal["first", "last", "none"] = _field()
    min_user_interactions: int = _field(**NON_NEGATIVE)
    k_core: int = _field(**NON_NEGATIVE)
    split: Literal["infinite_ae", "random", "temporal_loo"] = _field()
    synthetic: SyntheticSettings = _field()

    def __post_init__(self):
        needs_path = self.name not in ("synthetic", "movielens", "markov")
        if needs_path and not self.path:
            raise SettingsError(
                f"config.data.path='': config.data.name={self.name!r} reads a file; "
                "set config.data.path"
            )


@dataclasses.dataclass(frozen=True)
class KernelSettings:
    """`config.model.kernel`: the ∞-AE kernel."""

    kind: Literal["ntk", "nngp", "linear"] = _field()
    depth: int = _field(**AT_LEAST_ONE)
    w_std: float = _field(**POSITIVE)
    b_std: float = _field(**NON_NEGATIVE)

    def spec(self) -> kernels.KernelSpec:
        """The library's `kernels.KernelSpec`."""
        return kernels.KernelSpec(
            kind=self.kind, depth=self.depth, w_std=self.w_std, b_std=self.b_std
        )


@dataclasses.dataclass(frozen=True)
class ModelSettings:
    """`config.model`: the closed-form models and how their λ is chosen."""

    kernel: KernelSettings = _field()
    reg_grid: tuple[float, ...] = _field(**ALL_POSITIVE)
    absolute_reg: bool = _field()
    select_metric: str = _field()
    dtype: Literal["float32", "float64"] = _field()
    ease_reg_grid: tuple[float, ...] = _field(**ALL_POSITIVE)


@dataclasses.dataclass(frozen=True)
class EvalSettings:
    """`config.eval`: cut-offs, batches and AUC negatives of every evaluation."""

    ks: tuple[int, ...] = _field(**ALL_AT_LEAST_ONE)
    batch_size: int = _field(**AT_LEAST_ONE)
    budget_mb: int = _field(**NON_NEGATIVE)
    auc_negatives: int = _field(**NON_NEGATIVE)

    def batching(self) -> dict[str, int]:
        """`evaluation.evaluate` keywords: a byte budget, or the batch size."""
        if self.budget_mb:
            return {"budget_bytes": self.budget_mb << 20}
        return {"batch_size": self.batch_size}


def check_metric(path: str, name: str, ks: tuple[int, ...], names: tuple[str, ...]):
    """Raises unless ``name`` is "metric@k" with a known metric and a cut-off in ks."""
    metric, _, k = name.partition("@")
    if metric not in names or not k.isdigit() or int(k) not in ks:
        valid = [f"{m}@{c}" for m in names for c in ks]
        raise SettingsError(f"{path}={name!r}: valid: {', '.join(valid)}")


# ---------------------------------------------------------------------------------
# Distill-CF.


@dataclasses.dataclass(frozen=True)
class KernelOverride:
    """`config.distill.kernel`: fields that differ from `config.model.kernel`."""

    kind: Literal["ntk", "nngp", "linear"] | None = _field()
    depth: int | None = _field(**AT_LEAST_ONE)
    w_std: float | None = _field(**POSITIVE)
    b_std: float | None = _field(**NON_NEGATIVE)

    def apply(self, base: KernelSettings) -> KernelSettings:
        """``base`` with the set fields replaced."""
        changes = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        return dataclasses.replace(base, **changes)


@dataclasses.dataclass(frozen=True)
class BPRCompareSettings:
    """`config.distill.bpr`: BPR-MF / LightGCN in Distill-CF's comparison, trained
    on a summary's rows and scoring real users by fold-in (`adapters.foldin`); the
    models' own settings are `config.dconrec.eval_settings.<model>`."""

    rows: Literal["global_topk", "topk", "sample", "threshold"] = _field()
    patience: int = _field(**AT_LEAST_ONE)
    eval_every: int = _field(**AT_LEAST_ONE)
    foldin_reg: float = _field(**NON_NEGATIVE)
    foldin_reg_grid: tuple[float, ...] = _field(**ALL_POSITIVE)
    foldin_confidence: float = _field(**NON_NEGATIVE)
    foldin_absolute_reg: bool = _field()
    foldin_ego: Literal["ridge", "zero"] = _field()

    def foldin_options(self, model: str, reg: float | None = None) -> dict[str, Any]:
        """Keywords of `adapters.foldin.make_eval_embed` for ``model`` (λ: ``reg``,
        default `foldin_reg`)."""
        options = {
            "reg": self.foldin_reg if reg is None else reg,
            "confidence": self.foldin_confidence,
            "absolute_reg": self.foldin_absolute_reg,
        }
        if model == "lightgcn":
            options["ego"] = self.foldin_ego
        return options


@dataclasses.dataclass(frozen=True)
class DistillSettings:
    """`config.distill` (the fields are documented in configs/distill_section.py)."""

    num_users: int = _field(**AT_LEAST_ONE)
    init: Literal[
        "random_users", "head_users", "random_interactions", "random_noise"
    ] = _field()
    init_scale: float = _field(**POSITIVE)
    temperature: float = _field(**POSITIVE)
    num_samples: int = _field(**AT_LEAST_ONE)
    num_draws: int = _field(**NON_NEGATIVE)
    eval_num_draws: int = _field(**NON_NEGATIVE)
    cardinality_reg: float = _field(**NON_NEGATIVE)
    learning_rate: float = _field(**POSITIVE)
    lr_decay_steps: int = _field(**NON_NEGATIVE)
    lr_final_fraction: float = _field(**UNIT_INTERVAL)
    num_steps: int = _field(**AT_LEAST_ONE)
    batch_size: int = _field()
    eval_every: int = _field(**NON_NEGATIVE)
    eval_steps: tuple[int, ...] = _field()
    patience: int = _field(**AT_LEAST_ONE)
    reg_grid: tuple[float, ...] = _field(**ALL_POSITIVE)
    reg_schedule: Literal["reselect_on_validation", "fixed"] = _field()
    reg_select_metric: str = _field()
    reg: float = _field(**POSITIVE)
    include_init_candidate: bool = _field()
    kernel: KernelOverride = _field()
    eval_reg_grid: tuple[float, ...] = _field(**ALL_POSITIVE)
    prng_impl: Literal["threefry2x32", "rbg", "unsafe_rbg"] = _field()
    log_every: int = _field(**AT_LEAST_ONE)
    checkpoint_every: int = _field(**AT_LEAST_ONE)
    export_modes: tuple[Literal["sample", "topk", "threshold"], ...] = _field()
    export_primary: Literal["sample", "topk", "threshold"] = _field()
    topk_k: int = _field(**NON_NEGATIVE)
    threshold: float = _field(**UNIT_INTERVAL)
    baselines: tuple[
        Literal["random_users", "head_users", "random_interactions"], ...
    ] = _field()
    compare: tuple[
        Literal["infinite_ae", "ease", "multvae", "bprmf", "lightgcn"], ...
    ] = _field()
    bpr: BPRCompareSettings = _field()
    val_batch_size: int = _field(**NON_NEGATIVE)
    val_users: int = _field(**NON_NEGATIVE)

    def __post_init__(self):
        path = "config.distill"
        if self.batch_size == 0 or self.batch_size < -1:
            raise _fail(
                f"{path}.batch_size", self.batch_size, "must be >= 1 or -1 (all)"
            )
        if self.num_draws > self.num_samples:
            raise _fail(f"{path}.num_draws", self.num_draws, "must be <= num_samples")
        if self.export_primary not in self.export_modes:
            raise _fail(
                f"{path}.export_primary",
                self.export_primary,
                f"must be one of export_modes {self.export_modes}",
            )
        if any(s < 1 or s > self.num_steps for s in self.eval_steps):
            raise _fail(
                f"{path}.eval_steps", self.eval_steps, "must lie in [1, num_steps]"
            )


# ---------------------------------------------------------------------------------
# DConRec.


@dataclasses.dataclass(frozen=True)
class TrainerSettings:
    """`config.dconrec.eval_settings.<model>`: one gradient-trained model (also read
    by Distill-CF's comparison, `Settings.trainers`)."""

    learning_rate: float = _field(**POSITIVE)
    batch_size: int = _field(**AT_LEAST_ONE)
    max_epochs: int = _field(**AT_LEAST_ONE)
    embedding_dim: int = _field(**AT_LEAST_ONE)
    reg_weight: float = _field(**NON_NEGATIVE)
    num_layers: int = _field(**AT_LEAST_ONE)


TrainerName = Literal["bprmf", "lightgcn"]
SEQUENTIAL_MODELS = ("sasrec", "gru4rec")


def _sampler_names() -> tuple[str, ...]:
    from infinite_ae.trainers import negatives  # noqa: PLC0415

    return tuple(sorted(negatives.SAMPLERS))


SAMPLER_NAME = _check(
    lambda v: v in _sampler_names(),
    "must be a negative sampler: " + ", ".join(_sampler_names()),
)


@dataclasses.dataclass(frozen=True)
class DConRecSettings:
    """`config.dconrec` (the fields are documented in configs/dconrec_section.py)."""

    preset: Literal["clean", "official_code"] = _field()
    budget: float = _field(**FRACTION)
    budget_mode: Literal["strict", "official"] = _field()
    outer_steps: int = _field(**AT_LEAST_ONE)
    outer_lr_schedule: dict[str, float] = _field()
    num_masks: int = _field(**AT_LEAST_ONE)
    variance_reduction: bool = _field()
    common_random_numbers: bool = _field()
    projection: Literal["exact", "bisection"] = _field()
    condense_model: TrainerName = _field()
    inner_lr: float = _field(**POSITIVE)
    inner_batch_size: int = _field(**AT_LEAST_ONE)
    proxy_model: TrainerName = _field()
    use_pseudo: bool = _field()
    pseudo_ratio: float = _field(**NON_NEGATIVE)
    pseudo_min_per_user: int = _field(**NON_NEGATIVE)
    pseudo_share: float | None = _field(**UNIT_INTERVAL)
    original_init: Literal["uniform", "per_user"] = _field()
    tail_threshold: int = _field(**NON_NEGATIVE)
    final_mode: Literal["topk", "sample"] = _field()
    eval_models: tuple[TrainerName, ...] = _field()
    eval_settings: dict[str, TrainerSettings] = _field()
    reference_cache: str | None = _field()
    patience: int = _field(**AT_LEAST_ONE)
    test_mask: Literal["train", "train+val"] = _field()
    sampler: str = _field(**SAMPLER_NAME)
    log_every: int = _field(**AT_LEAST_ONE)
    checkpoint_every: int = _field(**AT_LEAST_ONE)

    def __post_init__(self):
        path = "config.dconrec"
        if not self.eval_models:
            raise _fail(f"{path}.eval_models", self.eval_models, "must not be empty")
        needed = {self.condense_model, self.proxy_model, *self.eval_models}
        missing = sorted(needed - set(self.eval_settings))
        if missing:
            raise _fail(
                f"{path}.eval_settings",
                sorted(self.eval_settings),
                f"needs settings for {missing}",
            )
        for step, rate in self.outer_lr_schedule.items():
            where = f"{path}.outer_lr_schedule"
            if not step.isdigit():
                raise _fail(where, step, "keys must be outer steps (non-negative ints)")
            if rate <= 0:
                raise _fail(f"{where}.{step}", rate, "must be > 0")
        if "0" not in self.outer_lr_schedule:
            raise _fail(
                f"{path}.outer_lr_schedule", self.outer_lr_schedule, "needs step 0"
            )


def _trainers(config: Any, names: tuple[str, ...]) -> dict[str, TrainerSettings]:
    """`config.dconrec.eval_settings.<name>` of each of ``names`` (fields named)."""
    section = config.dconrec.eval_settings
    path = "config.dconrec.eval_settings"
    missing = [name for name in names if name not in section.keys()]
    if missing:
        raise SettingsError(f"{path}: needs settings for {missing}")
    return {
        name: build(TrainerSettings, section[name], f"{path}.{name}") for name in names
    }


OFFICIAL_OVERRIDES = {
    "variance_reduction": False,
    "common_random_numbers": False,
    "budget_mode": "official",
    "final_mode": "sample",
    "inner_lr": 5e-4,
    "pseudo_share": None,
    "original_init": "uniform",
    "outer_lr_schedule": {"0": 0.01, "70": 1e-3, "140": 1e-4, "210": 1e-5},
}
"""What `preset="official_code"` forces: no baseline and independent inner keys, the
official budget, one Bernoulli draw at the end, the official inner lr and uniform
init, and the official code's effective lr schedule (docs/original_code.md, DConRec).
Dataset knobs (ρ, tail threshold, pseudo ratio, steps) stay."""


def effective_dconrec(settings: DConRecSettings) -> DConRecSettings:
    """The settings with the `official_code` overrides applied (if that preset)."""
    if settings.preset == "clean":
        return settings
    return dataclasses.replace(settings, **OFFICIAL_OVERRIDES)


# ---------------------------------------------------------------------------------
# Sequential recommendation.


@dataclasses.dataclass(frozen=True)
class MultVAESettings:
    """`config.multvae` (documented in configs/multvae_section.py)."""

    hidden: int = _field(**AT_LEAST_ONE)
    latent: int = _field(**AT_LEAST_ONE)
    dropout_rate: float = _field(**UNIT_INTERVAL)
    learning_rate: float = _field(**POSITIVE)
    weight_decay: float = _field(**NON_NEGATIVE)
    batch_size: int = _field(**AT_LEAST_ONE)
    min_batches_per_epoch: int = _field(**AT_LEAST_ONE)
    anneal_cap: float = _field(**NON_NEGATIVE)
    total_anneal_steps: int = _field(**AT_LEAST_ONE)
    max_epochs: int = _field(**AT_LEAST_ONE)
    patience: int = _field(**AT_LEAST_ONE)
    eval_every: int = _field(**AT_LEAST_ONE)

    def model(self):
        """The `trainers.multvae.MultVAE` of these settings."""
        from infinite_ae.trainers import multvae  # noqa: PLC0415

        return multvae.MultVAE(
            hidden=self.hidden,
            latent=self.latent,
            dropout_rate=self.dropout_rate,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            batch_size=self.batch_size,
            min_batches_per_epoch=self.min_batches_per_epoch,
            anneal_cap=self.anneal_cap,
            total_anneal_steps=self.total_anneal_steps,
        )


@dataclasses.dataclass(frozen=True)
class SequentialSettings:
    """`config.sequential` (documented in configs/sequential_section.py)."""

    model: Literal["sasrec", "gru4rec"] = _field()
    max_len: int = _field(**AT_LEAST_ONE)
    embedding_dim: int = _field(**AT_LEAST_ONE)
    num_blocks: int = _field(**AT_LEAST_ONE)
    num_heads: int = _field(**AT_LEAST_ONE)
    dropout_rate: float = _field(**UNIT_INTERVAL)
    shared_embeddings: bool = _field()
    loss: Literal["ce", "bce", "gbce"] = _field()
    num_negatives: int = _field(**AT_LEAST_ONE)
    gbce_t: float = _field(**UNIT_INTERVAL)
    learning_rate: float = _field(**POSITIVE)
    batch_size: int = _field(**AT_LEAST_ONE)
    min_batches_per_epoch: int = _field(**AT_LEAST_ONE)
    max_epochs: int = _field(**AT_LEAST_ONE)
    patience: int = _field(**AT_LEAST_ONE)
    eval_every: int = _field(**AT_LEAST_ONE)
    mask_history: bool = _field()
    ks: tuple[int, ...] = _field(**ALL_AT_LEAST_ONE)
    floors: tuple[Literal["popularity", "markov", "ease", "infinite_ae"], ...] = (
        _field()
    )

    def __post_init__(self):
        path = "config.sequential"
        if 10 not in self.ks:
            raise _fail(f"{path}.ks", self.ks, "must include 10 (early stopping)")
        if self.model == "sasrec" and self.embedding_dim % self.num_heads:
            raise _fail(
                f"{path}.num_heads", self.num_heads, "must divide embedding_dim"
            )


@dataclasses.dataclass(frozen=True)
class FosterSettings:
    """`config.foster` (documented in configs/foster_section.py)."""

    text_source: Literal["recbole", "movielens", "amazon_meta", "generated"] = _field()
    text_path: str = _field()
    missing_text: Literal["error", "empty"] = _field()
    encoder: Literal["minilm", "bag_of_words", "small_bert"] = _field()
    item_encoder: Literal["frozen", "tuned"] = _field()
    tuned_layers: int = _field(**AT_LEAST_ONE)
    encode_batch_size: int = _field(**AT_LEAST_ONE)
    cache_dir: str = _field()
    budgets: tuple[int, ...] = _field(**ALL_AT_LEAST_ONE)
    length: int = _field(**_check(lambda v: v >= 2, "must be >= 2"))
    expert_epochs: int = _field(**AT_LEAST_ONE)
    anchor_start: float = _field(**_check(lambda v: 0 <= v < 1, "must be in [0, 1)"))
    steps: int = _field(**AT_LEAST_ONE)
    batch_size: int = _field(**AT_LEAST_ONE)
    subset_size: int = _field(**AT_LEAST_ONE)
    top_c: int = _field(**NON_NEGATIVE)
    inner_steps: int = _field(**AT_LEAST_ONE)
    reset_every: int = _field(**AT_LEAST_ONE)
    lam: float = _field(**NON_NEGATIVE)
    beta: float = _field(**NON_NEGATIVE)
    temperature: float = _field(**POSITIVE)
    lr_theta: float = _field(**POSITIVE)
    lr_prime: float = _field(**POSITIVE)
    lr_logits: float = _field(**POSITIVE)
    cooc_top_k: int = _field(**AT_LEAST_ONE)
    pairs: Literal["all", "adjacent"] = _field()
    init: Literal["real", "random"] = _field()
    rank: int = _field(**NON_NEGATIVE)
    subset_sampling: bool = _field()
    reset: bool = _field()
    cooc: bool = _field()
    ablations: tuple[Literal["subset_sampling", "reset", "cooc"], ...] = _field()
    baselines: tuple[
        Literal["random_users", "longest", "most_recent", "k_center", "herding"], ...
    ] = _field()

    def __post_init__(self):
        if self.text_source != "generated" and not self.text_path:
            raise _fail(
                "config.foster.text_path", self.text_path, "names the item-text file"
            )
        if self.item_encoder == "tuned" and self.encoder == "bag_of_words":
            raise _fail(
                "config.foster.item_encoder",
                self.item_encoder,
                "'tuned' fine-tunes BERT blocks: config.foster.encoder must be "
                "minilm or small_bert",
            )


@dataclasses.dataclass(frozen=True)
class AdapterSettings:
    """`config.adapter`: distilled users -> training sequences, and the budgets."""

    budgets: tuple[float, ...] = _field(
        **_check(
            lambda v: len(v) > 0 and all(0 < x <= 1 for x in v),
            "must be a non-empty list of user fractions in (0, 1]",
        )
    )
    ordering: Literal["random", "mean_position", "greedy_chain", "sampled_chain"] = (
        _field()
    )
    num_sequences: int = _field(**AT_LEAST_ONE)
    sets: Literal["sampled", "kept"] = _field()
    discretize: Literal["topk", "sample", "threshold"] = _field()
    length: Literal["mass", "real"] = _field()
    baselines: tuple[Literal["random_users", "longest", "most_recent"], ...] = _field()
    full_data: bool = _field()


# ---------------------------------------------------------------------------------
# AutoSample.


@dataclasses.dataclass(frozen=True)
class AutoSampleSettings:
    """`config.autosample` (documented in configs/autosample_section.py)."""

    model: Literal["bprmf", "lightgcn", "sasrec", "gru4rec"] = _field()
    trainer: TrainerSettings = _field()
    patience: int = _field(**AT_LEAST_ONE)
    samplers: tuple[str, ...] = _field(
        **_check(
            lambda v: (
                len(v) > 0
                and len(set(v)) == len(v)
                and all(x in _sampler_names() for x in v)
            ),
            "must be distinct negative samplers: " + ", ".join(_sampler_names()),
        )
    )
    popularity_gamma: float = _field(**NON_NEGATIVE)
    num_candidates: int = _field(**AT_LEAST_ONE)
    softmax_temperature: float = _field(**POSITIVE)
    aobpr_rank_scale: float = _field(**POSITIVE)
    mode: Literal["weighted", "bandit"] = _field()
    search_epochs: int = _field(**AT_LEAST_ONE)
    arch_learning_rate: float = _field(**POSITIVE)
    temperature_start: float = _field(**POSITIVE)
    temperature_end: float = _field(**POSITIVE)
    xi: float = _field(**NON_NEGATIVE)
    val_objective: Literal["top_bpr", "softmax"] = _field()
    val_batch_size: int = _field(**AT_LEAST_ONE)
    select_fraction: float = _field(**FRACTION)
    bandit_gamma: float = _field(**FRACTION)
    bandit_reward_scale: float = _field(**POSITIVE)
    retrain_init: Literal["search", "scratch"] = _field()
    compare_scratch: bool = _field()
    oracle: bool = _field()
    oracle_cache: str = _field()
    test_mask: Literal["train", "train+val"] = _field()
    ks: tuple[int, ...] = _field(**ALL_AT_LEAST_ONE)

    def __post_init__(self):
        path = "config.autosample"
        if "mixgcf" in self.samplers and self.model != "lightgcn":
            raise _fail(
                f"{path}.samplers", self.samplers, "mixgcf needs model='lightgcn'"
            )
        if 10 not in self.ks:
            raise _fail(f"{path}.ks", self.ks, "must include 10 (early stopping)")
        if self.mode == "bandit" and self.model in SEQUENTIAL_MODELS:
            raise _fail(
                f"{path}.mode",
                self.mode,
                f"SASRec / GRU4Rec ({self.model!r}) search in the weighted mode",
            )
        if self.mode == "bandit" and self.search_epochs <= len(self.samplers):
            raise _fail(
                f"{path}.search_epochs",
                self.search_epochs,
                f"the bandit needs more epochs than samplers ({len(self.samplers)})",
            )


# ---------------------------------------------------------------------------------
# The whole run.

Method = Literal[
    "infinite_ae",
    "ease",
    "popularity",
    "multvae",
    "distill_cf",
    "dconrec",
    "sequential",
    "distill_to_sequential",
    "autosample",
    "foster",
]
KRR_METRICS = ("hr", "recall", "hit", "precision", "ndcg", "mrr", "psp", "psp_norm")
DISTILL_METRICS = ("hr", "ndcg")


@dataclasses.dataclass(frozen=True)
class Settings:
    """A validated run: the method, its seed and the sections it reads."""

    method: Method
    seed: int
    data: DataSettings
    model: ModelSettings
    eval: EvalSettings
    distill: DistillSettings | None = None
    dconrec: DConRecSettings | None = None
    sequential: SequentialSettings | None = None
    adapter: AdapterSettings | None = None
    multvae: MultVAESettings | None = None
    autosample: AutoSampleSettings | None = None
    trainers: dict[str, TrainerSettings] | None = None
    foster: FosterSettings | None = None

    @property
    def uses_sequences(self) -> bool:
        """Whether the job reads `Sequences` (else the set view, `Interactions`)."""
        return (
            "sequential" in self.method
            or self.method == "foster"
            or (
                self.autosample is not None
                and self.autosample.model in SEQUENTIAL_MODELS
            )
        )


def _sequence_sections(
    config: Any, method: str, sequential_model: str | None
) -> dict[str, Any]:
    """The sections of the jobs that read sequences: `config.sequential` (checked
    against AutoSample's model and FOSTER), `config.adapter`, `config.foster`."""
    sections: dict[str, Any] = {}
    if method not in ("sequential", "distill_to_sequential", "foster") and (
        sequential_model not in SEQUENTIAL_MODELS
    ):
        return sections
    sequential = build(SequentialSettings, config.sequential, "config.sequential")
    sections["sequential"] = sequential
    if sequential_model in SEQUENTIAL_MODELS:
        if sequential.model != sequential_model:
            raise _fail(
                "config.sequential.model",
                sequential.model,
                f"must be config.autosample.model ({sequential_model!r})",
            )
        if sequential.loss not in ("bce", "gbce"):
            raise _fail(
                "config.sequential.loss",
                sequential.loss,
                "AutoSample searches the negatives of a sampled loss: bce or gbce",
            )
    if method == "distill_to_sequential":
        sections["adapter"] = build(AdapterSettings, config.adapter, "config.adapter")
    if method == "foster":
        sections["foster"] = _foster_section(config, sequential)
    return sections


def _foster_section(config: Any, sequential: SequentialSettings) -> FosterSettings:
    if "foster" not in config:
        raise _fail(
            "config.foster",
            None,
            "missing: FOSTER configs add it (foster_section.get_section())",
        )
    foster = build(FosterSettings, config.foster, "config.foster")
    if foster.length > sequential.max_len:
        raise _fail(
            "config.foster.length",
            foster.length,
            f"must be <= config.sequential.max_len ({sequential.max_len})",
        )
    if sequential.model != "sasrec":
        raise _fail(
            "config.sequential.model",
            sequential.model,
            "FOSTER trains the text-based SASRec: use 'sasrec'",
        )
    return foster


def from_config(config: Any) -> Settings:
    """Validates ``config`` into `Settings` before anything is loaded.

    Raises:
      SettingsError: the first invalid field, named as ``config.<section>.<field>``.
    """
    method = _coerce("config.method", config.method, Method)
    seed = _scalar("config.seed", config.seed, int)
    if seed < 0:
        raise _fail("config.seed", seed, "must be >= 0")
    model = build(ModelSettings, config.model, "config.model")
    eval_settings = build(EvalSettings, config.eval, "config.eval")
    ks = eval_settings.ks
    sections: dict[str, Any] = {}
    if method in ("distill_cf", "distill_to_sequential"):
        distill = build(DistillSettings, config.distill, "config.distill")
        ks = tuple(sorted({*ks, 10, 100}))
        check_metric(
            "config.model.select_metric", model.select_metric, ks, DISTILL_METRICS
        )
        check_metric(
            "config.distill.reg_select_metric",
            distill.reg_select_metric,
            (10, 100),
            DISTILL_METRICS,
        )
        sections["distill"] = distill
    elif method == "dconrec":
        dconrec = build(DConRecSettings, config.dconrec, "config.dconrec")
        sections["dconrec"] = effective_dconrec(dconrec)
    elif method == "autosample":
        sections["autosample"] = build(
            AutoSampleSettings, config.autosample, "config.autosample"
        )
    sequential_model = getattr(sections.get("autosample"), "model", None)
    sections.update(_sequence_sections(config, method, sequential_model))
    sequential = sections.get("sequential")
    if method == "multvae" or "multvae" in getattr(
        sections.get("distill"), "compare", ()
    ):
        sections["multvae"] = build(MultVAESettings, config.multvae, "config.multvae")
        check_metric("config.model.select_metric", model.select_metric, ks, KRR_METRICS)
    bpr_models = tuple(
        name
        for name in getattr(sections.get("distill"), "compare", ())
        if name in ("bprmf", "lightgcn")
    )
    if bpr_models:
        sections["trainers"] = _trainers(config, bpr_models)
    if method in ("infinite_ae", "ease") or (
        method == "sequential" and {"ease", "infinite_ae"} & set(sequential.floors)
    ):
        check_metric("config.model.select_metric", model.select_metric, ks, KRR_METRICS)
    if model.dtype == "float64" and method != "infinite_ae" and method != "ease":
        raise _fail("config.model.dtype", model.dtype, f"{method} runs in float32 only")
    data = build(DataSettings, config.data, "config.data")
    if sequential is not None and data.name not in SEQUENCE_DATA:
        what = f"config.method={method!r}" + (
            f" with config.autosample.model={sequential_model!r}"
            if method == "autosample"
            else ""
        )
        raise _fail(
            "config.data.name",
            data.name,
            f"{what} needs sequence data: " + ", ".join(SEQUENCE_DATA),
        )
    return Settings(
        method=method,
        seed=seed,
        data=data,
        model=model,
        eval=eval_settings,
        **sections,
    )
