"""What `aturan init DIR` writes: a policy folder that validates, tests (every rule covered) and
lints as it stands, for the author to rewrite rule by rule. Texts are templates filled only
with a platform name and display name that passed the project schema's pattern."""

from __future__ import annotations

from .. import __version__

HOOKS_REPO = "https://github.com/your-org/aturan"  # where the policy repository gets aturan

PROJECT = """\
# yaml-language-server: $schema=schemas/project.schema.json
# The project file of this policy folder: what it adds to aturan's bundled catalogue.
# `aturan validate` reads it; `aturan schema export schemas` refreshes the editor schemas.
description: Order policies for {display}.
{platforms}
facts:
  # extra fact fields: order.ext.<name> or request.ext.<name>; types: enum (with values),
  # rupiah, count, boolean, timestamp, string. Orders send them as {{"order": {{"ext": {{...}}}}}}.
  order.ext.official_store:
    type: boolean
    description: The shop is one of the marketplace's official stores.
# values:                      # extra values of bundled enum facts
#   request.reason: [courier_lost]
# next_steps: [...]            # a closed list of next-step codes, checked by validate
"""

PLATFORM = """\
platforms:
  {name}:
    display_name: {display}
    time_zone: Asia/Jakarta    # refund due dates are counted and times shown here
    holidays: ID               # business days skip Indonesian public holidays (or: none)
"""

NO_PLATFORM = """\
# platforms:                   # marketplaces aturan does not bundle
#   blibli: { display_name: Blibli, time_zone: Asia/Jakarta, holidays: ID }
"""

RULESET = """\
# yaml-language-server: $schema=../../schemas/ruleset.schema.json
ruleset: {name}
version: 1.0.0
effective_from: 2025-01-01T00:00:00+07:00
description: >
  {display} order cancellations. A starting point written by `aturan init`: replace each rule
  and its source with the policy page it is written from.
sources:
  - publisher: {display} Seller Centre
    title: Replace with the title of the policy page these rules follow

default:
  then:
    outcome: escalated
    next_steps: [contact_customer_service]
  explain:
    en: No {display} rule covers this request; customer service decides.
    id: Tidak ada aturan {display} untuk permintaan ini; layanan pelanggan yang memutuskan.

lint:
  silence:
    - code: gap
      reason: Everything the two rules do not cover goes to customer service on purpose.

rules:
  - id: unpaid-buyer-cancel
    description: A buyer cancels an unpaid order and it is cancelled at once.
    priority: 50
    when:
      all:
        - {{ fact: order.status, eq: unpaid }}
        - {{ fact: request.type, eq: cancel }}
        - {{ fact: request.by, eq: buyer }}
    then:
      outcome: approved
      next_steps: [order_cancelled]
    explain:
      en: Order {{order.id}} is unpaid, so the cancellation takes effect at once.
      id: Pesanan {{order.id}} belum dibayar, sehingga pembatalan langsung berlaku.
    source:
      publisher: {display} Seller Centre
      title: Replace with the page that says unpaid orders can be cancelled

  - id: official-store-paid-cancel-refunded
    description: An official store refunds a paid order the buyer cancels before shipping.
    priority: 40
    when:
      all:
        - {{ fact: order.status, in: [paid, to_ship] }}
        - {{ fact: request.type, eq: cancel }}
        - {{ fact: request.by, eq: buyer }}
        - {{ fact: order.ext.official_store, eq: true }}
    then:
      outcome: approved
      refund: {{ amount: paid, destination: original_method,
                eta: {{ min_business_days: 1, max_business_days: 7 }} }}
      next_steps: [order_cancelled]
    explain:
      en: Official stores refund {{order.amounts.total}} when a paid order is cancelled before shipping.
      id: Toko resmi mengembalikan {{order.amounts.total}} bila pesanan yang dibayar dibatalkan sebelum dikirim.
    source:
      publisher: {display} Seller Centre
      title: Replace with the page of the official-store cancellation policy
"""

CASES = """\
# yaml-language-server: $schema=../../../schemas/cases.schema.json
ruleset: {name}@1.0.0
base:
  order:
    id: {prefix}-1001
    platform: {name}
    placed_at: "2025-06-01T10:00:00+07:00"
    status: paid
    payment: {{ method: ewallet, paid_at: "2025-06-01T10:05:00+07:00", deadline_at: null }}
    amounts: {{ items: 150000, shipping: 12000, discount: 0, total: 162000 }}
    items:
      - {{ sku: KAOS-M, product_type: regular, quantity: 1, unit_price: 150000 }}
    seller: {{ id: S-77, policy: null }}
    fulfillment: {{ ship_by: "2025-06-03T23:59:00+07:00", shipped_at: null, delivered_at: null }}
    ext: {{ official_store: false }}
  request: {{ type: cancel, by: buyer, reason: changed_mind, at: "2025-06-01T12:00:00+07:00",
             seller_response: null }}

cases:
  - name: unpaid order cancelled at once
    patch:
      order:
        status: unpaid
        payment: {{ method: virtual_account, paid_at: null, deadline_at: "2025-06-02T10:00:00+07:00" }}
    expect:
      outcome: approved
      refund: null
      decided_by: unpaid-buyer-cancel

  - name: official store refunds a paid cancellation
    patch:
      order: {{ ext: {{ official_store: true }} }}
    expect:
      outcome: approved
      refund: {{ amount: 162000, destination: original_method }}
      decided_by: official-store-paid-cancel-refunded

  - name: any other shop's paid cancellation goes to customer service
    expect:
      outcome: escalated
      decided_by: default
"""

PRE_COMMIT = """\
# Runs aturan's own hooks (its .pre-commit-hooks.yaml) on every commit: `pre-commit install`.
repos:
  - repo: {repo}   # where you get aturan from
    rev: v{version}
    hooks:
      - id: aturan-validate
      - id: aturan-test
      - id: aturan-lint
"""

GITIGNORE = ".venv/\n__pycache__/\n"


def files(name: str, display: str, prefix: str, bundled: bool, repo: str = HOOKS_REPO
          ) -> dict[str, str]:
    """Relative path -> text of every file `aturan init` writes (schemas aside)."""
    platforms = NO_PLATFORM if bundled else PLATFORM.format(name=name, display=display)
    return {
        "aturan.yaml": PROJECT.format(display=display, platforms=platforms),
        f"rulesets/{name}/1.0.0.yaml": RULESET.format(name=name, display=display),
        f"rulesets/{name}/cases/1.0.0.yaml": CASES.format(name=name, prefix=prefix),
        ".pre-commit-config.yaml": PRE_COMMIT.format(repo=repo, version=__version__),
        ".gitignore": GITIGNORE,
    }
