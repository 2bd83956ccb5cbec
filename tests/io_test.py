"""Tests for infinite_ae.io: atomic writes, JSONL metric logs, checkpoints."""

import json
import logging
import math
import os
import re
import stat
import struct
import zipfile
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import PartitionSpec as P

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


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_artefacts_honour_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        io.atomic_write_json(tmp_path / "results.json", {"a": 1})
        io.atomic_save_npz(tmp_path / "distilled.npz", data=np.arange(3))
        checkpoint = io.save_checkpoint(tmp_path / "ckpt", 0, {"w": jnp.zeros(2)})
        writer = io.MetricWriter(tmp_path / "metrics.jsonl", resume_from_step=-1)
        writer.write_scalars(0, {"loss": 1.0})
    finally:
        os.umask(old)
    for path in (
        tmp_path / "results.json",
        tmp_path / "distilled.npz",
        checkpoint,
        tmp_path / "metrics.jsonl",
    ):
        assert stat.S_IMODE(path.stat().st_mode) == mode, path


class _Params(NamedTuple):
    w: jax.Array
    b: jax.Array


class _RenamedParams(NamedTuple):
    weight: jax.Array
    b: jax.Array


def test_checkpoint_stores_leaves_by_path(tmp_path):
    state = {
        "params": _Params(jnp.arange(6.0).reshape(2, 3), jnp.ones(3)),
        "key": jax.random.key(5, impl="rbg"),
        "step": 4,
    }
    path = io.save_checkpoint(tmp_path, 3, state)
    with np.load(path) as f:
        assert sorted(f["__paths__"]) == [
            "['key']",
            "['params'].b",
            "['params'].w",
            "['step']",
        ]
    target = {
        "params": _Params(jnp.zeros((2, 3)), jnp.zeros(3)),
        "key": jax.random.key(0, impl="rbg"),
        "step": 0,
    }
    restored = io.restore_checkpoint(tmp_path, 3, target)
    assert isinstance(restored["params"], _Params)
    np.testing.assert_array_equal(restored["params"].w, state["params"].w)
    np.testing.assert_array_equal(restored["params"].b, state["params"].b)
    assert restored["step"] == 4
    assert jax.random.key_impl(restored["key"]) == jax.random.key_impl(state["key"])
    np.testing.assert_array_equal(
        jax.random.key_data(restored["key"]), jax.random.key_data(state["key"])
    )


def test_restore_names_a_renamed_field(tmp_path):
    path = io.save_checkpoint(
        tmp_path, 0, {"params": _Params(jnp.ones(2), jnp.ones(1))}
    )
    target = {"params": _RenamedParams(jnp.ones(2), jnp.ones(1))}
    with pytest.raises(ValueError) as error:
        io.restore_checkpoint(tmp_path, 0, target)
    message = str(error.value)
    assert str(path) in message
    assert "['params'].weight" in message and "['params'].w" in message
    assert "was the config or the code changed" in message


def test_restore_names_the_path_of_a_shape_or_key_mismatch(tmp_path):
    path = io.save_checkpoint(tmp_path, 0, {"a": {"w": jnp.zeros((2, 3))}})
    with pytest.raises(ValueError, match=r"\['a'\]\['w'\] has shape \(2, 3\)") as e:
        io.restore_checkpoint(tmp_path, 0, {"a": {"w": jnp.zeros((3, 3))}})
    assert str(path) in str(e.value)
    with pytest.raises(ValueError, match=r"\['a'\]\['w'\] .* float32.*int32"):
        io.restore_checkpoint(tmp_path, 0, {"a": {"w": jnp.zeros((2, 3), jnp.int32)}})
    io.save_checkpoint(tmp_path, 1, {"k": jnp.zeros(2, jnp.uint32)})
    with pytest.raises(ValueError, match=r"\['k'\] is stored as a plain array"):
        io.restore_checkpoint(tmp_path, 1, {"k": jax.random.key(0)})


