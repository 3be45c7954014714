import pytest

from workbench.checks.balance import class_balance, readiness_of
from workbench.checks.bias import attribute_association, find_bias, size_bucket, split_shift


@pytest.mark.parametrize("count,level,nxt,needed", [
    (5, "below minimum", "minimum", 95), (100, "minimum", "good", 400), (999, "good", "excellent", 4001),
    (5000, "excellent", None, 0)])
def test_readiness_levels(count, level, nxt, needed):
    r = readiness_of(count, (100, 500, 5000))
    assert (r.level, r.next_level, r.needed_for_next) == (level, nxt, needed)


def test_ratio_judged_on_train_split():
    labels = [["a"]] * 100 + [["b"]] * 9 + [["b"]] * 50
    splits = ["train"] * 109 + ["test"] * 50
    r = class_balance(labels, splits)
    assert r.basis == "train" and r.imbalance_ratio == 0.09 and r.below_ratio == ("b",)
    assert r.counts == {"test": {"a": 0, "b": 50}, "train": {"a": 100, "b": 9}}
    assert {x.label: x.level for x in r.readiness} == {"a": "minimum", "b": "below minimum"}


def test_detection_counts_instances_and_negatives():
    r = class_balance([["car", "car"], ["bus"], []], [None] * 3, task="detection")
    assert r.unit == "instances" and r.totals == {"bus": 1, "car": 2}
    assert r.thresholds["minimum"] == 200 and r.negative_share == pytest.approx(1 / 3)


def test_custom_ratio():
    r = class_balance([["a"]] * 10 + [["b"]] * 3, [None] * 13, min_ratio=0.5)
    assert r.below_ratio == ("b",)


def test_split_shift_detects_difference():
    same = split_shift({"train": {"a": 50, "b": 50}, "test": {"a": 25, "b": 25}}, "train", "test")
    diff = split_shift({"train": {"a": 50, "b": 50}, "test": {"a": 45, "b": 5, "c": 0}}, "train", "test")
    assert same.js_divergence == pytest.approx(0) and same.cramers_v == pytest.approx(0)
    assert diff.cramers_v > 0.3 and diff.p_value < 0.01 and diff.largest_gaps[0][0] in ("a", "b")


def test_attribute_association_strength():
    labels = ["cat"] * 50 + ["dog"] * 50
    device = ["phone"] * 50 + ["dslr"] * 50  # the device predicts the label perfectly
    assoc = attribute_association("device", device, labels)
    assert assoc.cramers_v == pytest.approx(1.0) and assoc.strength == "strong"
    assert assoc.table == {"dslr": {"dog": 50}, "phone": {"cat": 50}}


def test_find_bias_skips_constant_and_high_cardinality():
    labels = ["a", "b"] * 20
    r = find_bias(labels, ["train"] * 40, {"const": ["x"] * 40, "id": [str(i) for i in range(40)],
                                          "src": ["s1", "s2", "s1", "s1"] * 10}, max_levels=30)
    assert [a.attribute for a in r.attributes] == ["src"]
    assert dict(r.skipped_attributes)["const"] == "has a single value"
    assert "40 distinct values" in dict(r.skipped_attributes)["id"]


def test_size_bucket():
    assert size_bucket(28, 28) == "<=64px" and size_bucket(1920, 1080) == ">1280px" and size_bucket(None, 3) is None
