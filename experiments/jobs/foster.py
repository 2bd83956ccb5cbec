"""FOSTER job: a text-based SASRec distilled by FOSTER, against equal budgets.

FOSTER-style, reconstructed from the abstract (infinite_ae/foster). Stages:

1. `_item_embeddings`: the items' texts (`config.foster.text_source`) encoded by
   `config.foster.encoder`, cached on disk by (encoder, texts);
2. `_anchors`: the expert trajectory, `expert_epochs` epochs of the text-based
   SASRec on the full data (saved under ``anchors/``, reloaded by a rerun); the
   distillation starts from, and resets to, its epochs after the first
   `anchor_start` fraction;
3. the same model trained on every real sequence (the reference of `retention`);
4. per budget M (`config.foster.budgets`): FOSTER distils M sequences (ids and
   history saved under ``distilled/``), the model is trained on them and tested on
   the real validation and test next items, and on M real sequences of each
   baseline (random users, the longest, the most recent, and K-center and herding
   coresets on each sequence's mean text embedding);
5. the ablation (`config.foster.ablations`): at the first budget, FOSTER again with
   each named component switched off, and the model trained on its sequences.

Trainings use `config.sequential` (sizes, loss, optimiser, early stopping) and are
stored as they finish (`sequential.train_recorded`), so a killed run resumes.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time
from typing import Any

import jax
import numpy as np
from absl import logging

from experiments import datasets
from experiments import settings as settings_lib
from experiments import streams as streams_lib
from experiments.jobs import sequential
from infinite_ae import io, text
from infinite_ae.adapters import sequential as adapter_lib
from infinite_ae.data import item_text
from infinite_ae.foster import distill as distill_lib
from infinite_ae.foster import objective, synthetic
from infinite_ae.trainers.text_sasrec import ItemText, TextSASRec
from infinite_ae.trainers.tuned_text_sasrec import ItemTokens, TunedTextSASRec

STREAMS = streams_lib.StreamTable(numpy={"baselines": 12})
READERS = {
    "recbole": item_text.read_recbole_text,
    "movielens": item_text.read_movielens_movies,
    "amazon_meta": item_text.read_amazon_meta,
}


def _texts(cfg: settings_lib.FosterSettings, sequences) -> list[str]:
    if cfg.text_source == "generated":
        return item_text.successor_texts(sequences)
    path = datasets.resolve(cfg.text_path)
    if not path.exists():
        raise FileNotFoundError(f"config.foster.text_path: {path} does not exist")
    return item_text.item_texts(
        sequences.item_ids,
        READERS[cfg.text_source](path),
        missing=cfg.missing_text,
        source=str(path),
    )


SMALL_BERT = dict(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64)
"""Sizes of the "small_bert" encoder (random weights, quick runs and tests)."""


def _encoder(cfg: settings_lib.FosterSettings, texts: list[str]):
    if cfg.encoder == "minilm":
        return text.load_minilm(batch_size=cfg.encode_batch_size)
    if cfg.encoder == "bag_of_words":
        return text.BagOfWordsEncoder().fit_idf(texts)
    words = sorted({w for t in texts for w in text.split_words(t)})
    config = text.BertConfig(vocab_size=len(words) + 8, max_positions=64, **SMALL_BERT)
    return text.random_bert_encoder(
        jax.random.key(0), config, words, batch_size=cfg.encode_batch_size
    )


def _item_embeddings(cfg, texts, encoder, workdir: pathlib.Path) -> np.ndarray:
    """Stage 1: [I, D] frozen text embeddings of the items, cached on disk."""
    cache = pathlib.Path(cfg.cache_dir) if cfg.cache_dir else workdir / "text_cache"
    t0 = time.perf_counter()
    embeddings = text.cached_encode(encoder, texts, cache_dir=cache)
    logging.info(
        "item texts: %d encoded by %s in %.1f s",
        len(texts),
        cfg.encoder,
        time.perf_counter() - t0,
    )
    return np.asarray(embeddings, np.float32)


def _model(settings, embeddings, encoder, texts) -> TextSASRec:
    """The text-based SASRec of `config.foster.item_encoder`: the frozen table
    of ``embeddings`` and an adaptor, or (``"tuned"``) the encoder's top
    `tuned_layers` blocks fine-tuned over its cached lower-block token states."""
    seq, cfg = settings.sequential, settings.foster
    sizes = dict(
        max_len=seq.max_len,
        embedding_dim=seq.embedding_dim,
        num_blocks=seq.num_blocks,
        num_heads=seq.num_heads,
        dropout_rate=seq.dropout_rate,
    )
    if cfg.item_encoder == "frozen":
        return TextSASRec(ItemText(embeddings), **sizes)
    layers = encoder.config.num_layers
    if not 1 <= cfg.tuned_layers <= layers:
        raise ValueError(
            f"config.foster.tuned_layers: {cfg.tuned_layers}; the {cfg.encoder} "
            f"encoder has {layers} blocks (1 <= tuned_layers <= {layers})"
        )
    t0 = time.perf_counter()
    tokens = ItemTokens.from_encoder(encoder, texts, layers - cfg.tuned_layers)
    logging.info(
        "item token states below the top %d block(s): %s in %.1f s",
        cfg.tuned_layers,
        tokens.states.shape,
        time.perf_counter() - t0,
    )
    return TunedTextSASRec(tokens, **sizes)


def _anchors(settings, model, sequences, workdir: pathlib.Path) -> list:
    """Stage 2: the expert's parameters after each epoch (saved, reloaded)."""
    directory = workdir / "anchors"
    epochs = settings.foster.expert_epochs
    target = model.init(jax.random.key(0))
    if len(io.list_checkpoints(directory)) == epochs:
        return [io.restore_checkpoint(directory, e, target) for e in range(epochs)]
    seq = settings.sequential
    anchors = distill_lib.expert_trajectory(
        model,
        sequences,
        epochs=epochs,
        seed=settings.seed,
        loss="ce",
        learning_rate=seq.learning_rate,
        batch_size=seq.batch_size,
        min_batches_per_epoch=seq.min_batches_per_epoch,
        progress="foster/expert",
    )
    for epoch, params in enumerate(anchors):
        io.save_checkpoint(directory, epoch, params, keep=epochs)
    return anchors


