"""The file check: samples whose image can't be used (missing, empty, undecodable, outside the root,
not embeddable) and annotation problems found while loading."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from workbench.checks.registry import CheckInputs, GateSpec, SampleField, SampleTag, SavedView, Writes, register_check
from workbench.results import FileProblem, IntegrityResult

if TYPE_CHECKING:
    from workbench.config import AuditConfig

FIELD = "wb_file_problem"
TAG = "wb:file_problem"


def find_file_problems(inputs: CheckInputs) -> IntegrityResult:
    """One :class:`FileProblem` per unusable file, per file the model could not embed, per annotation problem."""
    cols = inputs.columns
    problems = [FileProblem(sample_id=sid, filepath=fp, kind=facts.problem_kind, message=facts.problem, label=lab)
                for sid, fp, lab, facts in zip(cols.ids, cols.filepaths, cols.labels, inputs.facts) if not facts.ok]
    bad = {p.sample_id for p in problems}
    if inputs.embeddings is not None:
        row = {sid: i for i, sid in enumerate(cols.ids)}
        problems += [FileProblem(sample_id=sid, filepath=cols.filepaths[row[sid]], kind="unreadable",
                                 message=f"could not be embedded ({msg}); re-export or remove it",
                                 label=cols.labels[row[sid]])
                     for sid, msg in inputs.embeddings.failed.items() if sid not in bad]
    # An annotation problem about an image of the dataset (a box clipped or dropped, a bad label line) is that
    # sample's, so it reaches the App's field, tag and view; one about a whole file is nobody's.
    by_path = {os.path.normpath(fp): (sid, lab) for sid, fp, lab in zip(cols.ids, cols.filepaths, cols.labels)}
    by_name: dict[str, list[str]] = {}
    for fp in by_path:
        by_name.setdefault(os.path.basename(fp), []).append(fp)
    for p in inputs.load_problems:
        path = str(p.get("file_name") or p.get("source", ""))
        sid, lab = _owner(path, by_path, by_name) if path else ("", None)
        problems.append(FileProblem(sample_id=sid, filepath=path, kind=p.get("kind", "annotation"),
                                    message=str(p["message"]), label=lab))
    return IntegrityResult(problems=tuple(problems))


def _owner(path: str, by_path: dict[str, tuple[str, str | None]],
           by_name: dict[str, list[str]]) -> tuple[str, str | None]:
    """The sample a problem's file is: by its full path, or (a COCO ``file_name``, relative) the one sample
    whose path ends with it; ``("", None)`` when none or several."""
    path = os.path.normpath(path)
    if path in by_path or os.path.isabs(path):
        return by_path.get(path, ("", None))
    tail = [fp for fp in by_name.get(os.path.basename(path), []) if fp.endswith(os.sep + path)]
    return by_path[tail[0]] if len(tail) == 1 else ("", None)


def _problems(r: IntegrityResult) -> dict[str, str]:
    """``{sample id: "kind: message"}``, a sample's several problems joined by ``; ``."""
    out: dict[str, str] = {}
    for p in r.problems:
        if p.sample_id:
            text = f"{p.kind}: {p.message}"
            out[p.sample_id] = f"{out[p.sample_id]}; {text}" if p.sample_id in out else text
    return out


@register_check(
    name="integrity", title="file problems", result=IntegrityResult, count_key="file_problems",
    writes=Writes(fields=(SampleField("file_problem", FIELD, _problems),),
                  tags=(SampleTag("file_problem", TAG, lambda r: set(_problems(r))),),
                  views=(SavedView("file_problems", "wb-file-problems", TAG),)),
    gate=GateSpec("file-problems", "file problems", lambda r: len(r.problems)),
    section="sections/integrity.html.j2", report_title="File problems", report_anchor="file-problems", panel=None,
    absent_export={"file_problems": []})
def run(inputs: CheckInputs, config: AuditConfig, options: None) -> IntegrityResult:
    return find_file_problems(inputs)
