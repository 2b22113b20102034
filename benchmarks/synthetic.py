"""Synthetic rulesets of N rules, to show how evaluation cost grows with the number of rules.

Rules are drawn (seeded) from the facts real rulesets test: status, payment method, request
kind and reason, seller response, product types, and in 3 rules of 10 an amount or a duration
on a timestamp, so durable_rules sees realistic alpha/beta networks and the memo realistic
keys. Every rule has its own priority (no equal-priority conflicts); a third add next steps
instead of deciding. Written as a `shopee` version so `aturan.regression.sample` can build its corpus.

Conditions are equalities rather than `in` lists on purpose: durable_rules 2.0.28 expands each
`$or` into branches and refuses a network with more than 128 such entries under one node
(`create_ruleset` error 107, ERR_RULE_EXISTS_LIMIT_EXCEEDED); with 1-3 element `in` lists on
status and reason that limit was reached at about 360 rules. See docs/performance.md.
"""

from __future__ import annotations

import random
from pathlib import Path

STATUSES = ["unpaid", "paid", "to_ship", "shipped", "delivered", "completed"]
METHODS = ["cod", "ewallet", "bank_transfer", "virtual_account", "credit_card", "paylater"]
REASONS = ["changed_mind", "found_cheaper", "wrong_item", "shipping_delay", "out_of_stock",
           "cannot_ship", "address_issue", "damaged", "not_as_described", "other"]
DURATIONS = ["1h", "6h", "24h", "2d", "3d", "7d", "14d"]
TIMESTAMPS = ["order.placed_at", "order.fulfillment.ship_by", "order.payment.deadline_at",
              "order.fulfillment.shipped_at", "order.fulfillment.delivered_at", "request.at"]
OUTCOMES = ["approved", "rejected", "pending_seller", "auto_approved", "escalated"]

HEAD = """\
ruleset: shopee
version: 9.0.0
effective_from: 2020-01-01T00:00:00+07:00
description: Synthetic ruleset of {n} rules for benchmarks/run.py.
sources:
  - {{ publisher: Synthetic, title: aturan benchmark }}
default:
  then: {{ outcome: escalated, next_steps: [contact_customer_service] }}
  explain: {{ en: "No synthetic rule matched {{order.id}}.", id: "Tidak ada aturan untuk {{order.id}}." }}
rules:
"""


def _atoms(rng: random.Random) -> list[str]:
    atoms = [f"{{ fact: order.status, eq: {rng.choice(STATUSES)} }}",
             f"{{ fact: request.type, eq: {rng.choice(['cancel', 'return_refund'])} }}",
             f"{{ fact: request.by, eq: {rng.choice(['buyer', 'seller', 'system'])} }}"]
    optional = [
        lambda: f"{{ fact: order.payment.method, eq: {rng.choice(METHODS)} }}",
        lambda: f"{{ fact: request.reason, eq: {rng.choice(REASONS)} }}",
        lambda: f"{{ fact: request.seller_response.decision, {rng.choice(['eq: approve', 'eq: reject'])} }}",
        lambda: f"{{ fact: {rng.choice(TIMESTAMPS)}, {rng.choice(['older_than', 'within'])}: {rng.choice(DURATIONS)} }}",
        lambda: f"{{ fact: order.amounts.total, {rng.choice(['gt', 'le'])}: {rng.choice([50000, 100000, 250000, 1000000])} }}",
        lambda: f"{{ fact: derived.has_{rng.choice(['custom_made', 'pre_order', 'digital'])}, eq: {rng.choice(['true', 'false'])} }}",
    ]
    equalities, comparisons = optional[:3] + optional[5:], optional[3:5]
    atoms += [make() for make in rng.sample(equalities, rng.randint(1, 2))]
    if rng.random() < 0.3:  # durable_rules keeps at most 128 non-equality tests per node
        atoms.append(rng.choice(comparisons)())
    return atoms


def ruleset_text(n: int, seed: int = 7) -> str:
    rng = random.Random(f"{seed}:{n}")
    lines = [HEAD.format(n=n)]
    for i in range(n):
        deciding = i % 3 != 2
        then = (f"{{ outcome: {rng.choice(OUTCOMES)}, next_steps: [step_{i}] }}" if deciding
                else f"{{ next_steps: [note_{i}] }}")
        lines.append(f"""\
  - id: synthetic-{i}
    description: Synthetic rule {i}.
    priority: {1000 - i}
    when:
      all:
{''.join(f'        - {atom}{chr(10)}' for atom in _atoms(rng))}\
    then: {then}
    explain: {{ en: "Rule {i} applies to order {{order.id}}.", id: "Aturan {i} berlaku untuk pesanan {{order.id}}." }}
    source: {{ publisher: Synthetic, title: aturan benchmark }}
""")
    return "".join(lines)


def write(root: Path, n: int) -> Path:
    """rulesets/shopee/9.0.0.yaml under `root` with `n` rules; returns the rulesets folder."""
    target = root / "rulesets" / "shopee" / "9.0.0.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(ruleset_text(n), encoding="utf-8")
    return root / "rulesets"
