"""Provider API of subscriptions: list and read your subscriptions, and the lifecycle commands (terminate,
withdraw a notice, change plan, suspend, resume). Each command is one service call; repeating it returns the same
state, and every refusal is a JSON error with a stable code."""

import django_filters
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cos.api.filters import IdFilter
from cos.api.providers import ProviderScopedMixin
from cos.api.schema import ERROR_409
from cos.api.serializers import InputSerializer
from marketplace import services
from marketplace.choices import (
    OPEN_SWITCH_STATUSES,
    CancellationReason,
    ChangeStatus,
    LifecycleReason,
    ProductCategory,
    SubscriptionStatus,
)
from marketplace.models import Subscription, SubscriptionChange, Switch
from marketplace.selectors import subscription_end_dates

COMMAND_ERRORS = {409: ERROR_409}
IN_SERVICE = (SubscriptionStatus.ACTIVE, SubscriptionStatus.AWAITING_CANCELLATION)


class ChangeSerializer(serializers.ModelSerializer):
    to_product = serializers.IntegerField(source="to_product_id")
    to_product_name = serializers.CharField(source="to_product.name")

    class Meta:
        model = SubscriptionChange
        fields = ["id", "kind", "status", "to_product", "to_product_name", "to_amount", "effective_on", "applied_at"]


class SwitchAwaySerializer(serializers.ModelSerializer):
    """Another provider takes this service over (who is not said: the subscriber chose)."""

    class Meta:
        model = Switch
        fields = ["handover_on", "status"]


class SubscriptionSerializer(serializers.ModelSerializer):
    product = serializers.IntegerField(source="product_id")
    product_name = serializers.CharField(source="product.name")
    order = serializers.IntegerField(source="order_line.order_id")
    address = serializers.SerializerMethodField()
    customer = serializers.SerializerMethodField()
    earliest_end = serializers.SerializerMethodField(help_text="The earliest end day if notice is given today.")
    early_termination_fee_until = serializers.SerializerMethodField(
        help_text="Ending before this day costs the early-termination fee."
    )
    change = serializers.SerializerMethodField(help_text="A change of plan under way, if any.")
    switch_away = serializers.SerializerMethodField(help_text="Another provider takes this service over.")

    class Meta:
        model = Subscription
        fields = [
            "id",
            "order",
            "status",
            "category",
            "product",
            "product_name",
            "address",
            "customer",
            "monthly_amount",
            "start_fee",
            "currency",
            "billing_cycle",
            "minimum_months",
            "notice_days",
            "early_termination_fee",
            "activated_at",
            "notice_given_at",
            "ends_on",
            "terminated_at",
            "cancellation_reason",
            "cancellation_note",
            "early_termination_charged",
            "earliest_end",
            "early_termination_fee_until",
            "change",
            "switch_away",
        ]

    def get_address(self, subscription) -> dict:
        return {"id": subscription.address_id, "label": subscription.address.label}

    def get_customer(self, subscription) -> dict:
        c = subscription.customer
        return {"id": c.pk, "name": c.display_name, "email": c.email}

    def _dates(self, subscription):
        return subscription_end_dates(subscription) if subscription.status == SubscriptionStatus.ACTIVE else None

    def get_earliest_end(self, subscription) -> str | None:
        dates = self._dates(subscription)
        return dates.earliest.isoformat() if dates else None

    def get_early_termination_fee_until(self, subscription) -> str | None:
        dates = self._dates(subscription)
        return dates.minimum_end.isoformat() if dates and dates.minimum_end and dates.fee is not None else None

    def get_change(self, subscription) -> dict | None:
        open_changes = getattr(subscription, "open_changes", [])
        return ChangeSerializer(open_changes[0]).data if open_changes else None

    def get_switch_away(self, subscription) -> dict | None:
        switches = getattr(subscription, "open_switches_away", [])
        return SwitchAwaySerializer(switches[0]).data if switches else None


class TerminateInputSerializer(InputSerializer):
    reason = serializers.ChoiceField(CancellationReason.choices)
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    ends_on = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="Default: the earliest day the terms allow."
    )


class ChangeInputSerializer(InputSerializer):
    product = serializers.IntegerField(min_value=1, help_text="Another of your products of the same category.")
    reason = serializers.ChoiceField(LifecycleReason.choices, default=LifecycleReason.CUSTOMER_REQUEST)
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class LifecycleInputSerializer(InputSerializer):
    reason = serializers.ChoiceField(LifecycleReason.choices)
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class SubscriptionFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=SubscriptionStatus.choices)
    category = django_filters.ChoiceFilter(choices=ProductCategory.choices)
    address = IdFilter(field_name="address_id")
    marketplace = IdFilter(field_name="marketplace_id")

    class Meta:
        model = Subscription
        fields = ["status", "category", "address", "marketplace"]


