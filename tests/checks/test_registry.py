"""The check registry: declared needs set the order, and a registered check reaches every output.

The second test registers a throwaway check (one decorator, nothing else) and follows it through
a real audit (FiftyOne's database, real files): the result, the JSON export, the summary, the
gates, the FiftyOne write-back, the HTML report and the notebook tabs. None of those renderers
names it, so if one of them stopped looping over the registry this test would fail.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import split_class_folders
from workbench.checks import registry
from workbench.checks.registry import (LABELS, SPLITS, CheckSpec, GateSpec, ResultOf, SampleField, SampleTag,
                                       SavedView, Writes, register_check, registered_checks, run_order)
from workbench.errors import CheckConfigError, UnknownCheck


def _spec(name: str, result: type, needs: tuple = ()) -> CheckSpec:
    return CheckSpec(name=name, title=name, run=lambda *a: None, result_type=result, needs=needs)


class _A: ...


class _B: ...


class _C: ...


def test_order_follows_declared_needs_and_refuses_cycles_and_orphans() -> None:
    a, b, c = _spec("a", _A, (ResultOf(_B),)), _spec("b", _B, (ResultOf(_C), SPLITS)), _spec("c", _C)
    assert [s.name for s in run_order([a, b, c])] == ["c", "b", "a"]
    assert [s.name for s in run_order([c, a, b])] == ["c", "b", "a"]
    with pytest.raises(ValueError, match="cycle"):
        run_order([_spec("a", _A, (ResultOf(_B),)), _spec("b", _B, (ResultOf(_A),))])
    with pytest.raises(ValueError, match="no registered check returns"):
        run_order([_spec("a", _A, (ResultOf(_C),))])
    names = [s.name for s in registered_checks()]
    assert names.index("leakage") > names.index("duplicates")  # leakage reads the duplicates' links


def test_options_are_typed_and_unknown_ones_refused() -> None:
    from workbench.checks.registry import parse_check_options
    from workbench.config import AuditConfig

    with pytest.raises(UnknownCheck, match="registered: integrity"):
        parse_check_options(["nosuch.x=1"])
    with pytest.raises(UnknownCheck, match="takes none"):
        parse_check_options(["leakage.x=1"])
    with pytest.raises(UnknownCheck, match="CHECK.OPTION=VALUE"):
        parse_check_options(["leakage"])
    with pytest.raises(UnknownCheck, match="unknown check"):
        AuditConfig(skip_checks=("nosuch",))
    assert AuditConfig(skip_checks="outliers").skip_checks == ("outliers",)  # one name, not its letters
    for options, phrase in (({"sharpness": "abc"}, "is not a number"), ({"z": float("inf")}, "finite"),
                            ({"z": 0}, "z must be at least"), ({"min_relative": 2.5}, "whole number")):
        with pytest.raises(CheckConfigError, match=phrase):  # from Python too: refused before any work
            AuditConfig(check_options={"image_quality": options})


@dataclass(frozen=True)
class OddNames:
    """The throwaway check's result: the samples whose file name has an odd length."""

    rows: tuple[tuple[str, str, str | None], ...] = ()

    @property
    def n_findings(self) -> int:
        return len(self.rows)

    def summary(self) -> str:
        return f"{len(self.rows)} odd names\nfirst: {self.rows[0][1] if self.rows else '-'}"

    def to_frame(self) -> Any:
        import pandas as pd

        cols = ["sample_id", "filepath", "label", "is_odd_name_issue"]
        return pd.DataFrame([{"sample_id": s, "filepath": f, "label": lab, "is_odd_name_issue": True}
                             for s, f, lab in self.rows], columns=cols)

    def to_export(self) -> dict[str, Any]:
        return {"odd_names": [f for _, f, _ in self.rows]}


@dataclass(frozen=True)
class _Options:
    parity: int = 1


@pytest.fixture
def odd_names_check():
    seen: list[Any] = []

    @register_check(name="odd_names", title="odd names", result=OddNames, needs=(LABELS, SPLITS),
                    count_key="odd_names", options=_Options, absent_export={"odd_names": []},
                    writes=Writes(fields=(SampleField("odd", "wb_odd_name",
                                                      lambda r: {s: True for s, _, _ in r.rows}),),
                                  tags=(SampleTag("odd", "wb:odd_name", lambda r: {s for s, _, _ in r.rows}),),
                                  views=(SavedView("odd_names", "wb-odd-names", "wb:odd_name"),)),
                    gate=GateSpec("odd-names", "odd names", lambda r: r.n_findings),
                    file_measures=lambda img: {"width": img.size[0]})
    def run(inputs, config, options):
        seen.append(inputs.own_measures())
        cols = inputs.columns
        return OddNames(tuple((s, f, lab) for s, f, lab in zip(cols.ids, cols.filepaths, cols.labels)
                              if len(Path(f).name) % 2 == options.parity))

    yield seen
    registry.unregister_check("odd_names")


def test_a_registered_check_reaches_every_output(odd_names_check, tmp_path: Path, unique_name: str) -> None:
    import workbench
    from workbench.config import AuditConfig
    from workbench.gates import evaluate_gates, parse_gates
    from workbench.panels import tabs
    from workbench.render.html_report import render_html
    from workbench.render.json_export import to_export_dict
    from workbench.render.summary import text_summary
    from workbench.results import AuditResult

    root = split_class_folders(tmp_path / "data", leak_to="test/cat/copy.png")
    cfg = AuditConfig(embedder="none", check_options={"odd_names": {"parity": 1}})
    result = workbench.audit(root, cfg, name=unique_name)
    odd = result.findings["odd_names"]
    expected = sorted(str(p) for p in root.rglob("*.png") if len(p.name) % 2 == 1)
    assert sorted(f for _, f, _ in odd.rows) == expected and odd.n_findings > 0
    assert result.check("odd_names").state == "ran"
    assert all(m is not None and m["width"] > 0 for m in odd_names_check[0])  # measured in the file pass
    assert result.counts()["odd_names"] == odd.n_findings
    assert to_export_dict(result)["odd_names"] == [f for _, f, _ in odd.rows]
    assert "odd names      " in text_summary(result)
    (outcome,) = evaluate_gates(result, parse_gates("odd-names"))
    assert outcome.failed and "odd names" in outcome.message
    import fiftyone as fo

    ds = fo.load_dataset(unique_name)
    assert "wb_odd_name" in ds.get_field_schema() and len(ds.match_tags("wb:odd_name")) == odd.n_findings
    assert len(ds.load_saved_view("wb-odd-names")) == odd.n_findings
    html = render_html(result)
    assert 'id="odd-names"' in html and "odd name issue" in html
    assert "Odd names" in [title for title, _, _ in tabs()]
    again = AuditResult.from_dict(json.loads(result.to_json()))
    assert again.findings["odd_names"] == odd

    skipped = workbench.run_audit(ds, dataclasses.replace(cfg, skip_checks=("odd_names",)), progress=False)
    assert "odd_names" not in skipped.findings and skipped.check("odd_names").state == "skipped"
    assert skipped.counts()["odd_names"] is None and to_export_dict(skipped)["summary"]["odd_names"] is None
    (outcome,) = evaluate_gates(skipped, parse_gates("odd-names"))
    assert outcome.failed and "skipped" in outcome.message  # a gate never passes on a check that did not run
    assert to_export_dict(skipped)["odd_names"] == []
