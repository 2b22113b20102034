"""A fast accept-only check of order facts, compiled from schemas/facts.schema.json, that flattens
valid facts in the same pass.

jsonschema interprets the schema on every call (about 1.4 ms per order here); this module turns
the schema once into one straight-line Python function (about 5 µs). It only ever *accepts*:
it returns the flat `path -> value` map for facts jsonschema would accept, or None for anything
else, and then `facts.flatten_facts` runs the jsonschema path, which either finds the errors
(with their messages and JSON pointers, unchanged) or accepts what this check was too cautious
to. So it can be conservative (exact types, no subclasses), never lax.

Only a whitelist of keywords is compiled; a schema using any other keyword gets no fast check at
all (`compile_checker` returns None), so a schema change can slow validation down but never let
bad facts through. The generated source is built from a facts schema alone (the bundled one, or
a policy folder's effective one, whose added names its project file's schema has validated):
property names must be identifiers (anything else: no fast check) and appear as `repr` literals,
values are constants passed in, other names are generated here, and facts are only ever data to
it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Checker = Callable[[Any], "dict[str, Any] | None"]

_ANNOTATIONS = {"description", "title", "readOnly", "writeOnly", "$schema", "$id", "$comment",
                "examples", "default", "$defs", "deprecated",
                "x-sensitive"}  # aturan's own: what the decision log masks (aturan.audit)
_KEYWORDS = {"type", "enum", "properties", "required", "additionalProperties", "anyOf", "$ref",
             "minLength", "maxLength", "pattern", "format", "minimum", "maximum", "minItems",
             "maxItems", "items"}
_TYPE_TEST = {"string": "type({v}) is str", "integer": "type({v}) is int",
              "boolean": "({v} is True or {v} is False)", "null": "{v} is None",
              "object": "type({v}) is dict", "array": "type({v}) is list"}


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")  # property names in generated code
_BODY = 2  # indentation of a generated function's body, inside its `try:`


class Unsupported(Exception):
    """The schema uses something this compiler does not translate."""


@dataclass(frozen=True)
class Shortcut:
    """A cheap test that may stand in for a pattern's regex search at the given dotted paths.

    `test` is a Python expression over `{v}` (with `names` as its constants). The caller
    promises that every string the test lets through *without* matching the pattern is refused
    later by the caller itself (which then falls back to jsonschema), so acceptance stays exact.
    """

    test: str
    names: dict[str, Any]
    paths: frozenset[str]


Shortcuts = dict[str, Shortcut]  # pattern -> shortcut


@dataclass(frozen=True)
class Limits:
    """Bounds `facts` enforces beyond the schema; accepted facts must be within them too."""

    max_string: int  # characters in a text or a key
    max_int: int  # integers must have abs() below it
    max_depth: int  # containers nest less deep than this (root = 0)
    max_values: int  # values, containers included


@dataclass(frozen=True)
class Parse:
    """Statements turning an accepted leaf at one of `paths` into the value stored for it,
    run where the leaf is found: `lines` (indented as they run, `{v}` the leaf's variable,
    `{m}` the variable then stored, `{k}` the constant naming its path; a ValueError means
    "not accepted"), `start` at the top of the function, `names` their constants. Only for
    leaves of the main function: one in an anyOf branch makes the schema Unsupported."""

    paths: frozenset[str]
    lines: tuple[str, ...]
    start: tuple[str, ...]
    names: dict[str, Any]


class _Compiler:
    def __init__(self, root: dict[str, Any], format_conforms: Callable[[Any, str], bool] | None,
                 checked_formats: frozenset[str], limits: Limits, shortcuts: Shortcuts,
                 parse: Parse | None = None):
        self.root = root
        self.parse = parse
        self.limits = limits
        self.shortcuts = shortcuts
        self.where: str | None = ""  # dotted path of the value being compiled (None: in an array)
        self.names: dict[str, Any] = {}
        self.helpers: list[str] = []  # functions for array items and anyOf branches
        self.lines: list[str] = []
        self.always: dict[str, str] = {}  # flat path -> variable, for leaves always present
        self.in_main = True
        self.counter = 0
        self.format_conforms = format_conforms
        self.checked_formats = checked_formats

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def constant(self, value: Any, stem: str = "K") -> str:
        name = self.fresh(stem)
        self.names[name] = value
        return name

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        """Merge a local `$ref` into the node (siblings of `$ref` apply too in 2020-12)."""
        while "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
                raise Unsupported(f"$ref {ref!r}")
            target = self.root.get("$defs", {}).get(ref[len("#/$defs/"):])
            if not isinstance(target, dict):
                raise Unsupported(f"$ref {ref!r}")
            rest = {k: v for k, v in node.items() if k != "$ref"}
            clash = set(rest) & set(target) - _ANNOTATIONS
            if clash:
                raise Unsupported(f"$ref beside {sorted(clash)}")
            node = {**target, **rest}
        unknown = set(node) - _KEYWORDS - _ANNOTATIONS
        if unknown:
            raise Unsupported(f"keywords {sorted(unknown)}")
        return node

    def value(self, node: dict[str, Any], var: str, path: str | None, depth: int,
              top: bool = False) -> None:
        """Emit code that returns None unless `var` is valid per `node`, and stores its leaves
        under `path` in `out` the way `facts._flatten` does (nothing when `path` is None)."""
        node = self.resolve(node)
        if "anyOf" in node:
            self.any_of(node, var, path, depth)
            return
        kinds = node.get("type")
        enum = node.get("enum")
        if enum is not None:
            if not isinstance(enum, list) or not enum or not all(type(e) is str for e in enum):
                raise Unsupported("enum of non-strings")
            if kinds not in (None, "string"):
                raise Unsupported(f"enum with type {kinds!r}")
            kinds = "string"
        if not isinstance(kinds, str) or kinds not in _TYPE_TEST:
            raise Unsupported(f"type {kinds!r}")  # untyped or multi-typed: no fast path
        if kinds != "string" and node.get("format") in self.checked_formats:
            raise Unsupported(f"format on a {kinds}")
        if kinds == "string":
            self.string(node, var, depth)
        elif kinds == "integer":
            self.integer(node, var, depth)
        elif kinds == "object":
            self.object(node, var, path, depth, top)
            return
        elif kinds == "array":
            self.array(node, var, path, depth)
            return
        else:
            self.emit(depth, f"if not ({_TYPE_TEST[kinds].format(v=var)}): return None")
        for key in ("properties", "required", "additionalProperties", "items", "minItems",
                    "maxItems"):
            if key in node:
                raise Unsupported(f"{key} on a {kinds}")
        if kinds != "null" and path is not None:
            self.store(path, var, depth)

    def store(self, path: str, var: str, depth: int) -> None:
        """A leaf of the flat view: values always present go into one dict display at the end
        (one bytecode for all of them), the others are stored where they are found."""
        if self.parse is not None and path in self.parse.paths:
            if not self.in_main:
                raise Unsupported("a parsed leaf in an anyOf branch")
            parsed, constant = self.fresh("m"), self.constant(path, "Z")
            for line in self.parse.lines:
                self.emit(depth, line.format(v=var, m=parsed, k=constant))
            var = parsed
        if self.in_main and depth == _BODY:
            self.always[path] = var
        else:
            self.emit(depth, f"out[{path!r}] = {var}")

    def string(self, node: dict[str, Any], var: str, depth: int) -> None:
        low, high = node.get("minLength"), node.get("maxLength")
        for bound in (low, high):
            if bound is not None and type(bound) is not int:
                raise Unsupported("string length bound")
        if high is None or high > self.limits.max_string:
            high = self.limits.max_string
        enum = node.get("enum")
        pattern = node.get("pattern")
        if pattern is not None and not isinstance(pattern, str):
            raise Unsupported("pattern")
        # lengths the enum or the pattern already guarantee are not tested again
        widths = [(min(map(len, enum)), max(map(len, enum)))] if enum is not None else []
        if pattern is not None:
            widths.append(_pattern_widths(pattern))
        if any(high >= longest for _, longest in widths):
            high = None
        if low is not None and any(low <= shortest for shortest, _ in widths):
            low = None
        # The first test also checks the type: a non-string is in no set of strings (and an
        # unhashable one raises TypeError), and a regex search raises TypeError on a non-string;
        # the generated function turns TypeError into "not accepted". str subclasses pass
        # these, as they pass jsonschema's "string" (isinstance).
        if enum is not None:
            self.emit(depth, f"if {var} not in {self.constant(frozenset(enum), 'E')}: "
                      "return None")
        if pattern is not None:
            search = self.constant(re.compile(pattern).search, "P")
            shortcut = self.shortcuts.get(pattern)
            if shortcut is not None and self.where in shortcut.paths:
                self.names.update(shortcut.names)
                self.emit(depth, f"if not ({shortcut.test.format(v=var)}) and "
                          f"{search}({var}) is None: return None")
            else:
                self.emit(depth, f"if {search}({var}) is None: return None")
        if enum is None and pattern is None:
            self.emit(depth, f"if type({var}) is not str: return None")
        if enum is None:  # a lone surrogate is no text (facts._check_shape says so)
            lone = self.constant(re.compile("[\ud800-\udfff]").search, "P")
            self.emit(depth, f"if not {var}.isascii() and {lone}({var}) is not None: "
                      "return None")
        tests = []
        if low is not None:
            tests.append(f"n < {low}")
        if high is not None:
            tests.append(f"n > {high}")
        if tests:
            self.emit(depth, f"n = len({var})")
            self.emit(depth, f"if {' or '.join(tests)}: return None")
        fmt = node.get("format")
        if fmt is not None and fmt in self.checked_formats:
            assert self.format_conforms is not None
            self.emit(depth, f"if not CONFORMS({var}, {fmt!r}): return None")
        for key in ("minimum", "maximum"):
            if key in node:
                raise Unsupported(f"{key} on a string")

    def integer(self, node: dict[str, Any], var: str, depth: int) -> None:
        limit = self.limits.max_int
        low, high = node.get("minimum", 1 - limit), node.get("maximum", limit - 1)
        if type(low) is not int or type(high) is not int:
            raise Unsupported("integer bounds")
        low, high = max(low, 1 - limit), min(high, limit - 1)
        self.emit(depth, f"if type({var}) is not int or {var} < {low} or {var} > {high}: "
                  "return None")
        for key in ("minLength", "maxLength", "pattern"):
            if key in node:
                raise Unsupported(f"{key} on an integer")

    def object(self, node: dict[str, Any], var: str, path: str | None, depth: int, top: bool
               ) -> None:
        props = node.get("properties", {})
        if node.get("additionalProperties", True) is not False:
            raise Unsupported("objects must forbid additional properties")
        required = node.get("required", [])
        if not isinstance(props, dict) or not isinstance(required, list):
            raise Unsupported("properties/required")
        for key in ("minLength", "maxLength", "pattern", "minimum", "maximum", "items"):
            if key in node:
                raise Unsupported(f"{key} on an object")
        if not all(isinstance(name, str) and _IDENTIFIER.match(name) for name in props):
            raise Unsupported("a property name that is not an identifier")
        allowed = [name for name, child in props.items()
                   if not (isinstance(child, dict) and child.get("readOnly"))]
        if not set(required) <= set(allowed):
            raise Unsupported("a required property that may not be sent")
        # Unknown keys are ruled out by counting: every allowed property is read (a required
        # one by `[]`, whose KeyError means "not accepted"), those present are counted, and the
        # object must hold no other key. Two set comparisons of its keys cost several times
        # a `len`, and this runs for every object of every order.
        needed = len(set(required))
        optional = [name for name in allowed if name not in required]
        count = self.fresh("c") if optional else None
        if count is None:
            self.emit(depth, f"if type({var}) is not dict or len({var}) != {needed}: "
                      "return None")
        else:
            self.emit(depth, f"if type({var}) is not dict: return None")
            self.emit(depth, f"{count} = {needed}")
        for name in allowed:
            child_path = None if path is None or (top and name == "now") else (
                f"{path}.{name}" if path else name)  # `now` is validated, not flattened
            child = self.fresh("v")
            if name in required:
                self.emit(depth, f"{child} = {var}[{name!r}]")
                inner = depth
            else:
                self.emit(depth, f"{child} = {var}.get({name!r}, MISSING)")
                self.emit(depth, f"if {child} is not MISSING:")
                inner = depth + 1
                self.emit(inner, f"{count} += 1")
            outer = self.where
            self.where = None if outer is None else f"{outer}.{name}" if outer else name
            self.value(props[name], child, child_path, inner)
            self.where = outer
        if count is not None:
            self.emit(depth, f"if len({var}) != {count}: return None")

    def array(self, node: dict[str, Any], var: str, path: str | None, depth: int) -> None:
        """Arrays are validated but, as in `facts._flatten`, not flattened."""
        tests = [f"type({var}) is not list"]
        for key, test in (("minItems", "<"), ("maxItems", ">")):
            if key in node:
                if type(node[key]) is not int:
                    raise Unsupported(key)
                tests.append(f"len({var}) {test} {node[key]}")
        self.emit(depth, f"if {' or '.join(tests)}: return None")
        items = node.get("items")
        if items is None:
            raise Unsupported("array without items")
        element = self.fresh("e")
        self.emit(depth, f"for {element} in {var}:")  # checked inline: no call per element
        outer, self.where = self.where, None
        self.value(items, element, None, depth + 1)
        self.where = outer

    def measure(self, node: dict[str, Any], level: int) -> int:
        """The most values (containers included) an accepted instance of `node` can hold,
        checking on the way that no accepted container nests as deep as the depth limit."""
        node = self.resolve(node)
        if "anyOf" in node:
            return max(self.measure(branch, level) for branch in node["anyOf"])
        kind = node.get("type")
        if kind in ("object", "array") and level >= self.limits.max_depth:
            raise Unsupported("nesting reaches the depth limit")
        if kind == "object":
            total = 1
            for name, child in node.get("properties", {}).items():
                if len(name) > self.limits.max_string:
                    raise Unsupported("property name beyond the text limit")
                if not child.get("readOnly"):
                    total += self.measure(child, level + 1)
            return total
        if kind == "array":
            if type(node.get("maxItems")) is not int:
                raise Unsupported("array without maxItems")
            return 1 + node["maxItems"] * self.measure(node["items"], level + 1)
        return 1

    def is_null(self, node: Any) -> bool:
        if not isinstance(node, dict):
            raise Unsupported("anyOf branch")
        node = self.resolve(node)
        return {k: v for k, v in node.items() if k not in _ANNOTATIONS} == {"type": "null"}

    def any_of(self, node: dict[str, Any], var: str, path: str | None, depth: int) -> None:
        rest = {k: v for k, v in node.items() if k not in _ANNOTATIONS and k != "anyOf"}
        branches = node["anyOf"]
        if rest or not isinstance(branches, list) or not branches:
            raise Unsupported("anyOf")
        others = [b for b in branches if not self.is_null(b)]
        if len(others) < len(branches):
            self.emit(depth, f"if {var} is not None:")
            depth += 1
        if len(others) == 1:
            self.value(others[0], var, path, depth)
            return
        # several non-null branches: the first that accepts wins; its leaves are kept
        functions = []
        for branch in others:
            name = self.fresh("_branch")
            self.function(name, branch, path)
            functions.append(name)
        found = self.fresh("f")
        self.emit(depth, f"for {found} in ({', '.join(functions)},):")
        self.emit(depth + 1, f"b = {found}({var})")
        self.emit(depth + 1, "if b is not None:")
        self.emit(depth + 2, "out.update(b)")
        self.emit(depth + 2, "break")
        self.emit(depth, "else:")
        self.emit(depth + 1, "return None")

    def function(self, name: str, node: dict[str, Any], path: str | None) -> None:
        """A nested schema checked by its own function (array items, anyOf branches); it
        returns its own flat leaves, or None."""
        saved, self.lines, main = self.lines, [], self.in_main
        self.in_main = False
        self.value(node, "x", path, _BODY)
        body, self.lines, self.in_main = self.lines, saved, main
        self.helpers += [f"def {name}(x):", "    out = {}", "    try:", *body,
                         "    except (TypeError, KeyError):", "        return None",
                         "    return out", ""]


def _pattern_widths(pattern: str) -> tuple[int, int]:
    """(shortest, longest) string a search for `pattern` can accept, or (0, huge) unless the
    pattern is anchored as ^...$ (then a match spans the string, bar a final newline `$`
    allows, so the string is at most one longer than the longest match)."""
    unknown = (0, 1 << 62)
    try:
        from re import _parser  # type: ignore[attr-defined]
        parsed = _parser.parse(pattern)
        items = list(parsed)
        if (len(items) < 2 or items[0] != (_parser.AT, _parser.AT_BEGINNING)
                or items[-1] != (_parser.AT, _parser.AT_END)):
            return unknown
        shortest, longest = parsed.getwidth()
    except Exception:  # a private module: any surprise only costs the length test
        return unknown
    return shortest, longest + 1


@dataclass(frozen=True)
class Epilogue:
    """Statements run once the check has accepted, inside the generated function: `lines`
    (indented as its body, reading `facts` and the flat `out`, ending in a `return`) with
    `names` as their constants. A ValueError they raise means "not accepted", like a failed
    test. The caller generates them from validated names only (fact paths are constants)."""

    lines: tuple[str, ...]
    names: dict[str, Any]


def compile_checker(schema: dict[str, Any], limits: Limits,
                    format_conforms: Callable[[Any, str], bool] | None = None,
                    checked_formats: frozenset[str] = frozenset(),
                    shortcuts: Shortcuts | None = None, epilogue: Epilogue | None = None,
                    parse: Parse | None = None) -> Checker | None:
    """A function facts -> flat values (or None), or None when the schema uses a keyword this
    compiler does not translate. `checked_formats` are the formats the jsonschema validator
    actually checks (its format checker's), tested here through `format_conforms`. With an
    `epilogue`, the function returns what the epilogue returns instead (`facts.Prepared`);
    with `parse`, the leaves it names are stored as its statements turn them."""
    compiler = _Compiler(schema, format_conforms, checked_formats, limits, shortcuts or {},
                         parse)
    try:
        if compiler.measure(schema, 0) > limits.max_values:
            raise Unsupported("more values than the limit")
        compiler.value(schema, "facts", "", _BODY, top=True)
    except (Unsupported, re.error, KeyError, TypeError, AttributeError):
        return None
    always = ", ".join(f"{path!r}: {var}" for path, var in compiler.always.items())
    if epilogue is None:
        ending = ["    except (TypeError, KeyError):  # a value of the wrong type met a test",
                  "        # for another type, or a required property is missing",
                  "        return None", f"    out.update({{{always}}})", "    return out", ""]
    else:
        ending = [f"        out.update({{{always}}})", *epilogue.lines,
                  "    except (TypeError, KeyError, ValueError):", "        return None", ""]
    source = "\n".join(compiler.helpers + [
        "def check(facts):", "    out = {}", *(parse.start if parse else ()), "    try:",
        *compiler.lines, *ending])
    namespace: dict[str, Any] = {**(epilogue.names if epilogue else {}),
                                 **(parse.names if parse else {}), **compiler.names,
                                 "MISSING": _MISSING,
                                 "CONFORMS": format_conforms, "__builtins__": {
                                     "type": type, "len": len, "str": str, "int": int,
                                     "TypeError": TypeError, "KeyError": KeyError,
                                     "ValueError": ValueError,
                                     "dict": dict, "list": list}}
    code = compile(source, "<aturan facts check>", "exec")
    exec(code, namespace)  # noqa: S102 - generated above from the bundled schema, not from input
    checker: Checker = namespace["check"]
    checker.__doc__ = "Generated from the facts schema by aturan.runtime.fastcheck:\n\n" + source
    return checker


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


_MISSING = _Missing()
