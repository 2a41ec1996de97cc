"""Rendering the email templates in Jinja2's sandbox, and checking an administrator's edit before it is saved.

Each template is a subject, a plain-text part and an HTML part. The text part and the subject are rendered without
escaping; the HTML part escapes every value (autoescape), so a customer's title like `<script>` arrives as text.
The sandbox refuses attribute tricks (`__class__`, `mro`…); a value the template does not know is an error
(StrictUndefined), so a typo is caught when the template is saved, and a template that fails when an email is
composed is replaced by the default (see `app.mail.compose`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2 import Template as Compiled
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from app.mail.defaults import DEFAULTS, Template

SUBJECT_MAX = 300  # the outbox's subject column
PART_MAX = 50_000  # characters of one template part


@dataclass(frozen=True)
class Variable:
    name: str
    meaning: str
    sample: Any


_COMMON = (
    Variable("request_number", "the request's number (RF-…)", "RF-2026-000042"),
    Variable("title", "the request's title", "Printer on floor 3 <offline> & jammed"),
    Variable("agency", "the customer's agency", "Tourism"),
    Variable("provider_group", "the provider group: .code, .name, .contact (the signature)",
             {"code": "network", "name": "Network Services", "contact": "network-help@omes.example · 405-555-0100"}),
    Variable("sent_at", "when the email was composed, in the installation's time zone", "Tue 1 Dec 2026, 14:05 CST"),
)
_CUSTOMER = (
    Variable("customer_name", "the requester's name (may be empty)", "Ann Example"),
    Variable("case_number", "the customer's CRM case number, or the request number when there is no CRM case",
             "CS-10023"),
    Variable("crm_case_number", "the CRM case number (empty when the request has none)", "CS-10023"),
    Variable("subject", "the subject the process gave (it names the request number)",
             "Request RF-2026-000042 fulfilled: Printer on floor 3"),
    Variable("message", "what the staff wrote (what was done, or the question)", "Replaced the fuser.\nAll good."),
)
_STAFF = (
    Variable("recipient_name", "the staff member's name", "Sam Specialist"),
    Variable("task_name", "the task's name", "Fulfil the assistance request"),
)

VARIABLES: dict[str, tuple[Variable, ...]] = {
    "customer_question": _COMMON + _CUSTOMER,
    "customer_fulfilled": _COMMON + _CUSTOMER,
    "rfc_fulfilled": _COMMON + _CUSTOMER,
    "customer_cancelled": _COMMON + _CUSTOMER + (
        Variable("reason", "why the request was cancelled, as the manager wrote it", "The agency withdrew it."),
    ),
    "sla_escalation": _COMMON + (
        Variable("level", "warning (75% of the target used) or breach (target passed)", "breach"),
        Variable("subject", "the escalation's subject", "SLA target passed: RF-2026-000042"),
        Variable("message", "the escalation's details (target, time used, due)", "The agreed time schedule ended."),
    ),
    "task_assigned": _COMMON + _STAFF + (
        Variable("assigned_by", "who assigned it (empty when the process did)", "Maria Manager"),
        Variable("due_at", "when the task is due, in the installation's time zone (may be empty)",
                 "Thu 3 Dec 2026, 17:00 CST"),
    ),
    "customer_replied": _COMMON + _STAFF + (
        Variable("customer_name", "the requester's name (may be empty)", "Ann Example"),
        Variable("message", "the customer's reply, without the quoted message below it",
                 "The field office in Tulsa, please."),
        Variable("due_at", "when the task is due, in the installation's time zone (may be empty)",
                 "Thu 3 Dec 2026, 17:00 CST"),
    ),
    "billing_forwarded": _COMMON + _STAFF,
}

NAMES: dict[str, str] = {
    "customer_question": "Customer: a question from the specialist",
    "customer_fulfilled": "Customer: assistance request fulfilled",
    "rfc_fulfilled": "Customer: Request for Change fulfilled",
    "customer_cancelled": "Customer: request cancelled",
    "sla_escalation": "Staff: SLA escalation (warning or breach)",
    "task_assigned": "Staff: a task assigned to you",
    "customer_replied": "Staff: the customer replied to your question",
    "billing_forwarded": "Staff: a billing case forwarded to you (CAR)",
}
assert set(NAMES) == set(VARIABLES) == set(DEFAULTS)

PARTS = ("subject", "text", "html")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class TemplateProblem(Exception):
    """A template that cannot be used: `problems` maps a part (subject, text, html) to what is wrong with it."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{part}: {why}" for part, why in problems.items()))
        self.problems = problems


