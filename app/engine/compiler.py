"""Turn a bundle of BPMN/DMN files into a stored spec, after checking everything a deploy must check.

Checks, each reported with file, element id, name and line: hardened XML parse, BPMN XSD, the engine's own parse,
every service operator has a handler, every user task has a valid JSON Schema form and a lane that maps to a role,
every script/condition/parameter expression compiles under the restricted engine and calls no file, OS or
introspection builtin, every literal timer evaluates, and the sequence-flow graph checks of `bpmn_lint`
(unreachable elements, gateways without complete conditions or a default, unbounded loops), and a warning for a
script's obviously endless `while` loop.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask as ServiceTaskMixin
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask as UserTaskMixin
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from app.domain.form_rules import rule_problems
from app.engine.bpmn_lint import endless_script_loops, lint
from app.engine.findings_text import Context, translate, xsd_element
from app.engine.main_process import main_process
from app.engine.parse_findings import continued_parse, xsd_findings
from app.engine.script_host import NOT_EXCEPTIONS
from app.engine.scripts import ScriptRejected, compile_expression, compile_script
from app.engine.serialization import spec_json_of
from app.engine.service_params import Declarations, parameter_findings
from app.engine.spiff_patches import engine_time
from app.engine.timer_values import EXAMPLES, normalise_timers
from app.engine.xml_safety import UnsafeXml, parse_xml
from app.errors import DefinitionRejected, Problem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DMN_SUFFIX = ".dmn"
# names a script may not use even though they would only fail when run: file, OS and introspection access
FORBIDDEN_NAMES = frozenset({
    "open", "exec", "eval", "compile", "globals", "locals", "vars", "dir", "input", "breakpoint", "help", "exit",
    "quit", "getattr", "setattr", "delattr", "memoryview", "os", "sys", "subprocess", "shutil", "socket", "pathlib",
    "importlib", "builtins", "ctypes", "pickle", "marshal", "io",
})


@dataclass
class CompiledBundle:
    process_id: str
    spec_json: str
    process_ids: list[str]
    forms: list[str]
    warnings: list[Problem] = field(default_factory=list)


@dataclass
class _Locator:
    """Finds the file and line of an element id across the bundle's documents."""

    roots: dict[str, etree._Element] = field(default_factory=dict)

    def locate(self, element_id: str) -> tuple[str, int | None]:
        file, line, _ = self.find(element_id)
        return file, line

    def find(self, element_id: str) -> tuple[str, int | None, str]:
        """File, line and name of the element with this id ('', None, '' when no document has it)."""
        for file, root in self.roots.items():
            found = root.xpath("//*[@id=$i]", i=element_id)
            element = found[0] if isinstance(found, list) and found else None
            if isinstance(element, etree._Element):  # an element path selects elements only
                line: int | None = element.sourceline  # type: ignore[assignment]  # lxml-stubs 0.5 type it as `...`
                return file, line, " ".join((element.get("name") or "").split())
        return "", None, ""


def _forbidden(source: str, mode: str, names: frozenset[str]) -> list[str]:
    """Forbidden names the code reads (a name the script itself assigns first is its own variable)."""
    try:
        tree = ast.parse(source.strip() if mode == "eval" else source, mode=mode)
    except SyntaxError:
        return []
    assigned = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return sorted((used - assigned) & names)


