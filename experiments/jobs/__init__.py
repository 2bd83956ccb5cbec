"""Jobs: `run(settings, data, ctx) -> results dict`, one module per method family."""

import importlib
from collections.abc import Callable
from typing import Any

# method name -> module under experiments.jobs that defines `run`.
_JOBS = {
    "infinite_ae": "krr",
    "ease": "krr",
    "popularity": "krr",
    "multvae": "multvae",
    "distill_cf": "distill_cf",
    "dconrec": "dconrec",
    "sequential": "sequential",
    "distill_to_sequential": "distill_to_sequential",
    "autosample": "autosample",
    "foster": "foster",
}


def get_job(method: str) -> Callable[..., dict[str, Any]]:
    """The `run` function of the job that handles `method`.

    Raises:
      ValueError: unknown method; the message lists the valid names.
    """
    if method not in _JOBS:
        raise ValueError(
            f"config.method={method!r} is not a known method; valid: {sorted(_JOBS)}"
        )
    module = importlib.import_module(f"experiments.jobs.{_JOBS[method]}")
    return module.run
