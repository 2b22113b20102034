"""Safe YAML loading that keeps, for every node, the file position behind its JSON pointer.

PyYAML's safe loader is the parser, but aturan builds the plain tree itself from the node graph so
that it can (1) refuse anchors and aliases (no alias bombs, no hidden sharing between rules),
(2) refuse duplicate mapping keys, which PyYAML would silently collapse, (3) bound nesting depth
and document size, and (4) record a `Location` for every JSON pointer.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.error import MarkedYAMLError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from ..errors import Diagnostic, Location, RulesetError, pointer_join

MAX_DOCUMENT_BYTES = 1024 * 1024
MAX_DEPTH = 64
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_STR_TAG = "tag:yaml.org,2002:str"
# The only tags a node may carry (implicitly, or written out as !!str etc.): anything else,
# !!python/*, !!binary, !!set, !!omap or a local !tag, is refused rather than half-honoured.
_PLAIN_TAGS = frozenset("tag:yaml.org,2002:" + name for name in
                        ("str", "int", "float", "bool", "null", "timestamp", "map", "seq"))


@dataclass
class SourceDocument:
    """A parsed YAML document: its plain tree, its text digest and where each node stands."""

    path: str
    tree: Any
    digest: str
    locations: dict[str, Location] = field(default_factory=dict)
    text: str = ""

    def location(self, pointer: str) -> Location:
        """The location of `pointer`, or of its nearest ancestor that has one."""
        probe = pointer
        while True:
            if probe in self.locations:
                loc = self.locations[probe]
                return Location(loc.file, loc.line, loc.col, pointer)
            if not probe:
                return Location(self.path, 1, 1, pointer)
            probe = probe.rsplit("/", 1)[0]


# PyYAML's messages name the parser's state, not the author's mistake. What usually causes
# each, as a hint after the message (first match wins; `problem` and `context` are PyYAML's).
_YAML_HINTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), hint) for pattern, hint in (
        (r"mapping values are not allowed here",
         'Usually a value containing ": " that is not quoted (write description: "Note: it '
         'is…"), or a key indented deeper than the keys beside it.'),
        (r"expected <block end>, but found '<block mapping start>'",
         "Usually a line indented more than the lines beside it: line it up with its "
         "siblings."),
        (r"expected <block end>, but found '-'",
         "Usually a list item (- …) where a key belongs: indent the list under its key, "
         "or give it a key."),
        (r"expected <block end>, but found '<scalar>'",
         "Usually text after a complete value, often a quote inside a quoted value ('it's'): "
         "write \"it's\" or double the quote ('it''s')."),
        (r"expected <block end>, but found",
         "Usually a line that does not line up with the ones above it, or a closing bracket "
         "with no opening one."),
        (r"while scanning a (double-)?quoted scalar.*found unexpected end of stream",
         "A quote is opened and never closed."),
        (r"expected ',' or '[\]}]', but got",
         'Inside [ … ] or { … } a value containing ": ", "," or a bracket must be quoted '
         '({ en: "Note: it is…" }), and every bracket closed.'),
        (r"found character '[@`%]' that cannot start any token",
         "A plain value cannot start with @, ` or %: quote it."),
        (r"found unknown escape character",
         "Inside double quotes a backslash starts an escape (\\n, \\t): use single quotes, "
         "or write \\\\ for a backslash."),
        (r"could not find expected ':'",
         "Usually a line that is neither key: value nor - item (a missing colon, or a value "
         "continued on a line not indented under its key), or a quote left open above."),
        (r"but found another document",
         "A --- line starts a second document; an aturan file holds one."),
    ))


def yaml_hint(problem: str, context: str = "") -> str:
    """What usually causes PyYAML's `problem` (in `context`), or "" for one not in the table."""
    text = f"{context or ''} {problem}"
    return next((hint for pattern, hint in _YAML_HINTS if pattern.search(text)), "")


class _AliasRefused(MarkedYAMLError):
    """Raised by the composer for an anchor or alias, so it can be reported with its own code."""


class _AliasCheck:
    """Refuses anchors and aliases as the composer meets them (mixed into both loaders)."""

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):  # type: ignore[attr-defined]
            event = self.peek_event()  # type: ignore[attr-defined]
            raise _AliasRefused(None, None,
                                "anchors and aliases (*name) are not allowed in aturan files; "
                                "write the value out", event.start_mark)
        event = self.peek_event()  # type: ignore[attr-defined]
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _AliasRefused(None, None,
                                f"anchor &{anchor} is not allowed in aturan files; "
                                "write the value out", event.start_mark)
        return Composer.compose_node(self, parent, index)  # type: ignore[arg-type]


