"""The ruleset language: YAML with positions, schema, model, semantic checks, the fact catalogue."""
