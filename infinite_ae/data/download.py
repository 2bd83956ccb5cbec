"""Data locations and the GroupLens MovieLens downloader.

MovieLens may not be redistributed, so the library downloads it from GroupLens,
verifies the published md5 and only then moves it into the cache (temp file +
`os.replace`): nothing half-written ever sits under the final name.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import tempfile
import urllib.error
import urllib.request

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/{name}.zip"
# md5 of the official archives, as published by GroupLens.
GROUPLENS_MD5 = {
    "ml-1m": "c4d9eecfca2ab87c1945afe126590906",
    "ml-100k": "0e33842e24a9c977be4e0107933c0723",
}
_PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[2]
_CHUNK = 1 << 20

# Indirection so tests can serve bytes without the network.
_urlopen = urllib.request.urlopen


class DownloadError(OSError):
    """A download failed or produced a file with the wrong checksum."""


def cache_dir() -> pathlib.Path:
    """$INFINITE_AE_CACHE, else ``~/.cache/infinite_ae`` (not created here)."""
    override = os.environ.get("INFINITE_AE_CACHE")
    if override:
        return pathlib.Path(override).expanduser()
    return pathlib.Path.home() / ".cache" / "infinite_ae"


def data_root() -> pathlib.Path:
    """Root of local datasets.

    $INFINITE_AE_DATA if set, else ``<project>/../shared/data`` if it exists, else
    `cache_dir()`.
    """
    override = os.environ.get("INFINITE_AE_DATA")
    if override:
        return pathlib.Path(override).expanduser()
    shared = _PROJECT_ROOT.parent / "shared" / "data"
    if shared.is_dir():
        return shared
    return cache_dir()


def md5_file(path: str | os.PathLike) -> str:
    """md5 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_grouplens(
    name: str = "ml-1m",
    *,
    cache_dir: str | os.PathLike | None = None,
    timeout: float = 60.0,
) -> pathlib.Path:
    """Downloads (once) and verifies a GroupLens MovieLens zip.

    Args:
        name: "ml-1m" or "ml-100k".
        cache_dir: directory for the archive (default: `cache_dir()`).
        timeout: socket timeout in seconds.

    Returns:
        Path of the verified ``<name>.zip`` in the cache; read it with
        `loaders.load_movielens`.

    Raises:
        ValueError: unknown `name`.
        DownloadError: offline / HTTP failure (the message says which file to fetch
            from which URL and where to save it), or an md5 mismatch (the partial
            download is deleted).
    """
    if name not in GROUPLENS_MD5:
        raise ValueError(
            f"unknown dataset {name!r}; expected one of {list(GROUPLENS_MD5)}"
        )
    directory = pathlib.Path(cache_dir) if cache_dir is not None else _default_cache()
    url = GROUPLENS_URL.format(name=name)
    expected = GROUPLENS_MD5[name]
    target = directory / f"{name}.zip"
    manual = (
        f"Download {url} manually (md5 {expected}) and save it as {target} "
        "(or set INFINITE_AE_CACHE to the directory that holds it)."
    )
    if target.exists():
        if md5_file(target) == expected:
            return target
        raise DownloadError(
            f"{target} exists but its md5 is not {expected}; delete it to download "
            f"again. {manual}"
        )
    directory.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(
        dir=directory, prefix=f".{name}.zip.", suffix=".part", delete=False
    )
    temp_path = pathlib.Path(handle.name)
    try:
        digest = hashlib.md5()
        with handle:
            try:
                with _urlopen(url, timeout=timeout) as response:
                    for block in iter(lambda: response.read(_CHUNK), b""):
                        digest.update(block)
                        handle.write(block)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                reason = getattr(error, "reason", error)
                raise DownloadError(
                    f"could not download {url} ({reason}). {manual}"
                ) from error
            handle.flush()
            os.fsync(handle.fileno())
        actual = digest.hexdigest()
        if actual != expected:
            raise DownloadError(
                f"md5 of the download from {url} is {actual}, expected {expected}; "
                f"the file was deleted. {manual}"
            )
        os.replace(temp_path, target)
    finally:
        if temp_path.exists():
            temp_path.unlink()
    return target


def _default_cache() -> pathlib.Path:
    return cache_dir()