def foster_options(cfg: settings_lib.FosterSettings, budget: int):
    """`distill.FosterOptions` of the section for M = `budget` sequences."""
    names = {f.name for f in dataclasses.fields(distill_lib.FosterOptions)}
    values = {k: v for k, v in dataclasses.asdict(cfg).items() if k in names}
    return distill_lib.FosterOptions(num_sequences=budget, **values)


def _distilled(
    settings, model, sequences, anchors, neighbours, budget, workdir, off=None
):
    """FOSTER's M sequences, with component ``off`` switched off when given (saved
    as ``distilled/m<M>[_no_<component>].npz`` with the record)."""
    tag = f"m{budget}" if off is None else f"m{budget}_no_{off}"
    path = workdir / "distilled" / f"{tag}.npz"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        return np.load(path)["ids"], json.loads(meta.read_text())
    options = foster_options(settings.foster, budget)
    if off is not None:
        options = dataclasses.replace(options, **{off: False})
    result = distill_lib.distill(
        model,
        sequences,
        anchors,
        *neighbours,
        options,
        seed=settings.seed,
        progress=f"foster/{tag}",
    )
    io.atomic_save_npz(path, ids=result.ids)
    record = {
        "seconds": result.seconds,
        "step_seconds": result.step_seconds,
        "history": result.history,
    }
    io.atomic_write_json(meta, record)
    return result.ids, record


