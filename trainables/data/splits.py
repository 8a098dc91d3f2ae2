"""Deterministic, seeded train/val/test splits that keep groups (lesions, patients) whole, and split caps.

Where a source gives no split, records are split 70/10/20 (train/val/test) by seed, stratified by class and
grouped: every record of a group (HAM10000 lesion_id, Kaggle DR patient, ChestX-ray14 patient) lands in the same
split. ChestX-ray14's official train_val list is split into train and val the same way (val = 12.5 % of it, about
10 % of the whole). Each split is handed out in a seeded random order, so its first n records are a random sample.
"""

from __future__ import annotations

import numpy as np

from .errors import DataError

SPLITS = ("train", "val", "test")
TRAINVAL = "trainval"  # an official split to be divided into train and val by seed
VAL_FRACTION = 0.1
TEST_FRACTION = 0.2
TRAINVAL_VAL_FRACTION = 0.125

# independent random streams derived from the one user seed
_SPLIT_STREAM, _ORDER_STREAM = 11, 12


def allocate_counts(total: int, weights: np.ndarray, *, at_least_one: bool = False) -> np.ndarray:
    """Split `total` into integer counts proportional to `weights` (largest remainder).

    With at_least_one, every class of positive weight gets >= 1 when total allows it (taken from the largest).
    """
    weights = np.asarray(weights, dtype=np.float64)
    if total < 0 or weights.ndim != 1 or np.any(weights < 0) or weights.sum() <= 0:
        raise ValueError(f"allocate_counts needs total >= 0 and non-negative weights; received {total}, {weights}")
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    remainder_order = np.argsort(-(exact - counts), kind="stable")
    counts[remainder_order[: total - counts.sum()]] += 1
    present = weights > 0
    if at_least_one and total >= present.sum():
        for index in np.flatnonzero(present & (counts == 0)):
            counts[np.argmax(counts)] -= 1
            counts[index] = 1
    return counts


def group_labels(labels: np.ndarray, group_index: np.ndarray, num_groups: int) -> np.ndarray:
    """Each group's most frequent label (ties: the larger label, usually the rarer class)."""
    num_classes = int(labels.max()) + 1
    votes = np.zeros((num_groups, num_classes), dtype=np.int64)
    np.add.at(votes, (group_index, labels), 1)
    return num_classes - 1 - np.argmax(votes[:, ::-1], axis=1)


def grouped_split(labels: np.ndarray, groups: np.ndarray, fractions: dict[str, float], *, seed: int,
                  rest: str = "train") -> np.ndarray:
    """Assign each record a split name; groups stay whole; stratified by the groups' labels.

    For every class, its groups are taken in seeded random order and given to the splits of `fractions` in turn,
    each until it holds about its fraction of the class's records (plus what earlier classes fell short of, so
    small data sets still fill every split); the remaining groups go to `rest`.
    """
    labels = np.asarray(labels, dtype=np.int64)
    unique_groups, group_index = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    group_sizes = np.bincount(group_index, minlength=len(unique_groups))
    label_of_group = group_labels(labels, group_index, len(unique_groups))
    rng = np.random.default_rng([seed, _SPLIT_STREAM])
    split_of_group = np.full(len(unique_groups), rest, dtype=object)
    shortfall = dict.fromkeys(fractions, 0.0)  # what earlier classes fell short of a split's share, carried on
    for label in np.unique(label_of_group):
        members = rng.permutation(np.flatnonzero(label_of_group == label))
        class_total = group_sizes[members].sum()
        position = 0
        for split, fraction in fractions.items():
            target, taken = fraction * class_total + shortfall[split], 0
            while position < len(members) and taken + group_sizes[members[position]] / 2 <= target:
                split_of_group[members[position]] = split
                taken += group_sizes[members[position]]
                position += 1
            shortfall[split] = target - taken
    return split_of_group[group_index].astype(str)


def assign_splits(labels: np.ndarray, groups: np.ndarray, official: np.ndarray | None, *, seed: int) -> np.ndarray:
    """Split name per record: the official split where given, otherwise a seeded grouped split."""
    if official is None:
        return grouped_split(labels, groups, {"test": TEST_FRACTION, "val": VAL_FRACTION}, seed=seed)
    splits = np.asarray(official).astype(object)
    trainval = splits == TRAINVAL
    if trainval.any():
        splits[trainval] = grouped_split(labels[trainval], groups[trainval], {"val": TRAINVAL_VAL_FRACTION}, seed=seed)
    return splits.astype(str)


def split_indices(splits: np.ndarray, labels: np.ndarray, *, seed: int,
                  caps: dict[str, int | None]) -> dict[str, np.ndarray]:
    """Record indices per split in seeded random order, each capped (stratified by class) at caps[split]."""
    rng = np.random.default_rng([seed, _ORDER_STREAM])
    result = {}
    for split in SPLITS:
        indices = rng.permutation(np.flatnonzero(splits == split))
        result[split] = stratified_head(indices, labels[indices], caps.get(split))
    return result


def stratified_head(indices: np.ndarray, labels: np.ndarray, cap: int | None) -> np.ndarray:
    """The first records of each class of the (shuffled) indices, `cap` in all, in class proportion, each class kept."""
    if cap is None or len(indices) <= cap:
        return indices
    classes, class_counts = np.unique(labels, return_counts=True)
    keep_counts = allocate_counts(cap, class_counts, at_least_one=True)
    keep = np.zeros(len(indices), dtype=bool)
    for label, count in zip(classes, keep_counts):
        keep[np.flatnonzero(labels == label)[:count]] = True
    return indices[keep]


def check_caps(max_train: int | None, max_test: int | None) -> dict[str, int | None]:
    """max_train caps train; max_test caps test and val at max_test and ceil(max_test / 2) (the 2:1 test:val ratio)."""
    for name, value in (("max_train", max_train), ("max_test", max_test)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
            raise DataError(f"{name} must be None or an integer >= 1; received {value!r}")
    return {"train": max_train, "val": None if max_test is None else -(-max_test // 2), "test": max_test}
