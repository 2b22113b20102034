"""A decision's explanation deferred: rendered when first read, and its JSON written from
fragments pre-serialised once per memo plan.

`Policies.decide` returns decisions whose `explanation` (the matched rules, their atoms with
actual values and ages, the messages in every language) is not built until a caller reads it:
a caller reading `outcome`, `refund` or `next_steps` pays for no text. `to_json()` does not
build it either: a plan (one per truth-signature class, cached by the memo) fixes everything
in the decision's JSON except a few values of the order (its id, the atoms' actual values and
ages, the messages' placeholders, the refund, the instants), so the JSON is the plan's
literal fragments, serialised once, with those values written into the slots between them.

Exactness: the fragments are `canonical_json` of the same static values `render` puts in the
decision, and each slot writes its value as `json.dumps` does (`json.encoder`'s own string
encoder; `canonical_json` for anything but str, int, bool and None), so the bytes are those of
`canonical_json(decision.to_dict())`; tests/runtime/test_json_exact.py and
tests/runtime/test_memo_exact.py compare them on every sampled order (and fail on a template
broken on purpose). What the deferred explanation reads (`FlatFacts` values, ages, texts)
belongs to the decision alone (`flatten_without_ages` builds it per call), and the plan is
immutable, so a decision stays a pure function of its facts, whenever it is read and from
whichever thread.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from json.encoder import encode_basestring
from string import Formatter
from typing import Any

from .decision import Decision, ExplanationItem, RefundDecision, canonical_json
from .facts import FlatFacts, gap_between
from .plan import (
    Entry,
    Plan,
    _labelled,
    _placeholder,
    _Report,
    _Template,
    decision_fields,
    explanation_items,
)

Slot = Callable[[Decision, FlatFacts], str]
Template = tuple[str, tuple[tuple[Slot, str], ...]]  # head, then (slot, literal after it)


class DeferredExplanation:
    """What a decision needs to render its explanation later: its plan, its own facts and
    the language asked for (`decision.Deferred`)."""

    __slots__ = ("plan", "facts", "lang")

    def __init__(self, plan: Plan, facts: FlatFacts, lang: str | None):
        self.plan, self.facts, self.lang = plan, facts, lang

    def items(self) -> tuple[ExplanationItem, ...]:
        return explanation_items(self.plan, self.facts, self.lang)

    def rules(self) -> tuple[str, ...]:
        return tuple(entry.id for entry in self.plan.entries)

    def json(self, decision: Decision) -> str:
        """`canonical_json(decision.to_dict())`, from the plan's fragments."""
        plan, lang = self.plan, self.lang
        cache = plan.json_templates
        found = cache.get(lang)
        if found is None:
            found = writer(json_template(plan, lang))
            if lang is None or lang in plan_languages(plan):  # a bounded cache: not any text
                cache[lang] = found
        write, constants = found
        out = write(decision, self.facts, constants)
        if decision.decision_id is None:
            return out
        return '{"decision_id":' + _text(decision.decision_id) + "," + out[1:]


Writer = tuple[Callable[[Decision, FlatFacts, tuple[Any, ...]], str], tuple[Any, ...]]


def writer(template: Template) -> Writer:
    """The template as a generated function and its constants: a `str.join` of the literals
    and the slots' texts, the commonest slots (a fact's value, a text placeholder, the order
    id, a null refund, the plain tail) written inline (`Slot.inline`), the others called. A
    loop over the slots cost a call, a tuple unpacking and two appends each.

    The function depends only on the template's shape (each slot's inline form, or none, and
    whether a literal follows it), so plans of one shape share it (`_SHAPES`) and a plan keeps
    only its constants (a tuple of its literals, slots and fact paths): about 0.2 kB a plan
    instead of a code object's 5 kB. The source holds generated names only; literals, fact
    paths and slots are its argument `C`, never text in the code, so nothing a ruleset file
    says becomes code (the pattern of `memo._key_function`)."""
    head, slots = template
    constants: list[Any] = [head, _text, _value]
    names, terms, shape = ["H", "T", "W"], ["H"], []
    for number, (slot, after) in enumerate(slots):
        inline = getattr(slot, "inline", None)
        name = f"S{number}"
        names.append(name)
        constants.append(slot)
        if inline is None:
            terms.append(f"{name}(d, f)")
        else:
            form, constant = inline
            names.append(f"K{number}")
            constants.append(constant)
            terms.append(form.format(k=f"K{number}", s=name))
        if after:
            names.append(f"L{number}")
            constants.append(after)
            terms.append(f"L{number}")
        shape.append((None if inline is None else inline[0], bool(after)))
    key = tuple(shape)
    write = _SHAPES.get(key)
    if write is None:
        source = (f"def write(d, f, C):\n    {', '.join(names)}, = C\n    V = f.values\n"
                  f"    return ''.join(({', '.join(terms)},))\n")
        namespace: dict[str, Any] = {"__builtins__": {"type": type, "str": str}}
        exec(compile(source, "<aturan decision json>", "exec"),  # noqa: S102 - see above
             namespace)
        write = namespace["write"]
        if len(_SHAPES) < 4096:  # bounded: shapes follow the rulesets' structure
            _SHAPES[key] = write
    return write, tuple(constants)