def _budget(
    settings, model, sequences, anchors, neighbours, budget, ctx, streams, embeddings
):
    ids, record = _distilled(
        settings, model, sequences, anchors, neighbours, budget, ctx.workdir
    )
    train = synthetic.to_sequences(ids, sequences, name=f"foster_{budget}")
    out = {
        "num_sequences": budget,
        "distill_seconds": record["seconds"],
        "distill_step_seconds": record["step_seconds"],
        "foster": sequential.train_recorded(
            settings, sequences, train, ctx.workdir, f"foster_{budget}", model
        ),
        "baselines": sequential.train_baselines(
            settings,
            sequences,
            budget,
            settings.foster.baselines,
            streams.rng("baselines", budget),
            ctx.workdir,
            model,
            embeddings=adapter_lib.sequence_embeddings(sequences, embeddings),
        ),
    }
    return out


def _ablation(settings, model, sequences, anchors, neighbours, first, workdir):
    """Test metrics and distillation times at the first budget with each of
    `config.foster.ablations` switched off in turn, beside FOSTER with all three."""
    budget = first["num_sequences"]
    rows = {
        "foster": {
            "test": first["foster"]["test"],
            "distill_seconds": first["distill_seconds"],
            "distill_step_seconds": first["distill_step_seconds"],
        }
    }
    for off in settings.foster.ablations:
        ids, record = _distilled(
            settings, model, sequences, anchors, neighbours, budget, workdir, off
        )
        tag = f"foster_{budget}_no_{off}"
        train = synthetic.to_sequences(ids, sequences, name=tag)
        trained = sequential.train_recorded(
            settings, sequences, train, workdir, tag, model
        )
        rows[f"no_{off}"] = {
            "test": trained["test"],
            "distill_seconds": record["seconds"],
            "distill_step_seconds": record["step_seconds"],
        }
    return {"num_sequences": budget, "rows": rows}


def _summary(per_budget, full, model_name: str) -> dict[str, Any]:
    """`test`, `retention` and `baselines` of the first budget."""
    first = per_budget[0]
    test = first["foster"]["test"]
    return {
        "test": test,
        "retention": {
            f"retention/{model_name}/{m}": v / full["test"][m]
            for m, v in test.items()
            if full["test"][m] > 0
        },
        "baselines": {
            f"baselines/{kind}/{m}": v
            for kind, record in first["baselines"].items()
            for m, v in record["test"].items()
        },
    }


def run(settings: settings_lib.Settings, sequences, ctx) -> dict[str, Any]:
    """Encodes, trains the expert and the full-data reference, distils and
    compares at every budget (module docstring)."""
    cfg = settings.foster
    streams = streams_lib.Streams(STREAMS, settings.seed)
    timings = {}
    t0 = time.perf_counter()
    texts = _texts(cfg, sequences)
    encoder = _encoder(cfg, texts)
    embeddings = _item_embeddings(cfg, texts, encoder, ctx.workdir)
    timings["encode"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = _model(settings, embeddings, encoder, texts)
    timings["model"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    anchors = _anchors(settings, model, sequences, ctx.workdir)
    anchors = anchors[int(cfg.anchor_start * len(anchors)) :]  # skip the start
    timings["expert"] = time.perf_counter() - t0
    neighbours = objective.text_neighbours(embeddings, cfg.cooc_top_k)
    full = sequential.train_recorded(
        settings, sequences, sequences, ctx.workdir, "full_data", model
    )
    per_budget = []
    for budget in cfg.budgets:
        t0 = time.perf_counter()
        per_budget.append(
            _budget(
                settings,
                model,
                sequences,
                anchors,
                neighbours,
                budget,
                ctx,
                streams,
                embeddings,
            )  # fmt: skip
        )
        timings[f"budget_{budget}"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ablation = _ablation(
        settings, model, sequences, anchors, neighbours, per_budget[0], ctx.workdir
    )
    timings["ablation"] = time.perf_counter() - t0
    return {
        **_summary(per_budget, full, model.name),
        "full_data": full,
        "per_budget": per_budget,
        "ablation": ablation,
        "foster": dataclasses.asdict(cfg),
        "protocol": {
            "split": "leave-one-out by time",
            "mask_history": settings.sequential.mask_history,
            "average": "users with a held-out item",
            "reconstruction": "FOSTER-style, reconstructed from the abstract",
        },
        "timings": timings,
    }
