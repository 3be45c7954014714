"""Concept slices: what the images show besides their label, named by a model, crossed with the labels.

With trained CLIP weights the attributes are zero-shot answers to text prompts (setting, time of day,
weather, background; your own groups from a JSON or YAML file). With the offline fallback,
EfficientNet-Lite0, each image's top ImageNet class is the attribute, read from the audit's vectors
through the network's classifier head (:mod:`workbench.embeddings.concepts`), and the report says so.
Either way: attribute × class tables with Cramér's V, and the classes dominated by one context.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.checks.concept_slices import concept_slices
from workbench.checks.registry import (EMBEDDINGS, CheckInputs, GateSpec, PanelSpec, Requirement, SampleField,
                                       SampleTag, SavedView, Writes, register_check)
from workbench.results.concepts import ConceptSlicesResult

if TYPE_CHECKING:
    from workbench.config import AuditConfig

IMAGE_LABELS = Requirement(
    "image labels", lambda i: i.task == "classification" and any(x is not None for x in i.columns.labels),
    "needs image-level class labels (a Classification field)",
    {"detection": "concepts are crossed with image labels; a detection image holds several classes",
     "segmentation": "concepts are crossed with image labels; a segmentation image holds several classes"})

TAG = "wb:dominated_context"
OTHER = "(rare concept)"

#: The default prompt groups (the data guide: indoor/outdoor, day/night, weather, background type).
DEFAULT_PROMPTS: dict[str, dict[str, str]] = {
    "setting": {"indoors": "a photo taken indoors", "outdoors": "a photo taken outdoors"},
    "time of day": {"day": "a photo taken in daylight", "night": "a photo taken at night"},
    "weather": {"clear": "a photo taken on a clear sunny day", "overcast": "a photo taken on an overcast day",
                "rain": "a photo taken in the rain", "snow": "a photo taken in the snow",
                "fog": "a photo taken in fog"},
    "background": {"plain": "an object on a plain studio background", "room": "a photo of a room interior",
                   "street": "a photo of a city street", "nature": "a photo of grass, trees or fields",
                   "water": "a photo of the sea, a lake or a river", "sky": "a photo of the sky",
                   "snow": "a photo of snow on the ground", "sand": "a photo of a beach or desert"},
}


def read_prompt_file(path: str) -> dict[str, dict[str, str]]:
    """A prompt file: JSON or YAML ``{group: [value, ...]}`` (prompt "a photo of {value}") or
    ``{group: {value: prompt}}``; each group needs two values or more.

    Raises:
        ValueError: the file can't be read or has another shape; the message says which.
    """
    import json

    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"prompts: can't read {path}: {type(exc).__name__}: {exc}") from None
    try:
        if p.suffix.lower() == ".json":
            doc = json.loads(text)
        else:
            import yaml

            doc = yaml.safe_load(text)
    except Exception as exc:  # json / yaml parse errors
        raise ValueError(f"prompts: {path} is not valid {'JSON' if p.suffix.lower() == '.json' else 'YAML'}: "
                         f"{exc}") from None
    if not isinstance(doc, dict) or not doc:
        raise ValueError(f"prompts: {path} must map each group to its values, e.g. {{\"terrain\": [\"snow\", "
                         "\"sand\", \"grass\"]}")
    out: dict[str, dict[str, str]] = {}
    for group, values in doc.items():
        if isinstance(values, list) and all(isinstance(v, str) and v.strip() for v in values):
            values = {v: f"a photo of {v}" for v in values}
        if not (isinstance(values, dict) and all(isinstance(k, str) and isinstance(v, str) and v.strip()
                                                 for k, v in values.items())):
            raise ValueError(f"prompts: group {str(group)!r} in {path} must be a list of values or a map of value "
                             "to prompt text")
        if len(values) < 2:
            raise ValueError(f"prompts: group {str(group)!r} in {path} has {len(values)} value; give two or more")
        out[str(group)] = dict(values)
    return out


@dataclass(frozen=True)
class ConceptOptions:
    """``concept_slices`` options (``--check-option concept_slices.KEY=VALUE``)."""

    #: A class is dominated when at least this share of its images carry one level...
    dominance: float = 0.9
    #: ...and the other classes' images carry it at least this much less often.
    min_lift: float = 0.2
    #: Classes with fewer images (with a level) are not judged.
    min_class_size: int = 20
    #: Zero-shot: an image's level is the best prompt of a group when its probability is at least this.
    min_confidence: float = 0.5
    #: ImageNet concepts kept per image (written to ``wb_concepts``); the top one is the attribute.
    top_k: int = 3
    #: ImageNet: a concept seen on fewer images joins the level "(rare concept)".
    min_level_count: int = 5
    #: A JSON or YAML file of your own prompt groups (CLIP weights only).
    prompts: str = ""
    #: Keep the default groups (setting, time of day, weather, background) beside yours.
    defaults: bool = True
    #: Example images kept (and tagged) per dominated class, most confident first.
    max_examples: int = 24

    def __post_init__(self) -> None:
        for name in ("dominance", "min_confidence"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1], not {getattr(self, name)!r}")
        if not 0 <= self.min_lift < 1:
            raise ValueError(f"min_lift must be in [0, 1), not {self.min_lift!r}")
        for name, low in (("min_class_size", 2), ("top_k", 1), ("min_level_count", 1), ("max_examples", 0)):
            if getattr(self, name) < low:
                raise ValueError(f"{name} must be at least {low}, not {getattr(self, name)!r}")
        if self.top_k > 20:
            raise ValueError(f"top_k must be at most 20, not {self.top_k!r}")
        if self.prompts:
            read_prompt_file(self.prompts)  # a bad file is an input error before any work
        elif not self.defaults:
            raise ValueError("defaults=false leaves no prompt groups; give prompts=FILE too")

    def groups(self) -> dict[str, dict[str, str]]:
        out = dict(DEFAULT_PROMPTS) if self.defaults else {}
        out.update(read_prompt_file(self.prompts) if self.prompts else {})
        return out


def _imagenet(vectors: Any, options: ConceptOptions) -> tuple[dict, dict, list[tuple[str, ...]], str, str]:
    from collections import Counter

    from workbench.embeddings.concepts import imagenet_concepts

    idx, probs, names = imagenet_concepts(vectors, options.top_k)
    top = [names[i[0]] for i in idx]
    seen = Counter(top)
    level = [t if seen[t] >= options.min_level_count else OTHER for t in top]
    concepts = [tuple(names[j] for j in row) for row in idx]
    note = ("attributes are EfficientNet-Lite0's top ImageNet class per image (the offline fallback: no CLIP "
            "weights); ImageNet classes name objects as often as contexts, so a class dominated by its own "
            "object's name is expected")
    return ({"imagenet concept": level}, {"imagenet concept": [float(p[0]) for p in probs]}, concepts,
            "imagenet top-1 (efficientnet-lite0)", note)


def _zero_shot(vectors: Any, options: ConceptOptions, embedder: Any) -> tuple[dict, dict, list, str, str]:
    from workbench.embeddings.concepts import clip_text_vectors, zero_shot

    groups = options.groups()
    texts = [t for g in groups.values() for t in g.values()]
    text = clip_text_vectors(embedder, texts)
    levels, conf, start = {}, {}, 0
    concepts: list[list[str]] = [[] for _ in range(len(vectors))]
    for group, values in groups.items():
        probs = zero_shot(vectors, text[start:start + len(values)])
        start += len(values)
        names = list(values)
        best, p = probs.argmax(1), probs.max(1)
        levels[group] = [names[b] if q >= options.min_confidence else None for b, q in zip(best, p)]
        conf[group] = [float(q) for q in p]
        for i, v in enumerate(levels[group]):
            if v is not None:
                concepts[i].append(f"{group}: {v}")
    note = (f"attributes are CLIP zero-shot answers to {len(texts)} prompts in {len(groups)} groups; an image "
            f"gets a group's level when its probability is at least {options.min_confidence:g}")
    return levels, conf, [tuple(c) for c in concepts], "clip zero-shot", note


def _judgeable(labels: list[str | None], levels: dict[str, list[str | None]], min_class_size: int) -> None:
    """Skip, with the reason, an audit where no class can be judged, so a gate on it can't pass unseen."""
    from collections import Counter

    from workbench.errors import CheckNotApplicable

    sized = Counter(lab for n, lab in enumerate(labels)
                    if lab is not None and any(v[n] is not None for v in levels.values()))
    if len(sized) < 2:
        raise CheckNotApplicable(f"needs two classes with concepts; the images with a concept hold {len(sized)}")
    if max(sized.values()) < min_class_size:
        raise CheckNotApplicable(f"no class has {min_class_size} images with a concept (the largest has "
                                 f"{max(sized.values())}); lower concept_slices.min_class_size to judge them")


