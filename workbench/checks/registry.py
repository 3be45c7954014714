"""The check registry: a check is one module that declares what it needs, returns, writes and shows.

A check module decorates its run function, ``run(inputs: CheckInputs, config: AuditConfig, options)``,
with :func:`register_check` and is listed once in :data:`CHECK_MODULES`. The declaration names:

- ``needs``: typed requirements (:class:`Requirement` values such as :data:`LABELS`, or
  :class:`ResultOf` another check's result type). The orchestrator runs checks in an order that
  satisfies every :class:`ResultOf`, skips a check whose requirements are absent (with the reason)
  and hands each check only the results it declared (:meth:`CheckInputs.result_of`);
- ``result``: the result type (it follows :class:`~workbench.results.protocol.CheckResult`) and
  ``count_key``, its name in ``AuditResult.counts()``;
- ``writes``: the FiftyOne fields, tags and saved views it writes (:class:`SampleField`,
  :class:`SampleTag`, :class:`SavedView`), and for object-level findings the attributes, label tags
  and patches views on the audited label field's objects (:class:`ObjectAttr`, :class:`ObjectTag`,
  :class:`PatchesView`);
- ``gate``: its ``--fail-on`` name, unit and what it counts (:class:`GateSpec`);
- ``section`` and ``panel``: its report template include and its notebook panel (:class:`PanelSpec`);
  ``figures``: ``module:function`` giving its result's plotly figures as ``[(figure, height)]``, which
  the report's section (``view.figures``) and the panel draw;
- ``options``: a frozen dataclass of its options (``AuditConfig.check_options[name]``, CLI
  ``--check-option name.key=value``); ``file_measures``: a function of each decoded image, run in
  the pass that already reads every file, whose numbers the check reads from the file facts;
  ``reads_measures``: other checks whose measures it reads too (taken even when those are skipped).

Renderers (write-back, JSON, summary, gates, report, panels) loop over :func:`registered_checks`;
adding a check touches none of them.

Example:
    >>> [spec.name for spec in registered_checks()][:3]
    ['integrity', 'duplicates', 'leakage']
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from workbench.checks.inputs import CheckInputs, Predictions, SampleColumns  # noqa: F401  (checks import them here)

if TYPE_CHECKING:
    from workbench.config import AuditConfig
    from workbench.results import AuditResult

#: The modules that register checks, in the order their checks appear in every output. One line per check.
CHECK_MODULES: tuple[str, ...] = (
    "workbench.checks.integrity",
    "workbench.checks.duplicates",
    "workbench.checks.leakage",
    "workbench.checks.label_issues",
    "workbench.checks.balance",
    "workbench.checks.bias",
    "workbench.checks.spurious",
    "workbench.checks.drift",
    "workbench.checks.concepts",
    "workbench.checks.image_quality",
    "workbench.checks.outliers",
    "workbench.checks.objects",
    "workbench.checks.object_labels",
    "workbench.checks.masks",
    "workbench.checks.agreement",
    "workbench.checks.split_proposal",
    "workbench.checks.selection",
    "workbench.checks.licences",
)

#: The generic panel and report section for checks that declare none of their own.
GENERIC_PANEL = "workbench.panels.findings:findings_panel"
GENERIC_SECTION = "sections/findings.html.j2"


@dataclass(frozen=True)
class Requirement:
    """An input a check needs, present or not in a given audit, and why a check without it is skipped."""

    name: str
    present: Callable[[CheckInputs], bool] = field(repr=False, compare=False)
    why_missing: str = ""
    #: Task-specific reasons, e.g. ``{"detection": "..."}``, appended to ``why_missing``.
    by_task: Mapping[str, str] = field(default_factory=dict, compare=False)

    def reason(self, task: str) -> str:
        extra = self.by_task.get(task)
        return f"{self.why_missing}; {extra}" if extra else self.why_missing


@dataclass(frozen=True)
class ResultOf:
    """Another check's result, by its result type: that check runs first, and this one is skipped
    when it did not run."""

    result_type: type

    @property
    def name(self) -> str:
        return f"result of {self.result_type.__name__}"


LABELS = Requirement("labels", lambda i: i.task == "classification" and any(x is not None for x in i.columns.labels),
                     "needs image-level class labels (a Classification field)",
                     {"detection": "a detection dataset's labels are reviewed per object (the object_labels check)",
                      "segmentation": "segmentation masks are not reviewed for label errors in this version"})
ANY_LABELS = Requirement("any labels", lambda i: any(i.columns.label_lists), "the dataset has no labels")
SPLITS = Requirement("splits", lambda i: any(s is not None for s in i.columns.splits),
                     "the dataset has no splits (folders, tags or a split field)")
EMBEDDINGS = Requirement("embeddings", lambda i: i.embeddings is not None and len(i.embeddings.ids) > 1,
                         "no embeddings could be computed")
GRAPH = Requirement("k-NN graph", lambda i: i.graph is not None, "no k-NN graph (needs embeddings of 2+ images)")
FEATURES_OR_PREDICTIONS = Requirement(
    "embeddings or predictions", lambda i: EMBEDDINGS.present(i) or i.predictions is not None,
    "needs embeddings or user predictions")


@dataclass(frozen=True)
class SampleField:
    """A FiftyOne sample field a check writes: ``values(result)`` is ``{sample id: value}``.

    ``kind="classification"``: each value is a dict ``{label, confidence, **attributes}`` written as a
    ``fo.Classification``; ``kind="detections"``: a list of such dicts with a ``bounding_box``
    (relative ``[x, y, w, h]``) written as ``fo.Detections`` (boxes the annotation lacks, a consensus).
    ``key`` names it in ``dataset.info["workbench"]["fields"]``.
    """

    key: str
    name: str
    values: Callable[[Any], dict[str, Any]] = field(repr=False, compare=False)
    kind: Literal["value", "classification", "detections"] = "value"


@dataclass(frozen=True)
class SampleTag:
    """A sample tag a check sets on ``members(result)`` (and removes from every other sample)."""

    key: str
    tag: str
    members: Callable[[Any], set[str]] = field(repr=False, compare=False)


@dataclass(frozen=True)
class SavedView:
    """A saved view of the samples tagged ``tag``, sorted by the field ``sort_by`` (its FiftyOne name)."""

    key: str
    name: str
    tag: str
    sort_by: str | None = None


@dataclass(frozen=True)
class ObjectAttr:
    """An attribute a check sets on the objects (detections, polylines) of the audited label field:
    ``values(result)`` is ``{object id: value}``; every other object of that field gets ``None``."""

    key: str
    name: str
    values: Callable[[Any], dict[str, Any]] = field(repr=False, compare=False)


@dataclass(frozen=True)
class ObjectTag:
    """A label tag a check sets on the objects ``members(result)`` (object ids) of the audited label
    field, and removes from every other object of it."""

    key: str
    tag: str
    members: Callable[[Any], set[str]] = field(repr=False, compare=False)


@dataclass(frozen=True)
class PatchesView:
    """A saved patches view (one App tile per object) of the audited field's objects tagged ``tag``,
    sorted by the object attribute ``sort_by`` when given."""

    key: str
    name: str
    tag: str
    sort_by: str | None = None


@dataclass(frozen=True)
class SliceViews:
    """Saved views, one per slice the result names: ``slices(result)`` is ``{view name: sample ids}``, each
    name ``prefix`` then a number (``wb-weak-1``). A slice an earlier audit saved and this one no longer
    names is deleted, so the App never shows a stale slice."""

    key: str
    prefix: str
    slices: Callable[[Any], dict[str, set[str]]] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Writes:
    fields: tuple[SampleField, ...] = ()
    tags: tuple[SampleTag, ...] = ()
    views: tuple[SavedView, ...] = ()
    slices: tuple[SliceViews, ...] = ()
    object_attrs: tuple[ObjectAttr, ...] = ()
    object_tags: tuple[ObjectTag, ...] = ()
    patches: tuple[PatchesView, ...] = ()


@dataclass(frozen=True)
class GateSpec:
    """A ``--fail-on`` gate: ``count(result)`` of ``total(result, audit)`` (default: all samples).

    ``depends_on`` names audit stages or checks whose *failure* makes the count untrustworthy.
    """

    name: str
    unit: str
    count: Callable[[Any], int] = field(repr=False, compare=False)
    total: Callable[[Any, AuditResult], int] | None = field(default=None, repr=False, compare=False)
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class PanelSpec:
    """A notebook tab: its title and the panel function as ``module:function`` (imported when shown).

    Checks sharing a title share one tab (the first check's function draws it); an empty title is the
    check's report heading.
    """

    title: str
    target: str = GENERIC_PANEL


@dataclass(frozen=True)
class CheckSpec:
    """One registered check (see the module docstring)."""

    name: str
    title: str
    run: Callable[[CheckInputs, AuditConfig, Any], Any] = field(repr=False, compare=False)
    result_type: type
    needs: tuple[Requirement | ResultOf, ...] = ()
    count_key: str | None = None
    writes: Writes = Writes()
    gate: GateSpec | None = None
    section: str = GENERIC_SECTION
    #: Its notebook tab (default: a tab of its own, titled by ``heading``, drawn by the generic panel);
    #: ``None``: no tab (the overview shows it).
    panel: PanelSpec | None = PanelSpec("")
    #: ``module:function(result) -> [(plotly figure, height)]`` (imported when drawn); "" for none.
    figures: str = ""
    #: The JSON export's keys when the check did not run (so a consumer finds them, empty).
    absent_export: Mapping[str, Any] = field(default_factory=dict)
    options: type | None = None
    file_measures: Callable[[Any], dict[str, float]] | None = field(default=None, repr=False, compare=False)
    #: Bump when ``file_measures`` computes differently: cached measures of older versions are recomputed.
    measures_version: int = 1
    #: Other checks whose ``file_measures`` this check reads (``inputs.measures(get_check(name).measures_key)``):
    #: they are taken while the files are read even when that check itself is skipped.
    reads_measures: tuple[str, ...] = ()
    #: The report section's title and anchor (default: the title capitalised; the name with dashes).
    report_title: str = ""
    report_anchor: str = ""

    @property
    def heading(self) -> str:
        return self.report_title or self.title[:1].upper() + self.title[1:]

    @property
    def anchor(self) -> str:
        return self.report_anchor or self.name.replace("_", "-")

    def options_from(self, cfg: AuditConfig) -> Any:
        """This check's options from ``cfg.check_options[name]`` over the declared defaults."""
        return make_options(self, cfg.check_options.get(self.name, {}))

    def draw_figures(self, result: Any) -> list[tuple[Any, int]]:
        """``[(plotly figure, height)]`` of ``result`` from the declared ``figures`` function (none declared: [])."""
        if not self.figures:
            return []
        module, _, name = self.figures.partition(":")
        return list(getattr(importlib.import_module(module), name)(result))

    @property
    def measures_key(self) -> str:
        return f"{self.name}@{self.measures_version}"


_REGISTRY: dict[str, CheckSpec] = {}
_LOADED: list[bool] = []


def register_check(*, name: str, title: str, result: type, **declaration: Any) -> Callable:
    """Register the decorated ``run(inputs: CheckInputs, config: AuditConfig, options) -> result`` as ``name``.

    ``options`` is the check's declared options object (``None`` when it declares none).

    ``declaration`` takes the other :class:`CheckSpec` fields. Registering a name twice replaces it
    (a reloaded module), so names must be unique across :data:`CHECK_MODULES`.

    Example:
        >>> @register_check(name="doc_example", title="Example", result=dict)  # doctest: +SKIP
        ... def run(inputs, config, options):
        ...     return {}
    """

    def decorate(run: Callable) -> Callable:
        _REGISTRY[name] = CheckSpec(name=name, title=title, run=run, result_type=result, **declaration)
        return run

    return decorate


def unregister_check(name: str) -> None:
    """Remove a check (for tests that register a temporary one)."""
    _REGISTRY.pop(name, None)


def registered_checks() -> tuple[CheckSpec, ...]:
    """Every registered check, in :data:`CHECK_MODULES` order, moved after the checks whose results it needs.

    Raises:
        ValueError: a check needs a result type no check returns, or the needs form a cycle.
    """
    if not _LOADED:
        for module in CHECK_MODULES:
            importlib.import_module(module)
        _LOADED.append(True)
    place = {module: n for n, module in enumerate(CHECK_MODULES)}
    ordered = sorted(_REGISTRY.values(), key=lambda spec: place.get(getattr(spec.run, "__module__", ""), len(place)))
    return run_order(ordered)  # sorted() is stable: checks registered elsewhere keep their order, last


def check_names() -> tuple[str, ...]:
    return tuple(spec.name for spec in registered_checks())


def get_check(name: str) -> CheckSpec:
    """The check registered as ``name``; a clear error naming the known checks otherwise."""
    from workbench.errors import UnknownCheck

    specs = {spec.name: spec for spec in registered_checks()}
    if name not in specs:
        raise UnknownCheck(f"unknown check {name!r}; registered: {', '.join(specs)}")
    return specs[name]


def parse_check_options(items: list[str]) -> dict[str, dict[str, Any]]:
    """``["image_quality.blur=40", ...]`` as ``{"image_quality": {"blur": 40.0}}``, each value converted to
    the type of the check's declared option.

    Raises:
        UnknownCheck: a malformed item, an unknown check or option, or a value of the wrong type.
    """
    from workbench.errors import UnknownCheck

    out: dict[str, dict[str, Any]] = {}
    seen: dict[tuple[str, str], str] = {}
    for item in items:
        name, dot, rest = item.partition(".")
        key, eq, text = rest.partition("=")
        if not (dot and eq and name and key):
            raise UnknownCheck(f"--check-option: can't read {item!r}; write CHECK.OPTION=VALUE, e.g. "
                               "image_quality.blur=40")
        spec = get_check(name)
        kinds = {f.name: f.type for f in dataclasses.fields(spec.options)} if spec.options else {}
        if key not in kinds:
            raise UnknownCheck(f"--check-option: check {name!r} has no option {key!r}"
                               + (f"; it takes {', '.join(sorted(kinds))}" if kinds else "; it takes none"))
        if (name, key) in seen:
            raise UnknownCheck(f"--check-option: {name}.{key} is given twice ({seen[name, key]!r} and {item!r})")
        seen[name, key] = item
        out.setdefault(name, {})[key] = _typed(text, str(kinds[key]), item)
    return out


_KIND_NAMES = {"float": "a number", "int": "a whole number", "bool": "true or false", "str": "text"}


def _typed(text: str, kind: str, item: str) -> Any:
    from workbench.errors import CheckConfigError

    try:
        if kind.startswith("float"):
            return float(text)
        if kind.startswith("int"):
            return int(text)
        if kind.startswith("bool"):
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("true", "1", "yes")
    except ValueError:
        raise CheckConfigError(f"--check-option {item!r}: {text!r} is not "
                               f"{_KIND_NAMES.get(kind.split()[0], kind)}") from None
    return text


def make_options(spec: CheckSpec, values: Mapping[str, Any]) -> Any:
    """``spec``'s options object from ``values``: every value of its declared type (numbers finite), then
    the options class's own range checks.

    Raises:
        CheckConfigError: an unknown option, a value of the wrong type, or one out of range.
    """
    import math

    from workbench.errors import CheckConfigError, UnknownCheck

    kinds = {f.name: str(f.type) for f in dataclasses.fields(spec.options)} if spec.options else {}
    unknown = sorted(set(values) - set(kinds))
    if spec.options is None and values:
        raise UnknownCheck(f"check {spec.name!r} takes no options")
    if unknown:
        raise UnknownCheck(f"check {spec.name!r} has no option {', '.join(map(repr, unknown))}; it takes "
                           f"{', '.join(sorted(kinds))}")
    for key, value in values.items():
        kind = kinds[key].split()[0]
        ok = {"float": isinstance(value, (int, float)) and not isinstance(value, bool)
                       and math.isfinite(float(value)),
              "int": isinstance(value, int) and not isinstance(value, bool),
              "bool": isinstance(value, bool), "str": isinstance(value, str)}.get(kind, True)
        if not ok and not (value is None and "None" in kinds[key]):
            raise CheckConfigError(f"{spec.name}.{key}: {value!r} is not {_KIND_NAMES.get(kind, kind)}"
                                   + (" (finite)" if kind == "float" else ""))
    try:
        return spec.options(**values) if spec.options else None
    except (TypeError, ValueError) as exc:
        raise CheckConfigError(f"{spec.name}: {exc}") from None


def run_order(specs: list[CheckSpec]) -> tuple[CheckSpec, ...]:
    """``specs`` in their given order, except that a check comes after every check whose result it needs."""
    producer = {spec.result_type: spec.name for spec in specs}
    by_name = {spec.name: spec for spec in specs}
    out: list[CheckSpec] = []
    state: dict[str, str] = {}

    def visit(spec: CheckSpec) -> None:
        if state.get(spec.name) == "done":
            return
        if state.get(spec.name) == "visiting":
            raise ValueError(f"check {spec.name!r} is part of a cycle of needs")
        state[spec.name] = "visiting"
        for need in spec.needs:
            if isinstance(need, ResultOf):
                if need.result_type not in producer:
                    raise ValueError(f"check {spec.name!r} needs a {need.result_type.__name__}, which no "
                                     "registered check returns")
                visit(by_name[producer[need.result_type]])
        state[spec.name] = "done"
        out.append(spec)

    for spec in specs:
        visit(spec)
    return tuple(out)