class SubscriptionViewSet(
    ProviderScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Your subscriptions (the commercial contracts of your services) and their lifecycle."""

    queryset = (
        Subscription.objects.select_related("product", "address", "customer", "marketplace", "order_line")
        .prefetch_related(
            Prefetch(
                "changes",
                queryset=SubscriptionChange.objects.filter(
                    status__in=[ChangeStatus.SCHEDULED, ChangeStatus.REQUESTED]
                ).select_related("to_product"),
                to_attr="open_changes",
            ),
            Prefetch(
                "switches_away",
                queryset=Switch.objects.filter(status__in=OPEN_SWITCH_STATUSES),
                to_attr="open_switches_away",
            ),
        )
        .order_by("-pk")
    )
    serializer_class = SubscriptionSerializer
    filterset_class = SubscriptionFilter

    def _done(self, subscription_id: int):
        return Response(self.get_serializer(self.get_queryset().get(pk=subscription_id)).data)

    @extend_schema(request=TerminateInputSerializer, responses={200: SubscriptionSerializer, **COMMAND_ERRORS})
    @action(detail=True, methods=["post"])
    def terminate(self, request, pk=None):
        """End the subscription on `ends_on` (default: the earliest day its notice and minimum term allow). A later
        day puts it under notice (status awaiting_cancellation); the network turns it off on the day, and billing
        stops at the verified deactivation. Before the minimum term it ends only where an early-termination fee is
        set; the fee goes on the final invoice."""
        subscription = self.get_object()
        data = TerminateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.subscription_terminate(subscription_id=subscription.pk, actor=request.user, **data.validated_data)
        return self._done(subscription.pk)

    @extend_schema(request=None, responses={200: SubscriptionSerializer, **COMMAND_ERRORS})
    @action(detail=True, methods=["post"], url_path="withdraw-notice")
    def withdraw_notice(self, request, pk=None):
        """Withdraw a notice before its end day: the subscription runs on."""
        subscription = self.get_object()
        services.subscription_notice_withdraw(subscription_id=subscription.pk, actor=request.user)
        return self._done(subscription.pk)

    @extend_schema(request=ChangeInputSerializer, responses={200: SubscriptionSerializer, **COMMAND_ERRORS})
    @action(detail=True, methods=["post"])
    def change(self, request, pk=None):
        """Change the plan to another of your products of the same category, at its current price. An upgrade goes
        to the network at once, a downgrade at the next billing period; the new price applies from the day the
        network verified the new profile."""
        subscription = self.get_object()
        data = ChangeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        services.subscription_change_request(
            subscription_id=subscription.pk,
            product_id=v["product"],
            actor=request.user,
            reason_code=v["reason"],
            note=v["note"],
        )
        return self._done(subscription.pk)

    @extend_schema(request=None, responses={200: SubscriptionSerializer, **COMMAND_ERRORS})
    @action(detail=True, methods=["post"], url_path="withdraw-change")
    def withdraw_change(self, request, pk=None):
        """Withdraw a change of plan that has not been sent to the network yet (a downgrade waiting for its day)."""
        subscription = self.get_object()
        change = subscription.open_changes[0] if subscription.open_changes else None
        if change is not None:
            services.subscription_change_cancel(change_id=change.pk, actor=request.user)
        return self._done(subscription.pk)

    def _lifecycle(self, request, service):
        subscription = self.get_object()
        data = LifecycleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        service(
            subscription_id=subscription.pk,
            actor=request.user,
            reason_code=data.validated_data["reason"],
            reason=data.validated_data["note"],
        )
        return self._done(subscription.pk)

    @extend_schema(request=LifecycleInputSerializer, responses={200: SubscriptionSerializer, **COMMAND_ERRORS})
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        """Suspend the service (e.g. your own dunning): the network moves it to the suspended profile, and its days
        are not billed from the verified moment."""
        return self._lifecycle(request, services.subscription_suspend)

    @extend_schema(request=LifecycleInputSerializer, responses={200: SubscriptionSerializer, **COMMAND_ERRORS})
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Resume a suspended service: the plan's profile is restored, and billing resumes from the verified
        moment."""
        return self._lifecycle(request, services.subscription_resume)