class _NoAliasLoader(_AliasCheck, yaml.SafeLoader):
    """SafeLoader that reports anchors/aliases as an error instead of expanding them."""


def _fast_loader() -> Any:
    """libyaml's scanner and parser (about 10x PyYAML's) under the same composer, checks,
    resolver and constructors, so a valid document gives the same tree and positions; None when
    PyYAML was built without libyaml. Errors are reported by re-reading with the pure-Python
    loader, so their messages and positions stay exactly PyYAML's (`_fast_parse`)."""
    try:
        from yaml import cyaml
    except ImportError:  # pragma: no cover - PyYAML built without libyaml
        return None
    parser: Any = getattr(cyaml, "CParser", None)
    if parser is None:  # pragma: no cover
        return None

    class FastLoader(_AliasCheck, parser, Composer, SafeConstructor, Resolver):
        def __init__(self, stream: str):
            parser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

        get_single_node = Composer.get_single_node

    return FastLoader


_FastLoader = _fast_loader()


def _tag_name(tag: str) -> str:
    """A tag as an author writes it: tag:yaml.org,2002:python/object -> !!python/object."""
    return "!!" + tag[len("tag:yaml.org,2002:"):] if tag.startswith("tag:yaml.org,2002:") else tag


def _loc(path: str, node: Node, pointer: str) -> Location:
    return Location(path, node.start_mark.line + 1, node.start_mark.column + 1, pointer)