@register_check(
    name="concept_slices", title="concepts", result=ConceptSlicesResult, report_title="Concept slices",
    needs=(EMBEDDINGS, IMAGE_LABELS), count_key="dominated_contexts",
    writes=Writes(fields=(SampleField("concepts", "wb_concepts", lambda r: {k: list(v) for k, v in r.concepts.items()}),),
                  tags=(SampleTag("dominated_context", TAG, lambda r: {e.sample_id for e in r.examples}),),
                  views=(SavedView("dominated_context", "wb-dominated-context", TAG),)),
    gate=GateSpec("concepts", "classes dominated by one context", lambda r: r.n_findings,
                  total=lambda r, audit: max(len(audit.classes), 1), depends_on=("embeddings",)),
    section="sections/concept_slices.html.j2", panel=PanelSpec("Concept slices"), options=ConceptOptions,
    absent_export={"concept_slices": None})
def run(inputs: CheckInputs, config: AuditConfig, options: ConceptOptions) -> ConceptSlicesResult:
    """The attributes from the embedder the audit used: CLIP (trained) or EfficientNet-Lite0."""
    from workbench.errors import CheckNotApplicable

    emb = inputs.embeddings
    model = emb.model_id
    if model.startswith("efficientnet-lite0"):
        levels, conf, concepts, source, note = _imagenet(emb.vectors, options)
        if options.prompts:
            note += "; the prompts file needs CLIP weights and was not used"
    elif model.startswith("open_clip/") and "/untrained" not in model:
        levels, conf, concepts, source, note = _zero_shot(emb.vectors, options, config.embedder)
    elif model.startswith("open_clip/"):
        raise CheckNotApplicable("the CLIP weights are untrained: zero-shot attributes would be noise")
    else:
        raise CheckNotApplicable(f"no concept model for the embedder {model!r} (CLIP or EfficientNet-Lite0)")
    cols = inputs.columns
    rows = [int(r) for r in inputs.embedded_rows]
    _judgeable([cols.labels[r] for r in rows], levels, options.min_class_size)
    return concept_slices([cols.ids[r] for r in rows], [cols.filepaths[r] for r in rows],
                          [cols.labels[r] for r in rows], levels, conf,
                          {cols.ids[r]: c for r, c in zip(rows, concepts)}, source=source, note=note,
                          dominance=options.dominance, min_lift=options.min_lift,
                          min_class_size=options.min_class_size, max_examples=options.max_examples,
                          skip_level=OTHER)
