"""Tests for infinite_ae.io: atomic writes, JSONL metric logs, checkpoints."""

import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from infinite_ae import io


def test_atomic_write_json_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "sub" / "results.json"
    io.atomic_write_json(
        path, {"a": np.float32(0.5), "b": jnp.arange(3), "c": math.nan}
    )
    io.atomic_write_json(path, {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}
    assert os.listdir(path.parent) == ["results.json"]


def test_atomic_write_failure_keeps_old_file(tmp_path):
    path = tmp_path / "results.json"
    io.atomic_write_json(path, {"ok": True})
    with pytest.raises(TypeError):
        io.atomic_write_json(path, {"bad": object()})
    assert json.loads(path.read_text()) == {"ok": True}
    assert os.listdir(tmp_path) == ["results.json"]


def test_to_jsonable_maps_non_finite_to_null():
    assert io.to_jsonable({"x": [np.inf, 1.0]}) == {"x": [None, 1.0]}


def test_metric_writer_appends_and_truncates_on_resume(tmp_path):
    path = tmp_path / "metrics.jsonl"
    writer = io.MetricWriter(path, resume_from_step=-1)
    for step in range(5):
        writer.write_scalars(step, {"loss": np.float32(step)})
    assert [r["step"] for r in io.read_jsonl(path)] == [0, 1, 2, 3, 4]
    writer = io.MetricWriter(path, resume_from_step=2)
    writer.write_scalars(3, {"loss": 9.0})
    records = io.read_jsonl(path)
    assert [r["step"] for r in records] == [0, 1, 2, 3]
    assert records[-1]["loss"] == 9.0
    io.MetricWriter(path, resume_from_step=-1)
    assert io.read_jsonl(path) == []


def test_read_jsonl_names_file_and_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 0}\n{broken\n')
    with pytest.raises(ValueError, match=r"metrics\.jsonl:2"):
        io.read_jsonl(path)


def test_checkpoint_round_trip_with_keys_and_optax_state(tmp_path):
    params = {"w": jnp.arange(6.0).reshape(2, 3), "b": jnp.zeros(3)}
    opt_state = optax.adam(0.1).init(params)
    state = (params, opt_state, jnp.asarray(7, jnp.int32), jax.random.key(3))
    for step in (1, 2, 3):
        io.save_checkpoint(tmp_path, step, state, keep=2)
    assert io.list_checkpoints(tmp_path) == [2, 3]
    assert io.latest_checkpoint(tmp_path) == 3
    target = jax.tree_util.tree_map(jnp.zeros_like, state[:3]) + (jax.random.key(0),)
    restored = io.restore_checkpoint(tmp_path, 3, target)
    chex_equal = jax.tree_util.tree_map(
        lambda a, b: np.array_equal(np.asarray(a), np.asarray(b)),
        restored[:3],
        state[:3],
    )
    assert all(jax.tree_util.tree_leaves(chex_equal))
    np.testing.assert_array_equal(
        jax.random.key_data(restored[3]), jax.random.key_data(state[3])
    )


def test_restore_rejects_mismatched_state(tmp_path):
    io.save_checkpoint(tmp_path, 0, {"w": jnp.zeros((2, 3))})
    with pytest.raises(ValueError, match="shape"):
        io.restore_checkpoint(tmp_path, 0, {"w": jnp.zeros((3, 3))})
    with pytest.raises(ValueError, match="arrays"):
        io.restore_checkpoint(tmp_path, 0, {"w": jnp.zeros((2, 3)), "v": jnp.zeros(1)})


def test_latest_checkpoint_empty_dir(tmp_path):
    assert io.latest_checkpoint(tmp_path / "missing") is None
