"""Extension point of the subscriber portal: higher apps add what they know about an order.

The portal page lives with the buyflow, below field work, provisioning and billing in the
dependency order, so it cannot import them. Each of them registers a function that takes the
customer's orders and returns, per order id, the template to include and its context.
"""

from collections import defaultdict
from collections.abc import Callable

_order_sections: list[Callable] = []


def order_section(fn: Callable) -> Callable:
    """Register `fn(orders) -> {order_id: {"template": ..., **context}}`; it must not query per order."""
    _order_sections.append(fn)
    return fn


def order_sections(orders) -> dict[int, list[dict]]:
    sections = defaultdict(list)
    for fn in _order_sections:
        for order_id, section in fn(orders).items():
            sections[order_id].append(section)
    return sections
