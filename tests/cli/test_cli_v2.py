"""The language v2 constructs through the command line, as a user meets them (issue 16's "done
when"), on the fixture ruleset tests/fixtures/v2: decisions in text and JSON, why-not reports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from aturan.cli import main
from aturan.regression.cases import deep_merge
from conftest import V2_RULESETS

BASE: dict[str, Any] = {
    "order": {
        "id": "V2-1", "platform": "tiktok_shop", "placed_at": "2025-07-01T09:00:00+07:00",
        "status": "paid",
        "payment": {"method": "ewallet", "paid_at": "2025-07-01T09:02:00+07:00",
                    "deadline_at": None},
        "amounts": {"items": 240000, "shipping": 10000, "discount": 20000, "total": 230000},
        "items": [{"sku": "SEPATU-42", "product_type": "regular", "quantity": 1,
                   "unit_price": 240000}],
        "seller": {"id": "S-88", "policy": None},
        "fulfillment": {"ship_by": "2025-07-03T23:59:00+07:00", "shipped_at": None,
                        "delivered_at": None},
    },
    "request": {"type": "cancel", "by": "buyer", "reason": "changed_mind",
                "at": "2025-07-01T10:00:00+07:00", "seller_response": None},
}


def facts(patch: dict[str, Any]) -> dict[str, Any]:
    return deep_merge(BASE, patch)


def decide(capsys, tmp_path: Path, document: dict[str, Any], *extra: str) -> tuple[int, str]:
    path = tmp_path / "order.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    code = main(["decide", str(path), "--rulesets", str(V2_RULESETS), *extra])
    out, err = capsys.readouterr()
    return code, out + err


def decide_json(capsys, tmp_path: Path, document: dict[str, Any]) -> dict[str, Any]:
    code, out = decide(capsys, tmp_path, document, "--format", "json")
    assert code == 0, out
    return json.loads(out)


LATE_REJECTION = {"request": {"seller_response": {"decision": "reject",
                                                  "at": "2025-07-03T12:00:00+07:00"}},
                  "now": "2025-07-03T12:00:00+07:00"}


def test_a_late_seller_answer_is_ignored(capsys, tmp_path):
    """The seller rejects 50 hours after the request; the window is 2 days: the rejection does
    not stand, the cancellation was approved automatically, and the explanation says so with
    the actual gap."""
    decision = decide_json(capsys, tmp_path, facts(LATE_REJECTION))
    assert decision["outcome"] == "auto_approved"
    assert decision["explanation"][0]["rule"] == "late-answer-ignored"
    [gap] = [c for c in decision["explanation"][0]["because"] if "of" in c]
    assert gap == {"fact": "request.seller_response.at", "op": "older_than", "expected": "2d",
                   "of": "request.at", "actual": "2025-07-03T12:00:00+07:00",
                   "of_actual": "2025-07-01T10:00:00+07:00", "gap": "2d2h"}
    code, text = decide(capsys, tmp_path, facts(LATE_REJECTION))
    assert code == 0
    assert text.startswith("AUTO_APPROVED")
    assert ("request.seller_response.at older_than 2d of request.at — actual 2025-07-03T12:00:00"
            "+07:00, request.at 2025-07-01T10:00:00+07:00 (2d2h after request.at)") in text


def test_why_not_shows_the_window_the_rejection_missed(capsys, tmp_path):
    code, text = decide(capsys, tmp_path, facts(LATE_REJECTION), "--why-not",
                        "seller-rejects-in-window")
    assert code == 0
    assert "why not seller-rejects-in-window" in text
    assert ("✘ request.seller_response.at within 2d of request.at — actual 2025-07-03T12:00:00"
            "+07:00, request.at 2025-07-01T10:00:00+07:00 (2d2h after request.at)") in text
    path = tmp_path / "order.json"
    main(["decide", str(path), "--rulesets", str(V2_RULESETS), "--format", "json",
          "--why-not", "seller-rejects-in-window"])
    report = json.loads(capsys.readouterr().out)
    [atom] = [c for c in report["condition"]["conditions"] if c.get("of")]
    assert (atom["holds"], atom["gap"], atom["of_actual"]) == (False, "2d2h",
                                                               "2025-07-01T10:00:00+07:00")


def test_a_rejection_inside_the_window_stands(capsys, tmp_path):
    decision = decide_json(capsys, tmp_path, facts({"request": {"seller_response": {
        "decision": "reject", "at": "2025-07-03T09:59:59+07:00"}}}))
    assert (decision["outcome"], decision["explanation"][0]["rule"]) == (
        "rejected", "seller-rejects-in-window")


DELIVERED = {"order": {"status": "delivered",
                       "fulfillment": {"shipped_at": "2025-07-02T09:00:00+07:00",
                                       "delivered_at": "2025-07-03T09:00:00+07:00"}}}


def test_a_return_inside_and_outside_its_window(capsys, tmp_path):
    inside = decide_json(capsys, tmp_path, facts({**DELIVERED, "request": {
        "type": "return_refund", "reason": "damaged", "at": "2025-07-09T08:59:59+07:00"}}))
    outside = decide_json(capsys, tmp_path, facts({**DELIVERED, "request": {
        "type": "return_refund", "reason": "damaged", "at": "2025-07-09T09:00:00+07:00"}}))
    assert (inside["outcome"], inside["explanation"][0]["rule"]) == (
        "pending_seller", "return-in-window")
    assert (outside["outcome"], outside["explanation"][0]["rule"]) == (
        "rejected", "return-out-of-window")
    assert inside["explanation"][0]["because"][-1]["gap"] == "5d23h59m59s"
    assert outside["explanation"][0]["because"][-1]["gap"] == "6d"


def test_a_refund_due_date_is_counted_from_the_approval(capsys, tmp_path):
    """Approved by the seller on 2 July, looked at on 10 July: the refund is due 14 business
    days after the approval (22 July), not after the day it is looked at (30 July), and the
    decision says when the approval took effect."""
    from datetime import date

    from aturan.runtime.businessdays import add_business_days
    approved = facts({"request": {"seller_response": {"decision": "approve",
                                                      "at": "2025-07-02T10:00:00+07:00"}},
                      "now": "2025-07-10T10:00:00+07:00"})
    decision = decide_json(capsys, tmp_path, approved)
    assert decision["effective_at"] == "2025-07-02T10:00:00+07:00"
    assert decision["refund"]["eta"]["due_by"] == "2025-07-22"
    kinds = "public_and_joint_leave"  # the fixture's
    assert add_business_days(date(2025, 7, 2), 14, "ID", kinds).isoformat() == "2025-07-22"
    assert add_business_days(date(2025, 7, 10), 14, "ID", kinds).isoformat() == "2025-07-30"
    code, text = decide(capsys, tmp_path, approved)
    assert code == 0
    assert re.search(r"takes effect +2025-07-02 10:00 WIB", text)
    assert "due by 2025-07-22" in text


def test_the_auto_approval_takes_effect_at_its_deadline(capsys, tmp_path):
    decision = decide_json(capsys, tmp_path, facts({"now": "2025-07-08T10:00:00+07:00"}))
    assert decision["outcome"] == "auto_approved"
    assert decision["effective_at"] == "2025-07-03T10:00:00+07:00"  # request.at + 2d


TWO_LINES = {"order": {"amounts": {"items": 300000, "shipping": 10000, "discount": 20000,
                                   "total": 290000},
                       "items": [{"sku": "SEPATU-42", "product_type": "regular", "quantity": 1,
                                  "unit_price": 240000},
                                 {"sku": "KAOS-M", "product_type": "regular", "quantity": 2,
                                  "unit_price": 30000}]}}


def test_a_partial_cancellation_of_one_item_gets_its_own_refund(capsys, tmp_path):
    """One of two T-shirts is cancelled: the refund is that unit's price, not the order's
    total, and the decision says which items it covers."""
    decision = decide_json(capsys, tmp_path, facts({**TWO_LINES, "request": {
        "items": [{"sku": "KAOS-M", "quantity": 1}]}}))
    assert decision["explanation"][0]["rule"] == "partial-cancel"
    assert decision["refund"]["amount"] == 30000
    assert decision["covers"] == [{"sku": "KAOS-M", "quantity": 1, "amount": 30000}]
    code, text = decide(capsys, tmp_path, facts({**TWO_LINES, "request": {
        "items": [{"sku": "KAOS-M", "quantity": 1}]}}))
    assert code == 0
    assert re.search(r"refund +Rp30.000", text) and re.search(r"covers +1 x KAOS-M \(Rp30.000\)", text)
    whole = decide_json(capsys, tmp_path, facts(TWO_LINES))
    assert whole["explanation"][0]["rule"] == "pending-seller" and "covers" not in whole


def test_more_units_than_ordered_are_refused_naming_both_pointers(capsys, tmp_path):
    code, out = decide(capsys, tmp_path, facts({**TWO_LINES, "request": {
        "items": [{"sku": "KAOS-M", "quantity": 3}]}}), "--format", "json")
    assert code == 1
    [error] = json.loads(out)["errors"]
    assert error["pointers"] == ["/request/items/0/quantity", "/order/items/1/quantity"]



def test_a_return_says_how_it_is_resolved(capsys, tmp_path):
    """Inside its window, a self-arranged return the seller approved is refunded less the
    postage the buyer pays; the decision says so, and its text output too."""
    document = facts({**DELIVERED, "request": {
        "type": "return_refund", "reason": "not_as_described", "at": "2025-07-05T09:00:00+07:00",
        "return_method": "self_arranged", "return_shipping_fee": 12000,
        "seller_response": {"decision": "approve", "at": "2025-07-06T09:00:00+07:00"}}})
    decision = decide_json(capsys, tmp_path, document)
    assert decision["return"] == {"resolution": "return_and_refund", "shipping_paid_by": "buyer"}
    assert decision["refund"]["amount"] == 240000 - 12000 - 10000  # min(items, total) - postage
    code, text = decide(capsys, tmp_path, document, "--lang", "id")
    assert code == 0
    assert re.search(r"retur +kembalikan barang dan dana, ongkos kirim retur ditanggung pembeli",
                     text)
