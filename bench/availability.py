"""Benchmark: the availability selector over 1,000,000 addresses, 10 providers, 200 products (PostgreSQL).

Baseline measured in the same run: a primary-key lookup of the address (the floor of any request). Both are
warmed up first on addresses of their own. Target: p95 <= 10 ms for offers_for_address.
"""

import random

from bench.common import django_setup, ms, percentile, run, timed, verdict


def main() -> dict:
    django_setup(name="availability")
    from bench import address_search
    from bench.marketplace_world import marketplace_world
    from cos.models import AddressObject
    from marketplace.selectors import offers_for_address

    address_search.addresses_load()
    marketplace_world()
    rng = random.Random(7)
    ids = list(AddressObject.objects.filter(external_id__startswith="BSRCH-").values_list("pk", flat=True)[::1000])
    sample = [rng.choice(ids) for _ in range(300)]
    for pk in [rng.choice(ids) for _ in range(50)]:  # warm-up of both measures
        address = AddressObject.objects.get(pk=pk)
        offers_for_address(address=address, customer_type=rng.choice(["residential", "business"]))

    floor, selector, counts = [], [], []
    for pk in sample:
        with timed(floor):
            address = AddressObject.objects.get(pk=pk)
        customer_type = rng.choice(["residential", "business"])
        with timed(selector):
            offers = offers_for_address(address=address, customer_type=customer_type)
        counts.append(len(offers))
    p50, p95 = percentile(selector, 50), percentile(selector, 95)
    print("== availability: offers_for_address over 1,000,000 addresses, 10 providers, 200 products ==")
    print(f"{len(sample)} lookups, {min(counts)}-{max(counts)} offers each")
    print(f"selector           p50 {ms(p50)}  p95 {ms(p95)}")
    print(f"raw pk lookup      p50 {ms(percentile(floor, 50))}  p95 {ms(percentile(floor, 95))}")
    print(f"ratio selector/pk lookup at p50: {p50 / percentile(floor, 50):.1f}x")
    print(f"p95 target <= 10 ms: {p95 * 1000:.1f} ms  {verdict(p95 <= 0.010)}")
    return {"p50": p50, "p95": p95}


if __name__ == "__main__":
    run(main)
