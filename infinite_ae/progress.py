"""Progress of long loops: a tqdm bar (rate, ETA) plus periodic absl log lines.

Every long loop of the library and the shell (distillation steps, condensation,
training epochs, evaluation batches, benchmark sweeps) reports through `Progress`, so
an interactive user sees a bar and a log file or CI still gets a line every
``log_every_seconds`` with the same rate and ETA. Set the environment variable
``INFINITE_AE_PROGRESS=0`` to hide the bars (the log lines stay).
"""

from __future__ import annotations

import os
import time
from typing import Any

import tqdm
from absl import logging


def bars_enabled() -> bool:
    """False when ``INFINITE_AE_PROGRESS`` is "0" (bars hidden, log lines kept)."""
    return os.environ.get("INFINITE_AE_PROGRESS", "1") != "0"


class Progress:
    """A tqdm bar over ``total`` units plus an absl log line every few seconds.

    Args:
      total: units of work (steps, batches, epochs).
      desc: what the loop does, e.g. "distill" (prefixes bar and log lines).
      unit: the unit's name.
      initial: units already done (a resumed run).
      log_every_seconds: period of the log lines (0 logs every update).

    >>> with Progress(3, "demo", log_every_seconds=1e9) as bar:
    ...     for _ in range(3):
    ...         bar.update(loss=0.5)
    >>> bar.done
    3
    """

    def __init__(
        self,
        total: int,
        desc: str,
        *,
        unit: str = "step",
        initial: int = 0,
        log_every_seconds: float = 30.0,
    ):
        self.total = int(total)
        self.desc = desc
        self.unit = unit
        self.done = int(initial)
        self.log_every_seconds = float(log_every_seconds)
        self._start = time.perf_counter()
        self._start_done = self.done
        self._last_log = self._start
        self._bar = tqdm.tqdm(
            total=self.total,
            initial=self.done,
            desc=desc,
            unit=unit,
            dynamic_ncols=True,
            mininterval=0.5,
            disable=not bars_enabled(),
            leave=False,
        )

    def rate(self) -> float:
        """Units per second since this bar started (resumed units excluded)."""
        elapsed = time.perf_counter() - self._start
        return (self.done - self._start_done) / max(elapsed, 1e-9)

    def update(self, n: int = 1, **info: Any) -> None:
        """Advances by ``n`` units; ``info`` (e.g. loss=0.3) shows on bar and log."""
        self.done += n
        self._bar.update(n)
        text = {k: f"{v:.4g}" if isinstance(v, float) else v for k, v in info.items()}
        if text:
            self._bar.set_postfix(text, refresh=False)
        now = time.perf_counter()
        if now - self._last_log >= self.log_every_seconds or self.done >= self.total:
            self._last_log = now
            rate = self.rate()
            eta = (self.total - self.done) / rate if rate > 0 else float("nan")
            details = " ".join(f"{k}={v}" for k, v in text.items())
            logging.info(
                "%s %d/%d %s (%.3g %s/s, ETA %.0f s) %s",
                self.desc,
                self.done,
                self.total,
                self.unit,
                rate,
                self.unit,
                eta,
                details,
            )

    def close(self) -> None:
        """Removes the bar."""
        self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
