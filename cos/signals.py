"""Derived data inside the core app (never business steps: those are services and events)."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from cos.models import AddressObject


@receiver(post_save, sender=AddressObject)
def address_street_index_keep(sender, instance: AddressObject, **kwargs) -> None:
    """Keep the street search index in step with addresses saved one by one (bulk imports refresh it)."""
    from cos.services import street_index_add

    street_index_add(street=instance.street, city=instance.city)