class _Checker:
    def __init__(self, locator: _Locator, operators: set[str], lanes: set[str] | None,
                 forms: dict[str, bytes], parameters: Declarations | None = None) -> None:
        self.locator = locator
        self.operators = operators
        self.parameters = parameters
        self.lanes = lanes
        self.forms = forms
        self.problems: list[Problem] = []
        self.used_forms: set[str] = set()
        self.timers_reported: set[str] = set()

    def add(self, element_id: str, message: str, severity: str = "error") -> None:
        file, line, name = self.locator.find(element_id)
        self.problems.append(Problem(file=file, element_id=element_id, line=line, message=message,
                                     severity=severity, name=name))

    def forbidden(self, element_id: str, what: str, source: str, mode: str) -> None:
        names = _forbidden(source, mode, FORBIDDEN_NAMES)
        if names:
            self.add(element_id, f"{what} uses {', '.join(names)}: file, operating-system and introspection access "
                                 "is not available to process scripts")
        exits = _forbidden(source, mode, NOT_EXCEPTIONS)
        if exits:
            self.add(element_id, f"{what} uses {', '.join(exits)}: exceptions outside Exception are not available to "
                                 "process scripts (it fails with NameError when run); raise ValueError or "
                                 "RuntimeError instead", severity="warning")

    def expression(self, element_id: str, what: str, source: str | None) -> None:
        if source is None or not str(source).strip():
            return
        try:
            compile_expression(str(source))
        except (ScriptRejected, SyntaxError) as err:
            self.add(element_id, f"{what} `{source}` is refused by the restricted engine: {err}")
            return
        self.forbidden(element_id, f"{what} `{source}`", str(source), "eval")

    def script(self, element_id: str, what: str, source: str | None) -> None:
        if not source:
            return
        try:
            compile_script(source)
        except (ScriptRejected, SyntaxError) as err:
            self.add(element_id, f"{what} is refused by the restricted engine: {err}")
            return
        self.forbidden(element_id, what, source, "exec")
        for line in endless_script_loops(source):
            self.add(element_id, f"{what} line {line}: endless loop: `while` on a constant that is always true, with "
                                 "no break, return or raise in its body; it would always be stopped by the script "
                                 "time limit and the step would fail", severity="warning")

    def form(self, element_id: str, filename: str | None, kind: str, required: bool) -> None:
        if not filename:
            if required:
                self.add(element_id, "user task names no form (spiffworkflow property formJsonSchemaFilename)")
            return
        if filename not in self.forms:
            self.add(element_id, f"{kind} file {filename} is not in the bundle or forms/")
            return
        try:
            schema = json.loads(self.forms[filename])
            if kind == "form":
                Draft202012Validator.check_schema(schema)
                if schema.get("type") != "object":
                    raise SchemaError("a form schema must have type object")
                problems = rule_problems(schema)
        except (ValueError, SchemaError) as err:
            self.add(element_id, f"{kind} {filename} is not a valid JSON Schema: {getattr(err, 'message', err)}")
            return
        except RecursionError:  # nested deeper than the decoder or the schema checks go: no form is like that
            self.add(element_id, f"{kind} {filename} is nested too deeply to be a form: flatten it")
            return
        if kind == "form":
            for problem in problems:
                self.add(element_id, f"form {filename} has a broken rule: {problem}")
        self.used_forms.add(filename)

    def timer(self, element_id: str, definition: TimerEventDefinition) -> None:
        if element_id in self.timers_reported:
            return
        source = definition.expression
        kind = "cycle" if isinstance(definition, CycleTimerEventDefinition) else \
            "duration" if isinstance(definition, DurationTimerEventDefinition) else "date"
        what = f"write {EXAMPLES[kind]}, or a Python expression that reads the request's data"
        try:
            node = ast.parse(str(source).strip(), mode="eval").body
        except SyntaxError:
            self.add(element_id, f"timer {kind} `{source}` is neither an ISO 8601 value nor a Python expression: "
                                 f"{what}")
            return
        self.expression(element_id, f"timer {kind}", source)
        if isinstance(node, ast.Name) and node.id[:1] in ("P", "R") and (node.id[1:2].isdigit() or node.id[1:2] == "T"):
            self.add(element_id, f"timer {kind} {source} is not a valid ISO 8601 value (it would be read as a variable "
                                 f"name): {what}")
            return
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            return  # evaluated from instance data at run time
        try:
            if kind == "cycle":
                with engine_time(datetime(2000, 1, 1, tzinfo=UTC)):  # an interval without a start begins "now"
                    TimerEventDefinition.parse_iso_recurring_interval(node.value)
            elif kind == "duration":
                TimerEventDefinition.parse_iso_duration(node.value)
            else:
                TimerEventDefinition.get_datetime(node.value)
        except Exception:  # noqa: BLE001 - any parse failure is the user's finding
            self.add(element_id, f"timer {kind} {source} is not a valid value: {what}")

    def task_spec(self, spec: Any) -> None:
        element_id = spec.bpmn_id
        if not element_id:
            return
        ext = getattr(spec, "extensions", {}) or {}
        props = ext.get("properties", {}) or {}
        if isinstance(spec, ServiceTaskMixin):
            operator = getattr(spec, "operation_name", None)
            params = getattr(spec, "operation_params", None) or {}
            if operator not in self.operators:
                self.add(element_id, f"service operator {operator!r} has no handler "
                                     f"(known: {', '.join(sorted(self.operators))})")
            elif self.parameters is not None:
                for message in parameter_findings(str(operator), params, self.parameters):
                    self.add(element_id, message)
            for name, param in params.items():
                self.expression(element_id, f"parameter {name}", param.get("value"))
        if isinstance(spec, UserTaskMixin):
            self.form(element_id, props.get("formJsonSchemaFilename"), "form", required=True)
            self.form(element_id, props.get("formUiSchemaFilename"), "UI schema", required=False)
            if not spec.lane:
                self.add(element_id, "user task is in no lane, so nobody could act on it")
            elif self.lanes is not None and spec.lane not in self.lanes:
                known = ", ".join(sorted(self.lanes))
                self.add(element_id, f"lane {spec.lane!r} maps to no role (known lanes: {known})")
        self.script(element_id, "script", getattr(spec, "script", None))
        self.script(element_id, "pre-script", getattr(spec, "prescript", None))
        self.script(element_id, "post-script", getattr(spec, "postscript", None))
        for condition, _target in getattr(spec, "cond_task_specs", []) or []:
            args = getattr(condition, "args", None)
            if args:
                self.expression(element_id, "gateway condition", args[0])
        definition = getattr(spec, "event_definition", None)
        if isinstance(definition, TimerEventDefinition):
            self.timer(element_id, definition)


