"""Analyses over every possible order: symbolic boxes, z3, witnesses, lint, exhaustive diff."""
