"""`config.data` -> `Interactions`: where files are and which loader reads them."""

from __future__ import annotations

import pathlib

import ml_collections
from absl import logging

from infinite_ae import data as data_lib
from infinite_ae.data import download, loaders

# Where the original ∞-AE split files live under the data root.
_ORIGINAL_SPLITS = {"ml-1m": "infinite_ae_cf/ml-1m"}
# GroupLens archives under the data root (the shared layout), by variant.
_GROUPLENS_LOCAL = {"ml-100k": "movielens/ml-100k.zip", "ml-1m": "movielens/ml-1m.zip"}


def resolve(path: str) -> pathlib.Path:
    """An absolute path, or a path relative to the data root ($INFINITE_AE_DATA)."""
    candidate = pathlib.Path(path).expanduser()
    return candidate if candidate.is_absolute() else download.data_root() / candidate


def _require(path: pathlib.Path, field: str) -> pathlib.Path:
    if not path.exists():
        raise FileNotFoundError(
            f"config.data.{field}: {path} does not exist (relative paths resolve under "
            f"{download.data_root()}; set INFINITE_AE_DATA to change that)"
        )
    return path


def _build(
    raw: data_lib.RawInteractions, cfg: ml_collections.ConfigDict, seed: int, name: str
) -> data_lib.Interactions:
    return data_lib.build_dataset(
        raw,
        rating_threshold=cfg.rating_threshold,
        dedup=cfg.dedup,
        min_user_interactions=cfg.min_user_interactions or None,
        k_core=cfg.k_core or None,
        split=cfg.split,
        seed=seed,
        name=name,
    )


def _movielens(cfg: ml_collections.ConfigDict, seed: int) -> data_lib.Interactions:
    variant = cfg.variant
    if variant not in _GROUPLENS_LOCAL:
        raise ValueError(
            f"config.data.variant={variant!r}; valid: {sorted(_GROUPLENS_LOCAL)}"
        )
    original = download.data_root() / _ORIGINAL_SPLITS.get(variant, "<none>")
    if cfg.prefer_original_split and (original / "index.npz").exists():
        logging.info("using the original ∞-AE split files in %s", original)
        return loaders.load_infinite_ae(original, name=variant)
    if cfg.path:
        archive = _require(resolve(cfg.path), "path")
    elif (download.data_root() / _GROUPLENS_LOCAL[variant]).exists():
        archive = download.data_root() / _GROUPLENS_LOCAL[variant]
    else:
        archive = download.fetch_grouplens(variant)
    logging.info(
        "splitting GroupLens %s from %s with the %s protocol (seed %d)",
        variant,
        archive,
        cfg.split,
        seed,
    )
    return _build(loaders.load_movielens(archive), cfg, seed, variant)


def load(cfg: ml_collections.ConfigDict, *, seed: int) -> data_lib.Interactions:
    """Builds the dataset described by `config.data`.

    Raises:
      ValueError: unknown `config.data.name` (the message lists valid names).
      FileNotFoundError: a configured file is missing (the message names the field).
    """
    name = cfg.name
    if name == "synthetic":
        syn = cfg.synthetic
        return data_lib.make_synthetic(
            syn.num_users, syn.num_items, mean_degree=syn.mean_degree, seed=seed
        )
    if name == "movielens":
        return _movielens(cfg, seed)
    if name == "infinite_ae":
        directory = _require(resolve(cfg.path), "path")
        return loaders.load_infinite_ae(directory)
    readers = {
        "infinite_ae_ratings": lambda p: loaders.load_infinite_ae_raw(p)[0],
        "amazon_csv": loaders.load_amazon_csv,
        "amazon_json": loaders.load_amazon_json,
        "recbole": loaders.load_recbole,
        "csv": loaders.load_csv,
    }
    if name not in readers:
        valid = sorted([*readers, "synthetic", "movielens", "infinite_ae"])
        raise ValueError(f"config.data.name={name!r} is not known; valid: {valid}")
    path = _require(resolve(cfg.path), "path")
    stem = path.name.split(".")[0] if path.is_file() else path.name
    return _build(readers[name](path), cfg, seed, stem)