_SHAPES: dict[tuple[tuple[str | None, bool], ...],
              Callable[[Decision, FlatFacts, tuple[Any, ...]], str]] = {}


def plan_languages(plan: Plan) -> frozenset[str]:
    return frozenset(code for entry in plan.entries for code in entry.languages)


_text = encode_basestring  # json.dumps's own writing of a str (ensure_ascii=False)
_int = int.__repr__


def _value(value: Any) -> str:
    """`canonical_json(value)`, directly for the scalars facts hold."""
    kind = type(value)
    if kind is str:
        return _text(value)
    if kind is int:
        return _int(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return canonical_json(value)


def json_template(plan: Plan, lang: str | None) -> Template:
    """The decision's JSON under `plan` as literal fragments and slots, in `to_dict`'s order
    (`Decision.to_dict`, `ExplanationItem.to_dict`, `render`'s values)."""
    parts: list[str | Slot] = []

    def text(literal: str) -> None:
        parts.append(literal)

    def slot(function: Slot) -> None:
        parts.append(function)

    effect = plan.effect
    text('{"order_id":')
    slot(_order_id)
    text(',"ruleset":' + canonical_json(plan.ref.to_dict()) + ',"outcome":'
         + canonical_json(effect.outcome) + ',"refund":')
    slot(_refund)
    text(',"penalties":' + canonical_json([p.to_dict() for p in plan.penalties])
         + ',"next_steps":' + canonical_json(list(plan.next_steps)) + ',"explanation":[')
    for number, entry in enumerate(plan.entries):
        if number:
            text(",")
        _entry(entry, plan, lang, text, slot)
    text('],"overridden":' + canonical_json([o.to_dict() for o in plan.overridden])
         + ',"evaluated_at":')
    slot(_tail)
    return _joined(parts)


def _joined(parts: list[str | Slot]) -> Template:
    """Adjacent literals joined: a head, then each slot with the literal after it."""
    head: list[str] = []
    slots: list[tuple[Slot, list[str]]] = []
    for part in parts:
        if isinstance(part, str):
            (slots[-1][1] if slots else head).append(part)
        else:
            slots.append((part, []))
    return "".join(head), tuple((function, "".join(after)) for function, after in slots)


def _entry(entry: Entry, plan: Plan, lang: str | None, text: Callable[[str], None],
           slot: Callable[[Slot], None]) -> None:
    text('{"rule":' + canonical_json(entry.id) + ',"priority":' + canonical_json(entry.priority)
         + ',"effect":' + canonical_json(entry.effect_dict()) + ',"because":[')
    for number, report in enumerate(entry.reports):
        if number:
            text(",")
        if report.between is not None:  # as `plan._between`
            text('{"fact":' + canonical_json(report.fact) + ',"op":' + canonical_json(report.op)
                 + ',"expected":' + canonical_json(report.expected) + ',"of":'
                 + canonical_json(report.between) + ',"actual":')
            slot(_between_slot(report))
            text(',"negated":true}' if report.negated else "}")
            continue
        expected = list(report.expected) if report.copy_expected else report.expected
        text('{"fact":' + canonical_json(report.fact) + ',"op":' + canonical_json(report.op)
             + ',"expected":' + canonical_json(expected) + ',"actual":')
        slot(_actual_slot(report))
        text(',"negated":true}' if report.negated else "}")
    text('],"message":')
    if lang:
        template = entry.templates.get(lang)
        if template is None:
            text("{}")
        elif not template.paths:
            text(canonical_json({lang: template.text}))
        else:
            text("{" + canonical_json(lang) + ":")
            _message(template, plan, lang, text, slot)
            text("}")
    elif entry.static_message is not None:
        text(canonical_json(entry.static_message))
    else:
        for number, code in enumerate(entry.languages):
            text(("{" if number == 0 else ",") + canonical_json(code) + ":")
            template = entry.templates[code]
            if template.paths:
                _message(template, plan, code, text, slot)
            else:
                text(canonical_json(template.text))
        text("}" if entry.languages else "{}")
    text(',"source":' + canonical_json({"file": entry.file, "line": entry.line,
                                        "ruleset": entry.ruleset}))
    if entry.citation:
        text(',"citation":' + canonical_json(entry.citation))
    text("}")


def _order_id(decision: Decision, facts: FlatFacts) -> str:
    return _text(decision.order_id)


_order_id.inline = ("T(d.order_id)", None)  # type: ignore[attr-defined]


def _refund(decision: Decision, facts: FlatFacts) -> str:
    refund: RefundDecision | None = decision.refund
    if refund is None:
        return "null"
    eta = "null" if refund.due_by is None else (
        '{"min_business_days":' + _value(refund.min_business_days) + ',"max_business_days":'
        + _value(refund.max_business_days) + ',"due_by":' + _value(refund.due_by) + "}")
    return ('{"amount":' + _value(refund.amount) + ',"destination":'
            + _value(refund.destination) + ',"eta":' + eta + "}")


_refund.inline = ("('null' if d.refund is None else {s}(d, f))", None)  # type: ignore


def _tail(decision: Decision, facts: FlatFacts) -> str:
    """evaluated_at, and the keys present only when they say something."""
    out = _text(decision.evaluated_at)
    if decision.effective_at is not None:
        out += ',"effective_at":' + _value(decision.effective_at)
    if decision.covers:
        out += ',"covers":' + _covers(decision.covers)
    if decision.return_ is not None:
        out += ',"return":' + canonical_json(dict(decision.return_))
    return out + "}"


_tail.inline = ("(T(d.evaluated_at) + '}}' if d.effective_at is None and not d.covers "  # type: ignore
                "and d.return_ is None else {s}(d, f))", None)


def _covers(covers: tuple[dict[str, Any], ...]) -> str:
    """`canonical_json([dict(line) for line in covers])`, written directly for the lines
    `plan.decision_fields` builds (exactly sku, quantity and amount, a str and two ints);
    anything else goes to `canonical_json`."""
    parts = []
    for line in covers:
        if type(line) is not dict or len(line) != 3:
            return canonical_json([dict(line) for line in covers])
        sku, quantity, amount = line.get("sku"), line.get("quantity"), line.get("amount")
        if type(sku) is not str or type(quantity) is not int or type(amount) is not int:
            return canonical_json([dict(line) for line in covers])
        parts.append('{"sku":' + _text(sku) + ',"quantity":' + _int(quantity)
                     + ',"amount":' + _int(amount) + "}")
    return "[" + ",".join(parts) + "]"


def _isoformat(value: datetime, text: str | None) -> str:
    """`value.isoformat()` as JSON, for a timestamp parsed from `text` (`FlatFacts.texts`):
    the text itself when it is already that form (whole seconds, a T, an offset other than
    -00:00, which prints +00:00: the reasoning of `facts._flat_of`'s `now_isoformat`)."""
    if (text is not None and len(text) == 25 and text[10] == "T" and text[19] in "+-"
            and text.isascii() and text[19:] != "-00:00"):
        return '"' + text + '"'
    return _text(value.isoformat())


def _actual_slot(report: _Report) -> Slot:
    """`"actual"`'s value, and the age after it for a timestamp (as `plan._because`)."""
    fact = report.fact
    if not report.timestamp:
        def actual(decision: Decision, facts: FlatFacts) -> str:
            value = facts.values.get(fact)
            return _text(value) if type(value) is str else _value(value)
        actual.inline = ("(T(x) if type(x := V.get({k})) is str else W(x))",  # type: ignore
                         fact)
        return actual

    def timestamp(decision: Decision, facts: FlatFacts) -> str:
        value = facts.values.get(fact)
        out = (_isoformat(value, facts.texts.get(fact)) if isinstance(value, datetime)
               else _value(value))
        age = facts.ages.get(fact)
        if age is not None:
            out += (',"age":"' + _duration(age) + '"' if age >= 0
                    else ',"age":"in ' + _duration(-age) + '"')
        return out
    return timestamp


def _duration(seconds: int) -> str:
    """`model.format_duration` of a positive count, unrolled (ASCII digits and units only, so
    its JSON is itself in quotes); tests/runtime/test_json_exact.py compares the two."""
    if seconds == 0:
        return "0s"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, rest = divmod(rest, 60)
    return ((f"{days}d" if days else "") + (f"{hours}h" if hours else "")
            + (f"{minutes}m" if minutes else "") + (f"{rest}s" if rest else ""))


def _between_slot(report: _Report) -> Slot:
    """`"actual"` and `"of_actual"` (timestamps as text) and the gap from `of` to the fact,
    as `plan._between` puts them."""
    fact, of = report.fact, report.between
    assert of is not None

    def shown(value: Any, text: str | None) -> str:
        return _isoformat(value, text) if isinstance(value, datetime) else _value(value)

    def between(decision: Decision, facts: FlatFacts) -> str:
        values, texts = facts.values, facts.texts
        out = (shown(values.get(fact), texts.get(fact)) + ',"of_actual":'
               + shown(values.get(of), texts.get(of)))
        gap = gap_between(facts, fact, of)
        if gap is not None:
            out += (',"gap":"' + _duration(gap) + '"' if gap >= 0
                    else ',"gap":"-' + _duration(-gap) + '"')
        return out
    return between


def _message(template: _Template, plan: Plan, lang: str, text: Callable[[str], None],
             slot: Callable[[Slot], None]) -> None:
    """A message as a JSON string: its literal pieces escaped once, a slot per placeholder.
    JSON escapes character by character, so the escaped pieces and values, joined, are the
    escaped message (`plan._fill`'s text)."""
    pieces = [literal for literal, _, _, _ in Formatter().parse(template.text)]
    if len(pieces) == len(template.paths):  # the text ends with a placeholder
        pieces.append("")
    text('"' + _text(pieces[0])[1:-1])
    for path, piece in zip(template.paths, pieces[1:]):
        slot(_placeholder_slot(path, plan, lang))
        text(_text(piece)[1:-1])
    text('"')


def _placeholder_slot(path: str, plan: Plan, lang: str) -> Slot:
    """`plan._placeholder` of one path, escaped for JSON (without quotes)."""
    if path != "now" and path not in _labelled() and path not in plan.money:
        def plain(decision: Decision, facts: FlatFacts) -> str:
            value = facts.values.get(path)
            if type(value) is str:  # `display.show` gives a text itself
                return _text(value)[1:-1]
            return _text(_placeholder(path, facts, plan, lang))[1:-1]
        plain.inline = ("(T(x)[1:-1] if type(x := V.get({k})) is str else {s}(d, f))",  # type: ignore
                        path)
        return plain

    def placeholder(decision: Decision, facts: FlatFacts) -> str:
        return _text(_placeholder(path, facts, plan, lang))[1:-1]
    return placeholder


def decide_deferred(plan: Plan, facts: FlatFacts, lang: str | None = None,
                    decision_id: str | None = None) -> Decision:
    """`plan.render(plan, facts, lang)` with the explanation deferred: an equal decision
    (carrying `decision_id` if given)."""
    fields = decision_fields(plan, facts)
    del fields["explanation"]
    if decision_id is not None:
        fields["decision_id"] = decision_id
    fields["_deferred"] = DeferredExplanation(plan, facts, lang)
    return _install(fields)


def _plain_builder() -> Callable[[dict[str, Any]], Decision]:
    """A decision with the given `__dict__` (as `_fastinit.builder`), or, should `Decision`
    stop being a plain dataclass, one built by its constructor with the explanation
    rendered."""
    if "__slots__" in Decision.__dict__ or hasattr(Decision, "__post_init__"):
        def construct(fields: dict[str, Any]) -> Decision:
            deferred = fields.pop("_deferred")
            return Decision(**fields, explanation=deferred.items())
        return construct
    new, install = object.__new__, object.__setattr__

    def build(fields: dict[str, Any]) -> Decision:
        instance: Decision = new(Decision)
        install(instance, "__dict__", fields)
        return instance
    return build


_install = _plain_builder()
