"""The file check: samples whose image can't be used (missing, empty, undecodable, outside the root,
not embeddable) and annotation problems found while loading."""

from __future__ import annotations

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
    problems += [FileProblem(sample_id="", filepath=str(p.get("file_name") or p.get("source", "")),
                             kind=p.get("kind", "annotation"), message=str(p["message"])) for p in inputs.load_problems]
    return IntegrityResult(problems=tuple(problems))


def _problems(r: IntegrityResult) -> dict[str, str]:
    return {p.sample_id: f"{p.kind}: {p.message}" for p in r.problems if p.sample_id}


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
