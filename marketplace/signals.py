"""Derived data inside the marketplace: every market or catalog write gives it a new version (see catalog.py)."""

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from marketplace.catalog import catalog_changed
from marketplace.models import ContractTerm, EligibilityRule, Marketplace, Participation, Price, Product, Promotion

CATALOG_MODELS = (Product, Price, Promotion, EligibilityRule, ContractTerm, Marketplace, Participation)


@receiver(post_save)
@receiver(post_delete)
def catalog_model_changed(sender, **kwargs) -> None:
    if sender in CATALOG_MODELS:
        catalog_changed()


@receiver(m2m_changed, sender=EligibilityRule.marketplaces.through)
@receiver(m2m_changed, sender=EligibilityRule.areas.through)
@receiver(m2m_changed, sender=Marketplace.areas.through)
@receiver(m2m_changed, sender=Participation.barred_areas.through)
def catalog_rule_scope_changed(sender, action, **kwargs) -> None:
    if action.startswith("post_"):
        catalog_changed()
