"""The demo world that `seed_demo` builds: deterministic, so every run produces the same data."""

import random
from decimal import Decimal

STREETS_BY_AREA = {
    "EKB": (
        "Västerås",
        "72",
        ["Storgatan", "Ekbacksvägen", "Björkvägen", "Lönngatan", "Skolgatan", "Kyrkvägen", "Ängsvägen"],
    ),
    "SOL": (
        "Uppsala",
        "75",
        ["Solhöjdsvägen", "Granstigen", "Tallvägen", "Sjögatan", "Parkvägen", "Hagagatan", "Norra Långgatan"],
    ),
    "BJK": (
        "Västerås",
        "72",
        ["Björkhagsvägen", "Rönnstigen", "Hasselvägen", "Aspgatan", "Videvägen", "Almgatan", "Lindallén"],
    ),
}
CENTERS = {
    "EKB": (Decimal("59.616"), Decimal("16.552")),
    "SOL": (Decimal("59.858"), Decimal("17.639")),
    "BJK": (Decimal("59.598"), Decimal("16.498")),
}


def demo_addresses(area_code: str, count: int) -> list[dict]:
    """`count` realistic address rows for an area: mostly villas, some apartment blocks, a few businesses."""
    city, postal_prefix, streets = STREETS_BY_AREA[area_code]
    lat0, lon0 = CENTERS[area_code]
    rng = random.Random(f"cos-demo-{area_code}")
    rows: list[dict] = []
    number = dict.fromkeys(streets, 0)
    while len(rows) < count:
        street = streets[len(rows) % len(streets)]
        number[street] += rng.choice((1, 2, 2, 3))
        roll = rng.random()
        postal = f"{postal_prefix}{streets.index(street) + 1}{rng.randint(10, 19)}"
        base = {
            "street": street,
            "house_number": number[street],
            "postal_code": postal,
            "city": city,
            "latitude": (lat0 + Decimal(rng.randint(-900, 900)) / 100000).quantize(Decimal("0.000001")),
            "longitude": (lon0 + Decimal(rng.randint(-900, 900)) / 100000).quantize(Decimal("0.000001")),
        }
        if roll < 0.12:
            units = rng.choice((6, 8, 12))
            for floor_unit in range(units):
                if len(rows) >= count:
                    break
                unit = f"1{floor_unit // 4 + 1}0{floor_unit % 4 + 1}"
                rows.append({**base, "building_type": "multi_dwelling", "units": units, "unit": unit, "suffix": ""})
        elif roll < 0.18:
            rows.append({**base, "building_type": "business", "units": 1, "unit": "", "suffix": ""})
        else:
            suffix = "B" if rng.random() < 0.05 else ""
            rows.append({**base, "building_type": "single_family", "units": 1, "unit": "", "suffix": suffix})
    for index, row in enumerate(rows, start=1):
        row["external_id"] = f"{area_code}-{index:06d}"
        row["circuit_id"] = f"{area_code}-C{(index - 1) // 32 + 1:03d}"
        row["circuit_name"] = f"{city} {area_code} feeder {(index - 1) // 32 + 1}"
    return rows


def ont_serial(prefix: str, index: int) -> str:
    return f"{prefix}{(0x1A2B0000 + index):08X}"
