"""Default `config.distill` section (Distill-CF). Filled in by the Distill-CF job."""

import ml_collections


def get_section() -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict()
