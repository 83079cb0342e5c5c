"""Run every benchmark (`make bench`); each prints its figures, its baseline and the ratio."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import (  # noqa: E402
    activation,
    address_search,
    area_deployment,
    availability,
    order_api,
    workorders_batch,
)

if __name__ == "__main__":
    for bench in (area_deployment, workorders_batch, address_search, availability, order_api, activation):
        bench.main()
        print()
