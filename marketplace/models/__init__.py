from marketplace.models.catalog import ContractTerm, EligibilityRule, Price, Product, Promotion
from marketplace.models.marketplaces import Marketplace, Participation
from marketplace.models.orders import Interest, Order, OrderLine, Subscription, ValidationFailure

__all__ = [
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
    "ValidationFailure",
]