class _TreeBuilder:
    def __init__(self, path: str, loader: Any):
        self.path = path
        self.loader = loader
        self.locations: dict[str, Location] = {}

    def _unsafe_tag(self, node: Node, pointer: str) -> RulesetError:
        return RulesetError(Diagnostic(
            "yaml-unsafe-tag",
            f"tag {_tag_name(node.tag)} is not allowed: aturan loads YAML safely and only "
            "accepts plain strings, numbers, booleans, null, lists and mappings",
            _loc(self.path, node, pointer)))

    def build(self, node: Node, pointer: str = "", depth: int = 0) -> Any:
        self.locations[pointer] = _loc(self.path, node, pointer)
        if depth > MAX_DEPTH:
            raise RulesetError(Diagnostic("yaml-too-deep",
                                          f"nesting deeper than {MAX_DEPTH} levels",
                                          _loc(self.path, node, pointer)))
        if node.tag not in _PLAIN_TAGS:
            raise self._unsafe_tag(node, pointer)
        if isinstance(node, MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    raise RulesetError(Diagnostic("yaml-bad-key",
                                                  "mapping keys must be plain strings",
                                                  _loc(self.path, key_node, pointer)))
                key = str(key_node.value)
                child = pointer_join(pointer, key)
                if key in result:
                    first = self.locations[child]
                    raise RulesetError(Diagnostic(
                        "yaml-duplicate-key",
                        f'duplicate key "{key}" (first defined at line {first.line}, '
                        f"column {first.col}); YAML would silently keep only the last one",
                        _loc(self.path, key_node, child)))
                result[key] = self.build(value_node, child, depth + 1)
                self.locations[child] = _loc(self.path, key_node, child)
            return result
        if isinstance(node, SequenceNode):
            return [self.build(item, pointer_join(pointer, i), depth + 1)
                    for i, item in enumerate(node.value)]
        if node.tag == _STR_TAG:
            return node.value  # what SafeConstructor's !!str gives, without its bookkeeping
        if node.tag == _TIMESTAMP_TAG:
            return str(node.value)  # keep dates as text: the schema checks their format
        try:
            return self.loader.construct_object(node, deep=True)
        except ConstructorError as exc:
            raise self._unsafe_tag(node, pointer) from exc
        except (ValueError, IndexError, KeyError) as exc:  # !!int abc, !!int "", !!bool maybe,
            # or an integer of thousands of digits: PyYAML's constructors raise these as they come
            text = str(node.value)
            shown = text if len(text) <= 40 else f"{text[:40]}… ({len(text):,} characters)"
            raise RulesetError(Diagnostic(
                "yaml-bad-value", f"cannot read {shown!r} as {_tag_name(node.tag)}",
                _loc(self.path, node, pointer))) from exc


def _byte_position(raw: bytes, at: int) -> tuple[int, int]:
    """1-based line and column (in characters, as editors count) of the byte at offset `at`."""
    start = raw.rfind(b"\n", 0, at) + 1
    return raw.count(b"\n", 0, at) + 1, len(raw[start:at].decode("utf-8", "replace")) + 1


class _Fallback(Exception):
    """Something the event builder leaves to the pure-Python loader, whose message for it is
    the reference: any YAML error, an anchor or alias, a key that is no plain string."""


class _EventBuilder:
    """The plain tree and its positions straight from libyaml's events, with no node graph in
    between (PyYAML's composer holds a node and two marks per value: 130 MB and seconds for a
    1 MiB file). Same checks, in the same order, with the same messages as `_TreeBuilder`."""

    def __init__(self, path: str, loader: Any):
        self.path = path
        self.loader = loader
        self.locations: dict[str, Location] = {}

    def _tag(self, event: Any, kind: type, value: Any) -> str:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(kind, value, event.implicit)
        return str(tag)

    def build(self, pointer: str = "", depth: int = 0) -> Any:
        event: Any = self.loader.get_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Fallback()
        mark = event.start_mark
        where = Location(self.path, mark.line + 1, mark.column + 1, pointer)
        self.locations[pointer] = where
        if depth > MAX_DEPTH:
            raise RulesetError(Diagnostic("yaml-too-deep",
                                          f"nesting deeper than {MAX_DEPTH} levels", where))
        if isinstance(event, yaml.ScalarEvent):
            tag = self._tag(event, ScalarNode, event.value)
            if tag == _STR_TAG:
                return event.value
            start: Any = event.start_mark
            end: Any = event.end_mark
            node: Node = ScalarNode(tag, event.value, start, end, event.style)
        elif isinstance(event, yaml.SequenceStartEvent):
            tag = self._tag(event, SequenceNode, None)
            if tag not in _PLAIN_TAGS:
                raise _unsafe_tag(tag, where)
            items: list[Any] = []
            while not self.loader.check_event(yaml.SequenceEndEvent):
                items.append(self.build(pointer_join(pointer, len(items)), depth + 1))
            self.loader.get_event()
            return items
        elif isinstance(event, yaml.MappingStartEvent):
            tag = self._tag(event, MappingNode, None)
            if tag not in _PLAIN_TAGS:
                raise _unsafe_tag(tag, where)
            return self._mapping(pointer, depth)
        else:
            raise _Fallback()
        if tag not in _PLAIN_TAGS:
            raise _unsafe_tag(tag, where)
        return _scalar(self.loader, node, where)

    def _mapping(self, pointer: str, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while not self.loader.check_event(yaml.MappingEndEvent):
            event: Any = self.loader.get_event()
            if not isinstance(event, yaml.ScalarEvent) or event.anchor is not None or \
                    self._tag(event, ScalarNode, event.value) == "tag:yaml.org,2002:merge":
                raise _Fallback()
            key = str(event.value)
            child = pointer_join(pointer, key)
            mark: Any = event.start_mark
            at = Location(self.path, mark.line + 1, mark.column + 1, child)
            if key in result:
                first = self.locations[child]
                raise RulesetError(Diagnostic(
                    "yaml-duplicate-key",
                    f'duplicate key "{key}" (first defined at line {first.line}, '
                    f"column {first.col}); YAML would silently keep only the last one", at))
            result[key] = self.build(child, depth + 1)
            self.locations[child] = at
        self.loader.get_event()
        return result


def _unsafe_tag(tag: str, where: Location) -> RulesetError:
    return RulesetError(Diagnostic(
        "yaml-unsafe-tag",
        f"tag {_tag_name(tag)} is not allowed: aturan loads YAML safely and only "
        "accepts plain strings, numbers, booleans, null, lists and mappings", where))


def _scalar(loader: Any, node: Node, where: Location) -> Any:
    """A scalar that is not a plain string, as `_TreeBuilder.build` reads it."""
    if node.tag == _TIMESTAMP_TAG:
        return str(node.value)  # keep dates as text: the schema checks their format
    try:
        return loader.construct_object(node, deep=True)
    except ConstructorError as exc:
        raise _unsafe_tag(node.tag, where) from exc
    except (ValueError, IndexError, KeyError) as exc:
        text = str(node.value)
        shown = text if len(text) <= 40 else f"{text[:40]}… ({len(text):,} characters)"
        raise RulesetError(Diagnostic(
            "yaml-bad-value", f"cannot read {shown!r} as {_tag_name(node.tag)}", where)) from exc


def _fast_parse(decoded: str, path: str) -> tuple[Any, dict[str, Location]] | None:
    """The tree and positions through libyaml's events (`_EventBuilder`), or None to take the
    pure-Python path: when libyaml is missing, or on any YAML error, anchor or odd key, whose
    message and position the pure-Python loader then gives exactly as before. Checks of the
    tree itself (duplicate keys, tags, depth, values) raise from here with the same text."""
    if _FastLoader is None:
        return None
    loader = _FastLoader(decoded)
    try:
        loader.get_event()  # stream start
        if loader.check_event(yaml.StreamEndEvent):
            return None  # empty: the pure-Python path says so
        loader.get_event()  # document start
        builder = _EventBuilder(path, loader)
        value = builder.build()
        loader.get_event()  # document end
        if not loader.check_event(yaml.StreamEndEvent):
            return None  # a second document: an error, worded by the pure-Python path
        return value, builder.locations
    except (yaml.YAMLError, RecursionError, _Fallback):
        return None
    finally:
        loader.dispose()


def parse_yaml(text: str | bytes, path: str = "<string>") -> SourceDocument:
    """Parse one YAML document safely, with positions; raise `RulesetError` on any problem."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise RulesetError(Diagnostic(
            "yaml-too-large",
            f"file is {len(raw):,} bytes; aturan rulesets may be at most "
            f"{MAX_DOCUMENT_BYTES:,} bytes", Location(path, 1, 1, "")))
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _byte_position(raw, exc.start)
        raise RulesetError(Diagnostic("yaml-encoding", f"file is not UTF-8 text ({exc.reason}: "
                                      f"byte 0x{raw[exc.start]:02X})",
                                      Location(path, line, col, ""))) from exc
    fast = _fast_parse(decoded, path)
    if fast is not None:
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        return SourceDocument(path=path, tree=fast[0], digest=digest, locations=fast[1],
                              text=decoded)
    try:
        loader = _NoAliasLoader(decoded)  # the reader refuses control characters right here
    except yaml.YAMLError as exc:
        at = getattr(exc, "position", 0)
        line, col = decoded.count("\n", 0, at) + 1, at - (decoded.rfind("\n", 0, at) + 1) + 1
        char = getattr(exc, "character", "?")
        shown = f"U+{char:04X}" if isinstance(char, int) else repr(char)
        raise RulesetError(Diagnostic("yaml-syntax", f"control character {shown} is not allowed "
                                      "in YAML text", Location(path, line, col, ""))) from exc
    try:
        node = loader.get_single_node()
        if node is None:
            raise RulesetError(Diagnostic("yaml-empty", "file is empty", Location(path, 1, 1, "")))
        tree = _TreeBuilder(path, loader)
        value = tree.build(node)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = str(exc.problem or exc.context or "invalid YAML")
        code = "yaml-alias" if isinstance(exc, _AliasRefused) else "yaml-syntax"
        hint = "" if code == "yaml-alias" else yaml_hint(problem, str(exc.context or ""))
        if "'\\t'" in problem:
            code, problem, hint = "yaml-tab", "tab characters cannot indent YAML; use spaces", ""
        raise RulesetError(Diagnostic(code, problem, Location(path, line, col, ""),
                                      hint=hint)) from exc
    except yaml.YAMLError as exc:
        raise RulesetError(Diagnostic("yaml-syntax", str(exc), Location(path, 1, 1, ""))) from exc
    except RecursionError as exc:
        raise RulesetError(Diagnostic("yaml-too-deep", "nesting is too deep to parse",
                                      Location(path, 1, 1, ""))) from exc
    finally:
        loader.dispose()
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    return SourceDocument(path=path, tree=value, digest=digest, locations=tree.locations,
                          text=decoded)


def load_yaml_file(path: str | Path, display_path: str | None = None) -> SourceDocument:
    """Read and parse a YAML file; oversized files are refused before they are read whole."""
    p = Path(path)
    shown = display_path or str(path)
    try:
        size = p.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise RulesetError(Diagnostic(
                "yaml-too-large",
                f"file is {size:,} bytes; aturan rulesets may be at most "
                f"{MAX_DOCUMENT_BYTES:,} bytes", Location(shown, 1, 1, "")))
        raw = p.read_bytes()
    except OSError as exc:
        raise RulesetError(Diagnostic("file-unreadable", f"cannot read file: {exc.strerror}",
                                      Location(shown, 0, 0, ""))) from exc
    return parse_yaml(raw, shown)
