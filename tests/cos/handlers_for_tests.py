"""Event handlers used by the outbox tests: they record each call in the database."""

from cos.models import Organization

calls: list[int] = []
failures_left = {"count": 0}


def record(event) -> None:
    """Creates one organization per event: a visible effect that must happen exactly once."""
    calls.append(event.pk)
    Organization.objects.create(name=f"from event {event.pk}", slug=f"event-{event.pk}", kind="contractor")


def flaky(event) -> None:
    """Fails while failures_left > 0, then behaves like record()."""
    if failures_left["count"] > 0:
        failures_left["count"] -= 1
        slug = f"half-{event.pk}-{failures_left['count']}"
        Organization.objects.create(name="half-written", slug=slug, kind="contractor")
        raise ConnectionError("downstream system unavailable")
    calls.append(event.pk)
    Organization.objects.create(name=f"flaky ok {event.pk}", slug=f"flaky-{event.pk}", kind="contractor")
