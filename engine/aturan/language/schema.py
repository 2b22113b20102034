"""JSON Schema checks of plain trees, with every error turned into a located, ranked Diagnostic."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from ..errors import Diagnostic, Location, pointer_join
from ..resources import load_schema
from ..suggest import did_you_mean


@cache
def validator_for(name: str) -> Draft202012Validator:
    """The validator of a bundled schema, by file stem."""
    return validator_of(load_schema(name))


def validator_of(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for a schema built as data (a policy folder's effective facts schema)."""
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def pointer_of(path: Iterable[Any]) -> str:
    pointer = ""
    for token in path:
        pointer = pointer_join(pointer, token)
    return pointer


def _branch_that_fits(error: ValidationError) -> list[ValidationError] | None:
    """In a oneOf/anyOf over objects, the one branch whose required keys the instance has."""
    branches: dict[object, list[ValidationError]] = {}
    for sub in error.context or ():
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    fitting = [errs for errs in branches.values()
               if not any(e.validator == "required" and len(e.absolute_path)
                          == len(error.absolute_path) for e in errs)]
    return fitting[0] if len(fitting) == 1 else None


def _leaf_errors(error: ValidationError) -> list[ValidationError]:
    """Descend into oneOf/anyOf to the branch that got furthest, so the message is specific."""
    if not error.context:
        return [error]
    fits = _branch_that_fits(error) if isinstance(error.instance, dict) else None
    if fits:
        return [leaf for e in fits for leaf in _leaf_errors(e)][:1]
    best = max(error.context, key=lambda e: (len(e.absolute_path), -len(e.context or [])))
    deepest = [e for e in error.context if len(e.absolute_path) == len(best.absolute_path)]
    if len(best.absolute_path) <= len(error.absolute_path):
        return [error]
    leaves: list[ValidationError] = []
    for e in deepest:
        leaves.extend(_leaf_errors(e))
    return leaves[:1]


# Naming conventions of the schemas' code patterns: codes and names are snake_case, rule ids
# kebab-case. A value that breaks one is told the convention and the value rewritten in it.
_NAMING = {
    "^[a-z][a-z0-9_]*$": ("snake_case", "_"),
    "^[a-z][a-z0-9_]{0,63}$": ("snake_case", "_"),
    "^[a-z0-9][a-z0-9-]{0,79}$": ("kebab-case", "-"),
}


def _naming(value: str, pattern: str) -> str:
    """`'Order-Cancelled' is not snake_case (…): write order_cancelled`, or "" when `pattern`
    is not a naming convention or no rewrite of `value` fits it."""
    if pattern not in _NAMING:
        return ""
    name, sep = _NAMING[pattern]
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", value.strip())  # camelCase -> camel Case
    fixed = re.sub(r"[^a-z0-9]+", sep, words.lower()).strip(sep)
    allowed = f"lower-case letters, digits and {sep}"
    if fixed and re.match(pattern, fixed):
        return f"{value!r} is not {name} ({allowed}): write {fixed}"
    return f"{value!r} is not {name} ({allowed}, starting with a letter)"


def _message(error: ValidationError) -> str:
    if error.validator == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed] if isinstance(error.instance, dict) else []
        if extra:
            hint = did_you_mean(extra[0], allowed)
            return (f'unknown field "{extra[0]}"' + (f"; {hint}" if hint else "")
                    + f" (allowed: {', '.join(allowed)})")
    if error.validator == "enum":
        hint = did_you_mean(error.instance, error.validator_value)
        choices = ", ".join(str(v) for v in error.validator_value)
        return f"{error.instance!r} is not one of: {choices}" + (f". {hint}" if hint else "")
    if error.validator == "required":
        return "required field " + error.message.replace(" is a required property", "") + " is missing"
    if error.validator == "pattern" and isinstance(error.instance, str):
        written = _naming(error.instance, error.validator_value)
        if written:
            return written
        desc = error.schema.get("description", "")
        return f"{error.instance!r} is not well-formed" + (f": {desc}" if desc else "")
    if error.validator in ("maxProperties", "minProperties") and "fact" in (error.instance or {}):
        ops = [k for k in error.instance if k != "fact"]
        if not ops:
            return "a condition needs exactly one operator besides `fact`"
        return f"a condition takes exactly one operator, found {len(ops)}: {', '.join(ops)}"
    return error.message


def schema_diagnostics(tree: Any, schema_name: str,
                       locate: Callable[[str], Location],
                       validator: Draft202012Validator | None = None) -> list[Diagnostic]:
    """All schema violations of `tree`, most specific first, each located via `locate(pointer)`;
    against the bundled schema `schema_name`, or `validator` when given (an effective one)."""
    validator = validator or validator_for(schema_name)
    found: list[Diagnostic] = []
    seen: set[tuple[str, str]] = set()
    errors = sorted(validator.iter_errors(tree), key=jsonschema.exceptions.relevance)
    for top in errors:
        for error in _leaf_errors(top):
            pointer = pointer_of(error.absolute_path)
            if error.validator == "required" and isinstance(error.validator_value, list):
                missing = [k for k in error.validator_value
                           if isinstance(error.instance, dict) and k not in error.instance]
                if missing and f"'{missing[0]}'" in error.message:
                    pointer = pointer_join(pointer, missing[0])
            if error.validator == "additionalProperties" and isinstance(error.instance, dict):
                allowed = error.schema.get("properties", {})
                extra = [k for k in error.instance if k not in allowed]
                if extra:
                    pointer = pointer_join(pointer, extra[0])
            message = _message(error)
            if "propertyNames" in error.relative_schema_path and isinstance(error.instance, str):
                pointer = pointer_join(pointer, error.instance)  # the key itself, located
                message = (f"{error.instance!r} is not a well-formed name here (pattern "
                           f"{error.validator_value})")
            if (pointer, message) in seen:
                continue
            seen.add((pointer, message))
            found.append(Diagnostic("schema", message, locate(pointer)))
    return found
