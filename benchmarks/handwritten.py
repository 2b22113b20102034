"""tiktok_shop 1.0.0 written by hand in plain Python: the practical speed limit.

What a programmer would write for this one policy with no rule engine, no validation and no
explanation: read the few fields the rules read, pick the outcome by the rules' priorities,
compute the refund. It mirrors rulesets/tiktok_shop/1.0.0.yaml as of this commit (its 19 rules,
highest priority first; the comment on each branch names the rule); benchmarks/run.py checks it
against `Policies.decide` on every order it times and prints how many agree (fewer than all
means the YAML changed and this function must follow, not that aturan is wrong).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from aturan.language.display import JAKARTA
from aturan.runtime.businessdays import add_business_days

_OPEN = ("paid", "to_ship")
_AFTER_SHIPPING = ("shipped", "delivered", "completed")
_RECEIVED = ("delivered", "completed")
_ZERO, _TWO_DAYS, _SIX_DAYS, _FORTY_EIGHT_HOURS = (timedelta(0), timedelta(days=2),
                                                timedelta(days=6), timedelta(hours=48))
Result = tuple[str, "int | None", "str | None", tuple[str, ...]]


def decide(facts: dict[str, Any]) -> Result:
    """(outcome, refund amount or None, refund due date or None, next steps)."""
    order, request = facts["order"], facts["request"]
    status, payment = order["status"], order["payment"]
    response = request.get("seller_response")
    answer = response["decision"] if response else None
    cancel, by = request["type"] == "cancel", request["by"]
    now = datetime.fromisoformat(facts.get("now") or request["at"])
    open_order = status in _OPEN

    def older(text: str | None, than: timedelta) -> bool:  # `older_than`: false when absent
        return text is not None and now - datetime.fromisoformat(text) >= than

    def refunded(steps: tuple[str, ...], start: str) -> Result:  # amount `paid`
        if payment["paid_at"] is None:
            return "approved", None, None, steps
        moment = datetime.fromisoformat(start)
        return ("approved", order["amounts"]["total"], _due(moment.astimezone(JAKARTA).date()),
                steps)

    if cancel and by == "seller":
        if open_order and request["reason"] in ("out_of_stock", "cannot_ship") and _whole(
                order, request):  # seller-cancel-out-of-stock, 70
            return refunded(("order_cancelled",), request["at"])
        if status in _AFTER_SHIPPING:  # seller-cancel-in-transit-rejected, 70
            return "rejected", None, None, ("order_continues",)
    fulfillment = order["fulfillment"]
    if cancel and by == "system" and open_order and fulfillment["shipped_at"] is None:
        pre_order = any(item["product_type"] == "pre_order" for item in order["items"])
        if older(fulfillment["ship_by"], _TWO_DAYS if pre_order else _ZERO):
            # system-cancel-missed-ship-by, 65
            return refunded(("order_cancelled_by_system",), request["at"])
        # system-cancel-without-ground, 30 (nothing between 65 and 30 matches a system cancel
        # of an open order)
        return "rejected", None, None, ("order_continues",)
    if cancel and status in ("cancelled", "returned"):  # closed-order-cancel-refused, 61
        return "rejected", None, None, ("order_already_closed",)
    if not cancel and status == "returned":  # returned-order-return-refused, 61
        return "rejected", None, None, ("order_already_returned",)
    deadline_passed = status == "unpaid" and older(payment["deadline_at"], _ZERO)
    if deadline_passed:  # payment-deadline-passed, 60
        return "approved", None, None, ("order_cancelled_by_system",)
    buyer = by == "buyer"
    if not cancel and buyer and status in _RECEIVED:
        delivered = fulfillment["delivered_at"]
        if delivered is not None and (datetime.fromisoformat(request["at"])
                                      - datetime.fromisoformat(delivered)) >= _SIX_DAYS:
            return "rejected", None, None, ("return_window_passed",)  # return-window-passed, 60
        if answer == "approve" and response["at"] is not None:  # return-seller-approves, 55
            return "approved", None, None, ("return_parcel_within_5_days",)
        if answer == "reject":  # return-seller-rejects, 55
            return "rejected", None, None, ("buyer_may_resubmit_within_48_hours",)
        if answer is None and not older(request["at"], _FORTY_EIGHT_HOURS):
            # return-needs-seller-response, 45
            return "pending_seller", None, None, ("seller_respond_within_48_hours",)
        return _DEFAULT
    if cancel and buyer:
        if status in _AFTER_SHIPPING:  # shipped-cancel-rejected, 60
            return "rejected", None, None, ("request_return_refund",)
        if open_order:
            if answer == "approve" and response["at"] is not None and _whole(order, request):
                # seller-approves-buyer-cancel, 55
                return refunded(("order_cancelled",), response["at"])
            if answer == "reject":  # seller-declines-buyer-cancel, 55
                return "rejected", None, None, ("contact_customer_service",)
            if answer is None:  # paid-/cod-buyer-cancel..., 40
                return "pending_seller", None, None, (
                    ("contact_seller", "contact_customer_service")
                    if payment["method"] == "cod" else ("contact_seller",))
            return _DEFAULT
        if status == "unpaid":  # unpaid-buyer-cancel, 50
            return "approved", None, None, ("order_cancelled",)
    if not cancel and buyer:
        if status in ("unpaid", "paid", "to_ship"):  # return-before-shipping-..., 59
            return "rejected", None, None, ("request_cancellation",)
        if status == "shipped":  # return-before-delivery-refused, 59
            return "rejected", None, None, ("wait_for_delivery",)
    if (cancel and by == "system" and status == "unpaid" and payment["deadline_at"] is not None
            and not deadline_passed):  # system-cancel-unpaid-before-deadline, 30
        return "rejected", None, None, ("awaiting_payment",)
    return _DEFAULT


_DEFAULT: Result = ("escalated", None, None, ("contact_customer_service",))


def _whole(order: dict[str, Any], request: dict[str, Any]) -> bool:
    """`derived.request.whole_order`: no `request.items`, or every unit of the order asked."""
    asked = request.get("items")
    if asked is None:
        return True
    return (sum(line["quantity"] for line in asked)
            == sum(item["quantity"] for item in order["items"]))


_DUE: dict[date, str] = {}


def _due(start: date) -> str:
    found = _DUE.get(start)
    if found is None:
        found = _DUE[start] = add_business_days(start, 14).isoformat()
    return found
