"""Tests for infinite_ae.data.download (no network: urlopen is monkeypatched)."""

import hashlib
import io
import os
import pathlib
import urllib.error

import pytest

from infinite_ae.data import download


class _FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()


def _serve(monkeypatch, payload, calls=None):
    def fake_urlopen(url, timeout=None):
        if calls is not None:
            calls.append(url)
        return _FakeResponse(payload)

    monkeypatch.setattr(download, "_urlopen", fake_urlopen)


def test_cache_dir_and_data_root(monkeypatch, tmp_path):
    monkeypatch.setenv("INFINITE_AE_CACHE", str(tmp_path / "c"))
    assert download.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("INFINITE_AE_CACHE")
    assert download.cache_dir() == pathlib.Path.home() / ".cache" / "infinite_ae"
    monkeypatch.setenv("INFINITE_AE_DATA", str(tmp_path / "d"))
    assert download.data_root() == tmp_path / "d"
    monkeypatch.delenv("INFINITE_AE_DATA")
    shared = download._PROJECT_ROOT.parent / "shared" / "data"
    monkeypatch.setenv("INFINITE_AE_CACHE", str(tmp_path / "c"))
    expected = shared if shared.is_dir() else tmp_path / "c"
    assert download.data_root() == expected


def test_fetch_verifies_md5_and_caches(monkeypatch, tmp_path):
    payload = b"pretend zip bytes" * 1000
    monkeypatch.setitem(
        download.GROUPLENS_MD5, "ml-100k", hashlib.md5(payload).hexdigest()
    )
    calls = []
    _serve(monkeypatch, payload, calls)
    path = download.fetch_grouplens("ml-100k", cache_dir=tmp_path)
    assert path == tmp_path / "ml-100k.zip" and path.read_bytes() == payload
    assert calls == ["https://files.grouplens.org/datasets/movielens/ml-100k.zip"]
    assert os.listdir(tmp_path) == ["ml-100k.zip"]
    # Second call: served from the cache, no download.
    assert download.fetch_grouplens("ml-100k", cache_dir=tmp_path) == path
    assert len(calls) == 1


def test_bad_checksum_leaves_nothing(monkeypatch, tmp_path):
    _serve(monkeypatch, b"not the real archive")
    with pytest.raises(download.DownloadError, match="md5") as error:
        download.fetch_grouplens("ml-1m", cache_dir=tmp_path)
    assert "c4d9eecfca2ab87c1945afe126590906" in str(error.value)
    assert os.listdir(tmp_path) == []


def test_offline_message_says_what_to_do(monkeypatch, tmp_path):
    def offline(url, timeout=None):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(download, "_urlopen", offline)
    with pytest.raises(download.DownloadError) as error:
        download.fetch_grouplens("ml-1m", cache_dir=tmp_path / "cache")
    message = str(error.value)
    assert "https://files.grouplens.org/datasets/movielens/ml-1m.zip" in message
    assert str(tmp_path / "cache" / "ml-1m.zip") in message
    assert "no route to host" in message
    assert os.listdir(tmp_path / "cache") == []


def test_interrupted_download_leaves_nothing(monkeypatch, tmp_path):
    class Broken(_FakeResponse):
        def read(self, size=-1):
            raise ConnectionResetError("reset")

    monkeypatch.setattr(download, "_urlopen", lambda url, timeout=None: Broken(b""))
    with pytest.raises(download.DownloadError):
        download.fetch_grouplens("ml-1m", cache_dir=tmp_path)
    assert os.listdir(tmp_path) == []


def test_existing_corrupt_file_is_reported(tmp_path):
    (tmp_path / "ml-1m.zip").write_bytes(b"junk")
    with pytest.raises(download.DownloadError, match="delete it"):
        download.fetch_grouplens("ml-1m", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown dataset"):
        download.fetch_grouplens("ml-20m", cache_dir=tmp_path)
