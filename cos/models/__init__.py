from cos.models.base import StatefulModel, TimeStampedModel, TransitionLog
from cos.models.events import Event, HandlerRun
from cos.models.geography import AddressObject, AddressStreet, Area
from cos.models.network import OLT, ONT, PonPort
from cos.models.notifications import Message, ProviderNotification
from cos.models.parties import Customer, Membership, Organization
from cos.models.tokens import ApiToken
from cos.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookSecret

__all__ = [
    "OLT",
    "ONT",
    "AddressObject",
    "AddressStreet",
    "ApiToken",
    "Area",
    "Customer",
    "Event",
    "HandlerRun",
    "Membership",
    "Message",
    "Organization",
    "PonPort",
    "ProviderNotification",
    "StatefulModel",
    "TimeStampedModel",
    "TransitionLog",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookSecret",
]
