"""Default `config.dconrec` section (DConRec). Filled in by the DConRec job."""

import ml_collections


def get_section() -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict()
