"""Which process of a bundle is the one requests start: the single top-level process, or findings that say what to
change in the modeler when that is not clear (a process marked not executable, only empty pools, several candidates).
"""

from __future__ import annotations

from lxml import etree

from app.errors import Problem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def _processes(roots: dict[str, etree._Element]) -> list[tuple[str, etree._Element]]:
    return [(file, el) for file, root in roots.items() for el in root.iter(f"{{{BPMN_NS}}}process")]


def _is_empty(process: etree._Element) -> bool:
    """A pool drawn only to name a participant (the customer, another agency): no flow node inside."""
    return not any(isinstance(child.tag, str) and child.tag.startswith(f"{{{BPMN_NS}}}")
                   and etree.QName(child).localname not in ("laneSet", "documentation", "extensionElements",
                                                            "property", "ioSpecification", "dataObject")
                   for child in process)


def _label(process: etree._Element) -> str:
    name = " ".join((process.get("name") or "").split())
    return f"'{name}' ({process.get('id')})" if name else f"'{process.get('id')}'"


def main_process(roots: dict[str, etree._Element], process_ids: list[str]) -> tuple[str | None, list[Problem]]:
    """The one top-level process to deploy, or findings that say what to change in the modeler. Pools with nothing
    inside are participants, not processes to run; a process marked not executable is what most modelling tools
    export for a process someone only drew."""
    called = {el.get("calledElement") for root in roots.values()
              for el in root.iter(f"{{{BPMN_NS}}}callActivity")}
    drawn = _processes(roots)
    by_id = {el.get("id"): (file, el) for file, el in drawn}
    top = [pid for pid in process_ids if pid not in called and not (pid in by_id and _is_empty(by_id[pid][1]))]
    if len(top) == 1:
        return top[0], []
    if not top:
        not_executable = [(file, el) for file, el in drawn
                          if el.get("isExecutable") == "false" and not _is_empty(el) and el.get("id") not in called]
        if not_executable:
            return None, [Problem(file=file, line=el.sourceline, element_id=el.get("id") or "",  # type: ignore[arg-type]
                                  name=" ".join((el.get("name") or "").split()),
                                  message=f"process {_label(el)} is marked not executable (isExecutable=\"false\"): "
                                          "tick Executable on the process (or its pool) in the modeler and save "
                                          "again; a process drawn only to be read needs no deployment")
                          for file, el in not_executable]
        if not drawn or all(_is_empty(el) for _, el in drawn):
            return None, [Problem(file=", ".join(sorted(roots)), message="no process with anything in it: draw a "
                                  "start event, the tasks and an end event inside a pool or process")]
        return None, [Problem(file=", ".join(sorted(roots)), message="every process is called by another (a call "
                              "activity names it); there is no top-level process to start requests with")]
    listed = ", ".join(_label(by_id[pid][1]) if pid in by_id else f"'{pid}'" for pid in sorted(top))
    return None, [Problem(file=", ".join(sorted(roots)), message=f"more than one top-level process ({listed}): keep "
                          "one whose requests start here and call the others from it, or deploy them as separate "
                          "bundles")]

