"""How values read in text a person sees: rupiah amounts, fact values, durations."""

from __future__ import annotations


def rupiah(amount: int) -> str:
    """Integer rupiah with Indonesian thousands separators: `Rp162.000`."""
    return f"Rp{amount:,}".replace(",", ".")
