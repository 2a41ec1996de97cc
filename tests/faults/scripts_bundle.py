"""A faulty version of the bundled process for the fault suite: two script tasks added to the assistance path.

* `check_title` runs right after the worker's `crm.take_case` (so in the worker), misbehaving by the request title;
* `check_note` runs when the manager completes `assign_specialist` (so in that user's action), misbehaving by the
  assignment note.

Either misbehaves when its value is `spin` (`while True: pass`), `bomb` (1.5 GB string), `list bomb`
(`[0] * 10**9`), `power` (`2 ** 10**9`), `ljust` (`"a".ljust(10**10)`) or `exit` (`raise SystemExit(4)`), and does
nothing otherwise.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from app.config import PROJECT_ROOT

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BEHAVIOURS = {
    "spin": "while True:\n        pass",
    "bomb": 'blob = "a" * 1500000000',
    "list bomb": "blob = [0] * 10**9",
    "power": "blob = 2 ** 10**9",
    "ljust": 'blob = "a".ljust(10**10)',
    "exit": "raise SystemExit(4)",
}


def script_for(variable: str) -> str:
    lines = [f"checked_{variable} = True"]
    for index, (value, body) in enumerate(BEHAVIOURS.items()):
        lines.append(f"{'if' if index == 0 else 'elif'} {variable} == {value!r}:\n    {body}")
    return "\n".join(lines) + "\n"


def _insert_script(process: etree._Element, flow_id: str, task_id: str, name: str, script: str) -> None:
    """Put a script task on sequence flow `flow_id`: source -> flow -> new task -> new flow -> old target."""
    flow = process.find(f"{{{BPMN}}}sequenceFlow[@id='{flow_id}']")
    assert flow is not None, flow_id
    target = flow.get("targetRef") or ""
    flow.set("targetRef", task_id)
    onward = f"flow_{task_id}_onward"
    task = etree.SubElement(process, f"{{{BPMN}}}scriptTask", id=task_id, name=name, scriptFormat="python")
    etree.SubElement(task, f"{{{BPMN}}}incoming").text = flow_id
    etree.SubElement(task, f"{{{BPMN}}}outgoing").text = onward
    etree.SubElement(task, f"{{{BPMN}}}script").text = script
    etree.SubElement(process, f"{{{BPMN}}}sequenceFlow", id=onward, sourceRef=task_id, targetRef=target)
    target_node = process.find(f"*[@id='{target}']")
    assert target_node is not None
    for incoming in target_node.findall(f"{{{BPMN}}}incoming"):
        if incoming.text == flow_id:
            incoming.text = onward
    for lane in process.iter(f"{{{BPMN}}}lane"):
        refs = [ref.text for ref in lane.findall(f"{{{BPMN}}}flowNodeRef")]
        if target in refs:
            etree.SubElement(lane, f"{{{BPMN}}}flowNodeRef").text = task_id


def faulty_bundle(bpmn_dir: Path = PROJECT_ROOT / "bpmn") -> dict[str, bytes]:
    files = {path.name: path.read_bytes() for path in sorted(bpmn_dir.glob("*.bpmn"))}
    root = etree.fromstring(files["assistance_request.bpmn"])
    process = root.find(f"{{{BPMN}}}process")
    assert process is not None
    _insert_script(process, "flow_take_crm_case_to_assign_specialist", "check_title", "Check the title",
                   script_for("title"))
    _insert_script(process, "flow_assign_specialist_to_assistance_work_merge", "check_note", "Check the note",
                   script_for("assignment_note"))
    files["assistance_request.bpmn"] = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return files
