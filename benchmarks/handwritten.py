"""tiktok_shop 1.0.0 written by hand in plain Python: the practical speed limit.

What a programmer would write for this one policy with no rule engine, no validation and no
explanation: read the few fields the rules read, pick the outcome by the rules' priorities,
compute the refund. It mirrors rulesets/tiktok_shop/1.0.0.yaml as of this commit; the benchmark
checks it against `Policies.decide` on every order it times and reports any disagreement
(which would mean the YAML changed, not that aturan is wrong).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from aturan.language.display import JAKARTA
from aturan.runtime.businessdays import add_business_days


def decide(facts: dict[str, Any]) -> tuple[str, int | None, str | None, tuple[str, ...]]:
    """(outcome, refund amount or None, refund due date or None, next steps)."""
    order, request = facts["order"], facts["request"]
    status, payment = order["status"], order["payment"]
    response = request.get("seller_response")
    decision = response["decision"] if response else None
    cancel, by = request["type"] == "cancel", request["by"]
    now = datetime.fromisoformat(facts.get("now") or request["at"])
    open_order = status in ("paid", "to_ship")
    refund = False
    if open_order and cancel and by == "seller" and request["reason"] in ("out_of_stock",
                                                                         "cannot_ship"):
        outcome, steps, refund = "approved", ("order_cancelled",), True  # priority 70
    elif status == "unpaid" and payment["deadline_at"] and (
            now - datetime.fromisoformat(payment["deadline_at"]) >= timedelta(0)):
        outcome, steps = "approved", ("order_cancelled_by_system",)  # 60
    elif open_order and cancel and by == "buyer" and decision == "approve":
        outcome, steps, refund = "approved", ("order_cancelled",), True  # 55
    elif open_order and cancel and by == "buyer" and decision == "reject":
        outcome, steps = "rejected", ("contact_customer_service",)  # 55
    elif status == "unpaid" and cancel and by == "buyer":
        outcome, steps = "approved", ("order_cancelled",)  # 50
    elif open_order and cancel and by == "buyer" and decision is None:
        outcome = "pending_seller"  # 40
        steps = (("contact_seller", "contact_customer_service") if payment["method"] == "cod"
                 else ("contact_seller",))
    else:
        outcome, steps = "escalated", ("contact_customer_service",)
    if not refund or payment["paid_at"] is None:  # `paid`: nothing back for unpaid/COD
        return outcome, None, None, steps
    return (outcome, order["amounts"]["total"], _due(now.astimezone(JAKARTA).date()), steps)


_DUE: dict[date, str] = {}


def _due(start: date) -> str:
    found = _DUE.get(start)
    if found is None:
        found = _DUE[start] = add_business_days(start, 14).isoformat()
    return found