def _element_problem(file: str, element: etree._Element, message: str) -> Problem:
    """A finding about an element: its own id and name, or those of the nearest enclosing element that has an id."""
    holder: etree._Element | None = element
    while holder is not None and not holder.get("id"):
        holder = holder.getparent()
    target = holder if holder is not None else element
    line: int | None = element.sourceline  # type: ignore[assignment]  # lxml-stubs 0.5 type it as `...`
    return Problem(file=file, line=line, element_id=target.get("id") or "", message=message,
                   name=" ".join((target.get("name") or "").split()))


def _engine_problem(file: str, root: etree._Element | None, err: ValidationException) -> Problem:
    """A schema or engine parse error as a finding that names the element and says what to change."""
    raw = str(err).split("\n")[0]
    line = err.line_number or None
    element = None
    if root is not None and err.id:
        found = root.xpath("//*[@id=$i]", i=err.id)
        element = found[0] if isinstance(found, list) and found and isinstance(found[0], etree._Element) else None
    elif root is not None:
        element = xsd_element(root, raw, line)
    tag = etree.QName(element).localname if element is not None else str(err.tag or "").removeprefix("bpmn:")
    message = translate(raw, Context(tag=tag, element=element))
    if element is not None:
        return _element_problem(file, element, message)
    return Problem(file=file, line=line, element_id=err.id or "", message=message, name=err.name or "")


def _graph_findings(locator: _Locator, found: list[Problem]) -> list[Problem]:
    """The sequence-flow checks (`bpmn_lint`) of the documents that could be read, except a finding that names an
    element already refused (the engine's finding about a flow says the same as the gateway's about its flows)."""
    flagged = {p.element_id for p in found if p.element_id}
    graph = lint({n: r for n, r in locator.roots.items() if not n.endswith(DMN_SUFFIX)})
    return [p for p in graph if p.element_id not in flagged
            and not any(re.search(rf"(?<![\w.-]){re.escape(i)}(?![\w.-])", p.message) for i in flagged)]