def test_checkpoint_keeps_the_sharding_of_the_target(tmp_path):
    mesh = jax.make_mesh((len(jax.devices()),), ("x",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("x"))
    rows = 2 * len(jax.devices())
    value = jax.device_put(jnp.arange(rows * 3.0).reshape(rows, 3), sharding)
    key = jax.device_put(jax.random.key(1), jax.sharding.NamedSharding(mesh, P()))
    io.save_checkpoint(tmp_path, 0, {"v": value, "key": key})
    target = {
        "v": jax.device_put(jnp.zeros((rows, 3)), sharding),
        "key": jax.device_put(jax.random.key(0), jax.sharding.NamedSharding(mesh, P())),
    }
    restored = io.restore_checkpoint(tmp_path, 0, target)
    assert restored["v"].sharding == sharding
    assert restored["key"].sharding == target["key"].sharding
    np.testing.assert_array_equal(restored["v"], value)
    np.testing.assert_array_equal(
        jax.random.key_data(restored["key"]), jax.random.key_data(key)
    )


def test_checkpoint_round_trips_bfloat16(tmp_path):
    io.save_checkpoint(tmp_path, 0, {"w": jnp.arange(3, dtype=jnp.bfloat16)})
    restored = io.restore_checkpoint(tmp_path, 0, {"w": jnp.zeros(3, jnp.bfloat16)})
    assert restored["w"].dtype == jnp.bfloat16
    np.testing.assert_array_equal(restored["w"], jnp.arange(3, dtype=jnp.bfloat16))


def test_restore_reads_checkpoints_stored_by_position(tmp_path):
    # The layout without `__paths__`: leaves by position and their count.
    np.savez_compressed(
        io.checkpoint_path(tmp_path, 2),
        __num_leaves__=np.asarray(2),
        leaf_00000=np.ones(3, np.float32),
        leaf_00001=np.asarray(7, np.int32),
    )
    target = {"b": jnp.zeros(3), "step": jnp.asarray(0, jnp.int32)}
    restored = io.restore_checkpoint(tmp_path, 2, target)
    np.testing.assert_array_equal(restored["b"], np.ones(3))
    assert int(restored["step"]) == 7
    with pytest.raises(ValueError, match="stored by position"):
        io.restore_checkpoint(tmp_path, 2, {"b": jnp.zeros(3)})


def _zero(path):
    path.write_bytes(b"")


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _drop_an_array(path):
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files if k != "leaf_00001"}
    np.savez_compressed(path, **arrays)


def _corrupt_data(path):
    data = bytearray(path.read_bytes())
    # Deflated array data sits between the local headers and the central
    # directory; flipping bytes there fails the inflate or the CRC check.
    with zipfile.ZipFile(path) as z:
        offset = z.getinfo("leaf_00000.npy").header_offset
    name_length, extra_length = struct.unpack("<HH", data[offset + 26 : offset + 30])
    start = offset + 30 + name_length + extra_length
    for i in range(start, start + 8):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _flip_a_stored_byte(path):
    # Stored (uncompressed) members: only the CRC-32 check notices a flipped byte.
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    np.savez(path, **arrays)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("leaf_00001.npy")
    name_length, extra_length = struct.unpack(
        "<HH", data[info.header_offset + 26 : info.header_offset + 30]
    )
    start = info.header_offset + 30 + name_length + extra_length
    data[start + info.compress_size - 1] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage, reason",
    [
        (_zero, "empty"),
        (_truncate, "BadZipFile"),
        (_drop_an_array, "leaf_00001 are missing"),
        (_corrupt_data, "zlib.error"),
        (_flip_a_stored_byte, "Bad CRC-32"),
    ],
)
def test_latest_valid_checkpoint_skips_a_damaged_newest(
    tmp_path, caplog, damage, reason
):
    state = {"w": jnp.arange(1000.0), "b": jnp.ones(3)}
    io.save_checkpoint(tmp_path, 1, state)
    newest = io.save_checkpoint(
        tmp_path, 2, jax.tree_util.tree_map(lambda x: -x, state)
    )
    damage(newest)
    with pytest.raises(ValueError, match=re.escape(str(newest))) as error:
        io.restore_checkpoint(tmp_path, 2, state)
    assert reason in str(error.value)
    with caplog.at_level(logging.WARNING):
        assert io.latest_valid_checkpoint(tmp_path) == 1
    assert str(newest) in caplog.text and reason in caplog.text
    assert io.latest_checkpoint(tmp_path) == 2
    restored = io.restore_checkpoint(tmp_path, 1, state)
    np.testing.assert_array_equal(restored["w"], state["w"])


def test_latest_valid_checkpoint_sets_unreadable_ones_aside(tmp_path, caplog):
    for step in (1, 2, 3):
        io.save_checkpoint(tmp_path, step, {"w": jnp.ones(2)}, keep=3)
    _zero(io.checkpoint_path(tmp_path, 3))
    _truncate(io.checkpoint_path(tmp_path, 2))
    with caplog.at_level(logging.WARNING):
        assert io.latest_valid_checkpoint(tmp_path, set_aside_unreadable=True) == 1
    assert io.latest_checkpoint(tmp_path) == 1
    assert sorted(os.listdir(tmp_path)) == [
        "step_00000001.npz",
        "step_00000002.npz.unreadable",
        "step_00000003.npz.unreadable",
    ]
    assert "step_00000003.npz" in caplog.text and "step_00000002.npz" in caplog.text
    _zero(io.checkpoint_path(tmp_path, 1))
    assert io.latest_valid_checkpoint(tmp_path) is None
