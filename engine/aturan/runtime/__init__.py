"""Deciding: facts check and flatten, selection, compile to durable_rules, memo, plan, explain."""