def compile_bundle(files: dict[str, bytes], *, operators: set[str], lanes: set[str] | None,
                   forms: dict[str, bytes], parameters: Declarations | None = None) -> CompiledBundle:
    """Check and compile a bundle; raises DefinitionRejected (listing every problem) when any error is found.
    `parameters` declares each operator's parameters (handlers/parameters.py): given, service tasks are checked
    against it."""
    problems: list[Problem] = []
    timer_findings: list[Problem] = []
    locator = _Locator()
    parser = SpiffBpmnParser(validator=VALIDATOR)
    if not any(name.endswith(".bpmn") for name in files):
        raise DefinitionRejected([Problem(file="", message="the bundle contains no .bpmn file")])
    for name, data in sorted(files.items()):
        try:
            root = parse_xml(data)
        except UnsafeXml as err:
            problems.append(Problem(file=name, line=err.line, message=str(err)))
            continue
        locator.roots[name] = root
        try:
            if name.endswith(DMN_SUFFIX):
                parser.add_dmn_xml(root, filename=name)
            else:
                timer_findings += [_element_problem(name, f.element, f.message) for f in normalise_timers(root)]
                parser.add_bpmn_xml(root, filename=name)
        except ValidationException as err:  # the schema's log has every error of the file, not just this one
            every = [] if name.endswith(DMN_SUFFIX) else xsd_findings(root, name, _engine_problem)
            problems += every or [_engine_problem(name, root, err)]
        except Exception as err:  # noqa: BLE001 - hostile or odd files must give a finding, not a crash
            problems.append(Problem(file=name, message=f"could not be read as BPMN/DMN: {err}"))
    if problems:
        raise DefinitionRejected(problems + timer_findings + _graph_findings(locator, problems))

    process_ids = parser.get_process_ids()
    main, why = main_process(locator.roots, process_ids)
    if main is None:
        raise DefinitionRejected(why + timer_findings + _graph_findings(locator, why))
    refused: list[Problem] = []
    try:
        spec = parser.get_spec(main)
        subprocess_specs = parser.get_subprocess_specs(main)
    except ValidationException as err:  # the engine stops at the first element it refuses: parse on past it
        def located(found: ValidationException) -> Problem:
            file = (locator.find(found.id)[0] if found.id else "") or found.file_name or ""
            return _engine_problem(file, locator.roots.get(file), found)

        refused = [located(err)]
        more = continued_parse(locator.roots, main, err, dmn_suffix=DMN_SUFFIX, as_problem=located)
        refused += more.problems
        if more.spec is None:
            raise DefinitionRejected(refused + timer_findings + _graph_findings(locator, refused)) from None
        spec, subprocess_specs = more.spec, more.subprocess_specs
    except Exception as err:  # noqa: BLE001
        message = f"the engine could not build process {main}: {err}"
        raise DefinitionRejected([Problem(file="", message=message)]) from None

    checker = _Checker(locator, operators, lanes, forms, parameters)
    checker.problems.extend(refused + timer_findings)
    checker.timers_reported.update(p.element_id for p in timer_findings)
    checker.problems.extend(_graph_findings(locator, refused))
    for process in [spec, *subprocess_specs.values()]:
        for task_spec in process.task_specs.values():
            checker.task_spec(task_spec)
            if isinstance(task_spec, ServiceTaskMixin):
                task_spec.manual = True  # the worker runs service tasks, never the engine step loop
    errors = [p for p in checker.problems if p.severity == "error"]
    if errors or refused:
        raise DefinitionRejected(checker.problems)
    return CompiledBundle(process_id=main, spec_json=spec_json_of(spec, subprocess_specs),
                          process_ids=sorted(process_ids), forms=sorted(checker.used_forms),
                          warnings=[p for p in checker.problems if p.severity != "error"])
