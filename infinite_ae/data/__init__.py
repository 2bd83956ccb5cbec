"""Data layer: raw tables, split datasets, loaders, item texts, preprocessing, splits,
synthetic data.

See docs/architecture.md ("Data contract") for the types every other module uses.
"""

from infinite_ae.data.download import (
    DownloadError,
    cache_dir,
    data_root,
    fetch_grouplens,
)
from infinite_ae.data.interactions import (
    Interactions,
    RawInteractions,
    rows_to_dense,
)
from infinite_ae.data.item_text import (
    item_texts,
    read_amazon_meta,
    read_movielens_movies,
    read_recbole_text,
)
from infinite_ae.data.loaders import (
    load_amazon_csv,
    load_amazon_json,
    load_csv,
    load_dataframe,
    load_infinite_ae,
    load_infinite_ae_raw,
    load_movielens,
    load_recbole,
    load_recbole_benchmark,
    read_bytes,
)
from infinite_ae.data.preprocess import (
    apply_rating_threshold,
    deduplicate,
    filter_min_user_interactions,
    k_core,
    preprocess_raw,
    remap_ids,
)
from infinite_ae.data.sequences import Sequences, load_recbole_sequences
from infinite_ae.data.splits import (
    build_dataset,
    infinite_ae_split,
    random_split,
    split_hash,
    split_raw,
    temporal_loo_split,
)
from infinite_ae.data.synthetic import (
    make_markov_sequences,
    make_synthetic,
    markov_oracle_scores,
    power_law_degrees,
)

__all__ = [
    "DownloadError",
    "Interactions",
    "RawInteractions",
    "Sequences",
    "apply_rating_threshold",
    "build_dataset",
    "cache_dir",
    "data_root",
    "deduplicate",
    "fetch_grouplens",
    "filter_min_user_interactions",
    "infinite_ae_split",
    "item_texts",
    "k_core",
    "load_amazon_csv",
    "load_amazon_json",
    "load_csv",
    "load_dataframe",
    "load_infinite_ae",
    "load_infinite_ae_raw",
    "load_movielens",
    "load_recbole",
    "load_recbole_benchmark",
    "load_recbole_sequences",
    "make_markov_sequences",
    "make_synthetic",
    "markov_oracle_scores",
    "power_law_degrees",
    "preprocess_raw",
    "random_split",
    "read_amazon_meta",
    "read_bytes",
    "read_movielens_movies",
    "read_recbole_text",
    "remap_ids",
    "rows_to_dense",
    "split_hash",
    "split_raw",
    "temporal_loo_split",
]