RANGE_MAX = 1000  # `range()` in a template
VALUE_MAX = 100_000  # the longest string or list `*` may build
POWER_MAX = 64  # the largest exponent of `**`


class _BoundedSandbox(SandboxedEnvironment):
    """The sandbox keeps a template from reaching Python's internals; this also keeps it from making the worker spin
    or fill memory: `*` and `**` are bounded, `range` is short, and a loop inside a loop is refused (`check`)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > POWER_MAX:
            raise SecurityError(f"an exponent over {POWER_MAX}")
        if operator == "*" and isinstance(left, int) and isinstance(right, str | list | tuple):
            left, right = right, left
        if operator == "*" and isinstance(left, str | list | tuple) and isinstance(right, int) \
                and len(left) * right > VALUE_MAX:
            raise SecurityError(f"a value longer than {VALUE_MAX}")
        return super().call_binop(context, operator, left, right)


def _short_range(*args: int) -> range:
    found = range(*args)
    if len(found) > RANGE_MAX:
        raise SecurityError(f"a range longer than {RANGE_MAX}")
    return found


def _environment(autoescape: bool) -> SandboxedEnvironment:
    env = _BoundedSandbox(undefined=StrictUndefined, autoescape=autoescape, keep_trailing_newline=True)
    env.globals["range"] = _short_range
    return env


_PLAIN, _HTML = _environment(False), _environment(True)


def _nested_loop(source: nodes.Template) -> bool:
    return any(inner is not outer for outer in source.find_all(nodes.For) for inner in outer.find_all(nodes.For))


def _env(part: str) -> SandboxedEnvironment:
    return _HTML if part == "html" else _PLAIN


@lru_cache(maxsize=256)
def _compiled(part: str, source: str) -> Compiled:
    """A part's source compiled once per process (compiling is ~5 ms, rendering a compiled one ~0.1 ms); keyed by
    the source itself, so an edited template is compiled afresh and no entry is ever stale."""
    compiled = _env(part).from_string(source)
    # Its globals are the environment's (set once, above) behind a ChainMap, which every render copies into its
    # context key by key in Python: as a plain dict the copy is one C call (half of what a render cost).
    compiled.globals = dict(compiled.globals)
    return compiled


def samples(key: str) -> dict[str, Any]:
    return {v.name: v.sample for v in VARIABLES[key]}


def check(key: str, template: Template) -> None:
    """Raise TemplateProblem naming each part with a syntax error, an unknown variable, a size over the limit, or
    that fails to render with the sample data."""
    known = {v.name for v in VARIABLES[key]}
    problems: dict[str, str] = {}
    for part in PARTS:
        source = getattr(template, part)
        if len(source) > PART_MAX:
            problems[part] = f"longer than {PART_MAX} characters"
            continue
        if part != "html" and not source.strip():
            problems[part] = "must not be empty"
            continue
        try:
            parsed = _env(part).parse(source)
        except TemplateSyntaxError as err:
            problems[part] = f"syntax error on line {err.lineno}: {err.message}"
            continue
        if _nested_loop(parsed):
            problems[part] = "a {% for %} loop inside another one is not allowed"
            continue
        unknown = sorted(meta.find_undeclared_variables(parsed) - known)
        if unknown:
            problems[part] = (f"unknown variable{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                              f"known: {', '.join(sorted(known))}")
    if not problems:
        try:
            render(template, samples(key))
        except TemplateProblem as err:
            problems.update(err.problems)
    if problems:
        raise TemplateProblem(problems)


def render(template: Template, values: Mapping[str, Any]) -> Rendered:
    """The three parts rendered with `values`; TemplateProblem when a part fails (an unknown value, a sandbox
    refusal, a runtime error of the template's own logic)."""
    out: dict[str, str] = {}
    problems: dict[str, str] = {}
    for part in PARTS:
        try:
            out[part] = _compiled(part, getattr(template, part)).render(**values)
        except Exception as err:  # noqa: BLE001 - whatever a template's own logic raises fails that template only
            problems[part] = f"{type(err).__name__}: {err}"
    if problems:
        raise TemplateProblem(problems)
    subject = " ".join(out["subject"].split())
    if not subject:
        raise TemplateProblem({"subject": "renders empty"})
    return Rendered(subject, out["text"], out["html"])  # the outbox bounds it (one line, SUBJECT_MAX)


def default(key: str) -> Template:
    return DEFAULTS[key]
