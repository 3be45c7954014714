"""The proposed split: groups whole (zero leakage by construction), stratified within tolerance, repair moves little."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from workbench.checks.split_assign import assign_groups, crossing, link_groups, spread_groups, value_links
from workbench.checks.split_proposal import CopyLinks, SplitOptions, parse_ratios, propose_split, stratum
from workbench.results.serialize import from_jsonable, to_jsonable
from workbench.results.split_proposal import SplitProposal


def _data(n: int = 1200, seed: int = 0):
    """Imbalanced classes, copy pairs and chains, and a session field shared by a few images each."""
    rng = np.random.default_rng(seed)
    classes = rng.choice(["a", "b", "c", "d", "e"], n, p=[0.4, 0.25, 0.15, 0.12, 0.08]).tolist()
    pairs = [(int(i), int(i) + 1) for i in rng.choice(n - 1, 60, replace=False)]
    same = [tuple(int(x) for x in rng.choice(n, 3, replace=False)) for _ in range(10)]
    sessions = [f"s{int(k)}" if k < 150 else None for k in rng.integers(0, 300, n)]
    return [f"id{i}" for i in range(n)], classes, CopyLinks(tuple(pairs), tuple(same)), sessions


def test_union_of_links_and_of_shared_values():
    assert link_groups(6, [(0, 5), (2, 3), (3, 4)]).tolist() == [0, 1, 2, 2, 2, 0]
    assert value_links({"session": ["x", "y", "x", "", None, "y"], "camera": [1, 2, 3, 1, 5, 6]}) == \
        [(0, 2), (1, 5), (0, 3)]
    assert link_groups(4, []).tolist() == [0, 1, 2, 3]


def test_crossing_counts_every_pair_of_one_content_once():
    splits = ["train", "test", "test", "train", None]
    assert crossing([(0, 1), (1, 0), (0, 3)], splits) == 1  # the same pair twice counts once
    assert crossing([], splits, [(0, 1, 2, 3, 4)]) == 4  # train {0,3} x test {1,2}; no split: crosses nothing
    assert spread_groups(np.array([0, 0, 1, 2, 2]), splits) == 1  # {train, test}; {test}; {train, no split}


def test_a_fresh_split_keeps_groups_whole_and_classes_within_tolerance():
    ids, classes, links, sessions = _data()
    p = propose_split(ids, classes, [None] * len(ids), links, {"session": sessions},
                      options=SplitOptions(ratios="train=0.8,val=0.1,test=0.1", group_by="session"))
    a = [p.assignment[i] for i in ids]
    assert p.mode == "fresh" and p.proposed.crossing_links == 0 and p.proposed.split_groups == 0
    assert all(a[x] == a[y] for x, y in links.pairs) and all(len({a[i] for i in g}) == 1 for g in links.same_content)
    by_session: dict[str, set[str]] = {}
    for s, split in zip(sessions, a):
        if s is not None:
            by_session.setdefault(s, set()).add(split)
    assert all(len(v) == 1 for v in by_session.values())
    assert p.within_tolerance and p.proposed.worst <= 0.05
    assert {s.name: s.share for s in p.proposed.sides} == pytest.approx({"train": 0.8, "val": 0.1, "test": 0.1},
                                                                        abs=0.01)
    again = propose_split(ids, classes, [None] * len(ids), links, {"session": sessions},
                          options=SplitOptions(ratios="train=0.8,val=0.1,test=0.1", group_by="session"))
    assert again.assignment == p.assignment  # deterministic for one seed


def test_repair_moves_only_the_groups_that_span_splits():
    ids, classes, links, _ = _data(seed=1)
    rng = np.random.default_rng(2)
    current = rng.choice(["train", "test"], len(ids), p=[0.8, 0.2]).tolist()
    p = propose_split(ids, classes, current, links, {})
    groups = link_groups(len(ids), links.joining())
    spanning = {g for g in set(groups.tolist()) if len({current[i] for i in np.flatnonzero(groups == g)}) > 1}
    moved = [i for i, sid in enumerate(ids) if p.assignment[sid] != current[i]]
    assert p.mode == "repair" and p.current.crossing_links > 0 and p.proposed.crossing_links == 0
    assert moved and all(groups[i] in spanning for i in moved)  # nothing outside a spanning group moves
    assert p.moved == len(moved) <= sum(int((groups == g).sum()) for g in spanning) // 2 + len(spanning)
    assert p.ratios == {"train": pytest.approx(Counter(current)["train"] / len(ids), abs=1e-6),
                        "test": pytest.approx(Counter(current)["test"] / len(ids), abs=1e-6)}


def test_images_without_a_split_are_placed_in_repair():
    ids, classes, links, _ = _data(n=300, seed=3)
    current = ["train" if i % 5 else "test" for i in range(len(ids))]
    for i in range(0, 40):
        current[i] = None
    p = propose_split(ids, classes, current, links, {}, options=SplitOptions(min_class_size=1))
    assert all(p.assignment[i] in ("train", "test") for i in ids) and p.proposed.unassigned == 0
    assert p.current.unassigned == 40


def test_a_group_larger_than_every_split_is_said_and_missing_values_too():
    ids = [f"i{k}" for k in range(100)]
    fits = propose_split(ids, ["a"] * 100, [None] * 100, CopyLinks(), {"source": ["cam1"] * 60 + [None] * 40},
                         options=SplitOptions(ratios="train=0.8,test=0.2", group_by="source", min_class_size=1))
    assert fits.largest_group == 60 and len({fits.assignment[i] for i in ids[:60]}) == 1
    assert fits.notes == ("40 images have no source: each is grouped by its copies alone",)  # 60 fits in train
    big = propose_split(ids, ["a"] * 100, [None] * 100, CopyLinks(), {"source": ["cam1"] * 90 + ["cam2"] * 10},
                        options=SplitOptions(ratios="train=0.8,test=0.2", group_by="source", min_class_size=1))
    assert "more than the largest split's target (train: 80): the ratios can't all be met" in big.notes[0]


def test_unreachable_ratios_fail_the_tolerance():
    ids = [f"i{k}" for k in range(80)]
    classes = ["a"] * 40 + ["b"] * 40
    p = propose_split(ids, classes, [None] * 80, CopyLinks(), {"src": ["x"] * 40 + ["y"] * 40},
                      options=SplitOptions(ratios="train=0.5,test=0.5", group_by="src"))
    assert not p.within_tolerance and p.n_findings == 2 and p.proposed.worst == pytest.approx(0.5)
    assert p.proposed.worst_gap[2] == pytest.approx(0.5, abs=1e-6) or p.proposed.worst_gap[2] == pytest.approx(-0.5)
    assert "% off in " in p.summary() and "(tolerance ±5%)" in p.summary()
    # the audit history reads these rows after every audit (an AttributeError here was exit 3)
    assert sorted(f.identity for f in p.finding_rows()) == [("off_ratio", (), ("test",)), ("off_ratio", (), ("train",))]


@pytest.mark.parametrize("text, message", [
    ("train=0.8", "at least two splits"),
    ("train=0.8,test=0.3", "sum to 1.1"),
    ("train=0.8,test", "can't read 'test'"),
    ("train=1,test=0", "must be between 0 and 1"),
    ("train=0.5,train=0.5", "'train' is given twice"),
    ("train=nan,test=0.5", "can't read"),
])
def test_ratios_are_read_strictly(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_ratios(text)


def test_options_and_modes_are_validated():
    with pytest.raises(ValueError, match="mode must be"):
        SplitOptions(mode="random")
    with pytest.raises(ValueError, match="tolerance"):
        SplitOptions(tolerance=0)
    with pytest.raises(ValueError, match="empty names"):
        SplitOptions(group_by="source,,session")
    with pytest.raises(ValueError, match="needs a current split"):
        propose_split(["a", "b"], ["x", "y"], [None, None], CopyLinks(), {}, options=SplitOptions(mode="repair"))
    with pytest.raises(ValueError, match="ratios apply to mode=fresh; repair keeps the current split's shares"):
        propose_split(["a", "b"], ["x", "y"], ["train", "test"], CopyLinks(), {},
                      options=SplitOptions(mode="repair", ratios="train=0.5,val=0.5"))
    auto = propose_split(["a", "b"], ["x", "y"], ["train", "test"], CopyLinks(), {},
                         options=SplitOptions(ratios="train=0.5,val=0.5"))
    assert auto.mode == "fresh" and set(auto.ratios) == {"train", "val"}  # ratios asked for: a fresh split


def test_stratum_of_multi_object_images_is_the_rarest_class():
    counts = Counter({"car": 100, "bus": 5})
    assert stratum(None, ("car", "bus"), counts) == "bus" and stratum("cat", (), counts) == "cat"
    assert stratum(None, (), counts) == "(none)"


def test_the_result_round_trips_and_exports_no_per_sample_list():
    ids, classes, links, _ = _data(n=200)
    p = propose_split(ids, classes, ["train"] * 150 + ["test"] * 50, links, {})
    back = from_jsonable(SplitProposal, json.loads(json.dumps(to_jsonable(p))))
    assert back == p
    export = p.to_export()["split_proposal"]
    assert "assignment" not in export and export["proposed"]["crossing_links"] == 0
    assert list(export["proposed"]["splits"]) == ["train", "test"]
    assert p.to_frame()["split"].tolist() == ["train", "test"]


def test_assign_groups_on_one_split_per_class_gets_each_class_its_share():
    strata = ["a"] * 50 + ["b"] * 50
    out = assign_groups(strata, np.arange(100), {"train": 0.8, "test": 0.2})
    assert Counter(zip(strata, out)) == {("a", "train"): 40, ("a", "test"): 10, ("b", "train"): 40,
                                         ("b", "test"): 10}
