"""The ledger of existing services, rebuilt from the recorded events; then the database guards of the ledger.

Backfill: every service.activated / .modified / .deactivated event, in order, opens and closes the service's
periods. The profile comes from the event (modify) or from the ordered product (activation); the speeds from the
product of that profile, and the ONT and VLANs from the service as it is now (the events do not carry them).

Guards: rows are never deleted and only ever closed, once (triggers, on PostgreSQL and SQLite); on PostgreSQL an
exclusion constraint keeps the periods of one service id on one ONT from overlapping, whichever provider's.
"""

from django.conf import settings
from django.db import migrations
from django.utils.dateparse import parse_datetime

GUARDED = (
    "id service_id subscription_id provider_id address_id ont_id olt_id pon_port_id network_service_id profile "
    "download_mbps upload_mbps c_vlan s_vlan started_at cause job_id recorded_at"
).split()


def _moment(value):
    return parse_datetime(value) if isinstance(value, str) else value


def _close(Period, period, at, cause):
    Period.objects.filter(pk=period.pk).update(ended_at=max(at, period.started_at), end_cause=cause)


def backfill(apps, schema_editor):
    Event = apps.get_model("cos", "Event")
    Service = apps.get_model("provisioning", "ServiceInstance")
    Period = apps.get_model("provisioning", "ServicePeriod")
    Product = apps.get_model("marketplace", "Product")
    suspended = getattr(settings, "PROVISIONING_SUSPENDED_PROFILE", "suspended")
    for service in Service.objects.exclude(ont__isnull=True).exclude(network_service_id__gt=""):
        if service.status in ("active", "deactivating", "inactive"):
            Service.objects.filter(pk=service.pk).update(network_service_id=f"cos-{service.pk}")
    services = {s.pk: s for s in Service.objects.exclude(ont__isnull=True).select_related("subscription__order_line")}
    speeds = {
        (p.provider_id, p.service_profile): (p.download_mbps, p.upload_mbps)
        for p in Product.objects.order_by("-pk")
    }
    open_periods = {}
    names = ["service.activated", "service.modified", "service.deactivated"]
    for event in Event.objects.filter(name__in=names).order_by("pk").iterator():
        service = services.get(event.payload.get("service_id"))
        if service is None:
            continue
        if event.name == "service.deactivated":
            period = open_periods.pop(service.pk, None)
            if period is not None:
                _close(Period, period, _moment(event.payload["deactivated_at"]), "deactivate")
            continue
        if event.name == "service.activated":
            if service.pk in open_periods:
                continue
            product = Product.objects.get(pk=service.subscription.order_line.product_id)
            at, cause, profile = _moment(event.payload["activated_at"]), "activate", product.service_profile
        else:
            at, profile = _moment(event.payload["modified_at"]), event.payload.get("profile", service.service_profile)
            previous = open_periods.pop(service.pk, None)
            if previous is None:
                continue
            cause = "suspend" if profile == suspended else "resume" if previous.profile == suspended else "modify"
            _close(Period, previous, at, cause)
        down, up = speeds.get((service.provider_id, profile), (service.download_mbps, service.upload_mbps))
        if profile == suspended:
            down = up = getattr(settings, "PROVISIONING_SUSPENDED_MBPS", 1)
        open_periods[service.pk] = Period.objects.create(
            service_id=service.pk,
            subscription_id=service.subscription_id,
            provider_id=service.provider_id,
            address_id=service.address_id,
            ont_id=service.ont_id,
            olt_id=service.olt_id,
            pon_port_id=service.pon_port_id,
            network_service_id=f"cos-{service.pk}",
            profile=profile,
            download_mbps=down,
            upload_mbps=up,
            c_vlan=service.c_vlan,
            s_vlan=service.s_vlan,
            started_at=at,
            cause=cause,
        )


def guards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    table = "provisioning_serviceperiod"
    if vendor == "postgresql":
        columns = ", ".join(f"NEW.{c}" for c in GUARDED), ", ".join(f"OLD.{c}" for c in GUARDED)
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        schema_editor.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT period_no_overlap_per_ont_service EXCLUDE USING gist "
            "(ont_id WITH =, network_service_id WITH =, tstzrange(started_at, ended_at, '[)') WITH &&)"
        )
        schema_editor.execute(
            f"""
            CREATE OR REPLACE FUNCTION {table}_guard() RETURNS trigger AS $$
            BEGIN
              IF TG_OP = 'DELETE' THEN
                RAISE EXCEPTION 'service periods are never deleted (period %%)', OLD.id;
              END IF;
              IF OLD.ended_at IS NOT NULL OR ROW({columns[0]}) IS DISTINCT FROM ROW({columns[1]}) THEN
                RAISE EXCEPTION 'a service period is only ever closed, once (period %%)', OLD.id;
              END IF;
              RETURN NEW;
            END $$ LANGUAGE plpgsql
            """
        )
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_guard()"
        )
    elif vendor == "sqlite":
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in GUARDED)
        # No DELETE trigger here: the test suite empties tables with DELETE on SQLite (PostgreSQL truncates).
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
            f"WHEN OLD.ended_at IS NOT NULL OR {changed} "
            "BEGIN SELECT RAISE(ABORT, 'a service period is only ever closed, once'); END"
        )


def guards_drop(apps, schema_editor):
    table = "provisioning_serviceperiod"
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {table}_guard()")
        schema_editor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS period_no_overlap_per_ont_service")
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only")


class Migration(migrations.Migration):
    dependencies = [("provisioning", "0003_service_periods")]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RunPython(guards, guards_drop),
    ]
