from marketplace.models.catalog import CatalogVersion, ContractTerm, EligibilityRule, Price, Product, Promotion
from marketplace.models.marketplaces import Marketplace, Participation
from marketplace.models.orders import (
    Interest,
    Order,
    OrderLine,
    Subscription,
    SubscriptionChange,
    Switch,
    ValidationFailure,
)

__all__ = [
    "CatalogVersion",
    "ContractTerm",
    "EligibilityRule",
    "Interest",
    "Marketplace",
    "Order",
    "OrderLine",
    "Participation",
    "Price",
    "Product",
    "Promotion",
    "Subscription",
    "SubscriptionChange",
    "Switch",
    "ValidationFailure",
]
