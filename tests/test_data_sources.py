"""Real-layout loaders (HAM10000, Kaggle DR, ChestX-ray14, MedMNIST+) on tiny data sets written to tmp_path:
labels, binarisation, grouped splits, caps, the cache, and every kind of bad input."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pandas as pd
import pytest

import trainables.data as data
from trainables.data import DataError, load_task
from trainables.data import preprocess

HAM_CLASSES = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
SIZE = 32


def label_colour(label: int) -> tuple[int, int, int]:
    """An RGB colour that encodes the label, to check that images stay with their labels."""
    return ((20 + 30 * label) % 256, (200 - 25 * label) % 256, 90)


def write_jpeg(path, rgb, shape=(45, 60)):
    image = np.zeros((*shape, 3), np.uint8)
    image[:] = rgb
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def write_ham10000(root, *, lesions_per_class=6, rng_seed=0):
    """HAM10000 layout: metadata CSV + JPEGs split over the two part folders; 1-3 images per lesion."""
    rng = np.random.default_rng(rng_seed)
    (root / "HAM10000_images_part_1").mkdir(parents=True)
    (root / "HAM10000_images_part_2").mkdir()
    rows = []
    for label, dx in enumerate(HAM_CLASSES):
        for lesion in range(lesions_per_class):
            for _ in range(rng.integers(1, 4)):
                image_id = f"ISIC_{len(rows):07d}"
                rows.append({"lesion_id": f"HAM_{label}{lesion:05d}", "image_id": image_id, "dx": dx,
                             "dx_type": "histo", "age": "50.0", "sex": "male", "localization": "back"})
                part = "HAM10000_images_part_1" if len(rows) % 2 else "HAM10000_images_part_2"
                write_jpeg(root / part / f"{image_id}.jpg", label_colour(label))
    pd.DataFrame(rows).to_csv(root / "HAM10000_metadata.csv", index=False)
    return pd.DataFrame(rows)


def write_kaggle_dr(root, *, patients=40):
    rng = np.random.default_rng(1)
    (root / "train").mkdir(parents=True)
    rows = []
    for patient in range(patients):
        for eye in ("left", "right"):
            level = int(rng.choice(5, p=[0.45, 0.15, 0.2, 0.1, 0.1]))
            name = f"{patient + 10}_{eye}"
            rows.append({"image": name, "level": level})
            write_jpeg(root / "train" / f"{name}.jpeg", label_colour(level))
    pd.DataFrame(rows).to_csv(root / "trainLabels.csv", index=False)
    return pd.DataFrame(rows)


def write_chestxray14(root, *, patients=30):
    """Images in images/ and in images_002/images/ as on the split mirrors; official lists by patient."""
    rng = np.random.default_rng(2)
    (root / "images").mkdir(parents=True)
    (root / "images_002" / "images").mkdir(parents=True)
    rows, test_names, train_val_names = [], [], []
    findings = ["No Finding", "Pneumothorax", "Effusion|Pneumothorax", "Atelectasis", "Mass|Nodule"]
    for patient in range(1, patients + 1):
        for follow_up in range(rng.integers(1, 4)):
            name = f"{patient:08d}_{follow_up:03d}.png"
            rows.append({"Image Index": name, "Finding Labels": findings[rng.integers(len(findings))],
                         "Follow-up #": follow_up, "Patient ID": patient, "Patient Age": 40})
            folder = root / ("images" if patient % 2 else "images_002/images")
            image = rng.integers(0, 256, (40, 40), dtype=np.uint8)
            cv2.imwrite(str(folder / name), image)
            (test_names if patient % 4 == 0 else train_val_names).append(name)
    pd.DataFrame(rows).to_csv(root / "Data_Entry_2017.csv", index=False)
    (root / "test_list.txt").write_text("\n".join(test_names) + "\n")
    (root / "train_val_list.txt").write_text("\n".join(train_val_names) + "\n")
    return pd.DataFrame(rows), set(test_names)


def write_medmnist(root, flag, size, labels_per_split, *, rgb):
    arrays = {}
    for split, labels in labels_per_split.items():
        labels = np.asarray(labels, dtype=np.uint8)
        images = np.zeros((len(labels), size, size, 3) if rgb else (len(labels), size, size), np.uint8)
        for i, label in enumerate(labels[:, 0]):
            images[i] = label_colour(int(label)) if rgb else 10 + 20 * int(label)
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images, labels
    root.mkdir(parents=True, exist_ok=True)
    name = f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz"
    np.savez_compressed(root / name, **arrays)


@pytest.fixture()
def cache_dir(tmp_path):
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def ham_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ham")
    table = write_ham10000(root)
    return root, table


def groups_of(ids, table, id_column, group_column):
    lookup = dict(zip(table[id_column].astype(str), table[group_column].astype(str)))
    return {lookup[name] for name in ids}


# ---------------------------------------------------------------- HAM10000

def test_ham10000_labels_follow_images_and_lesions_stay_in_one_split(ham_root, cache_dir):
    root, table = ham_root
    task_data = load_task("skin_lesion", "original", image_size=SIZE, data_root=root, cache_dir=cache_dir)
    dx_of = dict(zip(table["image_id"], table["dx"]))
    for split in ("train", "val", "test"):
        x, y = task_data.split(split)
        assert x.shape[1:] == (SIZE, SIZE, 3) and x.dtype == np.uint8 and y.dtype == np.int64
        assert [HAM_CLASSES[label] for label in y] == [dx_of[name] for name in task_data.ids[split]]
        expected_red = np.array([label_colour(label)[0] for label in y])
        assert np.abs(x[:, :, :, 0].mean(axis=(1, 2)) - expected_red).max() < 6  # JPEG tolerance
    lesion_sets = [groups_of(task_data.ids[s], table, "image_id", "lesion_id") for s in ("train", "val", "test")]
    assert not (lesion_sets[0] & lesion_sets[1] or lesion_sets[0] & lesion_sets[2] or lesion_sets[1] & lesion_sets[2])
    total = sum(len(task_data.ids[s]) for s in ("train", "val", "test"))
    assert total == len(table)
    assert 0.1 <= len(task_data.y_test) / total <= 0.3
    assert task_data.info["counts"]["train"]["nv"] == int((task_data.y_train == 5).sum())
    assert task_data.info["skipped"] == [] and task_data.info["cache"] == "miss"


def test_ham10000_split_is_deterministic_by_seed_and_caps_keep_every_class(ham_root, cache_dir):
    root, _ = ham_root
    first = load_task("skin_lesion", "original", image_size=SIZE, data_root=root, cache_dir=cache_dir, seed=3)
    again = load_task("skin_lesion", "original", image_size=SIZE, data_root=root, cache_dir=cache_dir, seed=3)
    other = load_task("skin_lesion", "original", image_size=SIZE, data_root=root, cache_dir=cache_dir, seed=4)
    assert list(first.ids["test"]) == list(again.ids["test"])
    assert set(first.ids["test"]) != set(other.ids["test"])
    assert again.info["cache"] == "hit" and other.info["cache"] == "hit"  # uncapped: all seeds share one entry
    capped = load_task("skin_lesion", "original", image_size=SIZE, data_root=root, cache_dir=cache_dir, seed=3,
                       max_train=14, max_test=8)
    assert len(capped.y_train) == 14 and len(capped.y_test) <= 8 and len(capped.y_val) <= 4
    assert set(capped.y_train) == set(first.y_train)  # stratified: every class of the split survives the cap
    assert set(capped.ids["train"]) <= set(first.ids["train"])


def test_cache_hit_does_not_decode_and_survives_deleted_images(tmp_path, cache_dir, monkeypatch):
    root = tmp_path / "ham"
    write_ham10000(root, lesions_per_class=3)
    cold = load_task("skin_lesion", "original", image_size=SIZE, data_root=root, cache_dir=cache_dir)
    calls = []
    real_read = preprocess.read_image
    monkeypatch.setattr(preprocess, "read_image", lambda *a, **k: calls.append(a) or real_read(*a, **k))
    warm = load_task("skin_lesion", "original", image_size=SIZE, data_root=root, cache_dir=cache_dir)
    assert calls == [] and warm.info["cache"] == "hit"
    resized = load_task("skin_lesion", "original", image_size=SIZE + 8, data_root=root, cache_dir=cache_dir)
    assert resized.info["cache"] == "miss" and len(calls) == len(cold.info["skipped"]) + sum(
        len(cold.ids[split]) for split in ("train", "val", "test"))
    for folder in ("HAM10000_images_part_1", "HAM10000_images_part_2"):
        for image in (root / folder).iterdir():
            image.unlink()
    gone = load_task("skin_lesion", "original", image_size=SIZE, data_root=root, cache_dir=cache_dir)
    assert gone.info["cache"] == "hit"
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(cold.split(split)[0], gone.split(split)[0])
        np.testing.assert_array_equal(cold.split(split)[1], gone.split(split)[1])


# ---------------------------------------------------------------- Kaggle DR

def test_kaggle_dr_binarises_grades_and_keeps_both_eyes_of_a_patient_together(tmp_path, cache_dir):
    table = write_kaggle_dr(tmp_path / "dr")
    task_data = load_task("diabetic_retinopathy", "original", image_size=SIZE, data_root=tmp_path / "dr",
                          cache_dir=cache_dir, seed=1)
    level_of = dict(zip(table["image"], table["level"]))
    patients = []
    for split in ("train", "val", "test"):
        x, y = task_data.split(split)
        levels = np.array([level_of[name] for name in task_data.ids[split]])
        np.testing.assert_array_equal(y, (levels >= 2).astype(np.int64))
        expected_red = np.array([label_colour(level)[0] for level in levels])
        assert np.abs(x[:, :, :, 0].mean(axis=(1, 2)) - expected_red).max() < 6
        patients.append({name.rsplit("_", 1)[0] for name in task_data.ids[split]})
    assert not (patients[0] & patients[1] or patients[0] & patients[2] or patients[1] & patients[2])
    assert sum(len(p) for p in patients) == 40
    assert task_data.class_names == ("negative", "positive")


# ---------------------------------------------------------------- ChestX-ray14

def test_chestxray14_uses_official_test_list_patient_grouped_val_and_enhancement(tmp_path, cache_dir):
    table, test_names = write_chestxray14(tmp_path / "cxr")
    task_data = load_task("pneumothorax", "original", image_size=SIZE, data_root=tmp_path / "cxr",
                          cache_dir=cache_dir)
    assert set(task_data.ids["test"]) == test_names
    findings_of = dict(zip(table["Image Index"], table["Finding Labels"]))
    patient_of = dict(zip(table["Image Index"], table["Patient ID"]))
    for split in ("train", "val", "test"):
        x, y = task_data.split(split)
        expected = ["Pneumothorax" in findings_of[name].split("|") for name in task_data.ids[split]]
        np.testing.assert_array_equal(y, np.array(expected, dtype=np.int64))
        assert np.array_equal(x[..., 0], x[..., 1]) and np.array_equal(x[..., 0], x[..., 2])  # gray -> RGB
    train_patients = {patient_of[name] for name in task_data.ids["train"]}
    val_patients = {patient_of[name] for name in task_data.ids["val"]}
    assert train_patients and val_patients and not train_patients & val_patients
    # the filter ran at native size (40 px -> sigma 20*40/1024) before the resize
    name = task_data.ids["test"][0]
    folder = tmp_path / "cxr" / ("images" if patient_of[name] % 2 else "images_002/images")
    native = cv2.imread(str(folder / name), cv2.IMREAD_GRAYSCALE)
    expected_image = cv2.resize(data.enhance_xray(native, sigma=20 * 40 / 1024), (SIZE, SIZE),
                                interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(task_data.x_test[0, :, :, 0], expected_image)


# ---------------------------------------------------------------- MedMNIST+

def medmnist_labels(values_per_split):
    return {split: np.asarray(values).reshape(len(values), -1) for split, values in values_per_split.items()}


def test_medmnist_dermamnist_picks_the_closest_larger_file_and_keeps_labels(tmp_path, cache_dir):
    labels = medmnist_labels({"train": [5, 5, 0, 1, 2, 3, 4, 6] * 2, "val": [5, 0, 6], "test": [1, 2, 3, 4, 5]})
    write_medmnist(tmp_path / "mm", "dermamnist", 28, labels, rgb=True)
    write_medmnist(tmp_path / "mm", "dermamnist", 64, labels, rgb=True)
    small = load_task("skin_lesion", "medmnist", image_size=48, data_root=tmp_path / "mm", cache_dir=cache_dir)
    tiny = load_task("skin_lesion", "medmnist", image_size=24, data_root=tmp_path / "mm", cache_dir=cache_dir)
    large = load_task("skin_lesion", "medmnist", image_size=96, data_root=tmp_path / "mm", cache_dir=cache_dir)
    assert small.info["file"] == "dermamnist_64.npz" and tiny.info["file"] == "dermamnist.npz"
    assert large.info["file"] == "dermamnist_64.npz" and large.x_train.shape[1:] == (96, 96, 3)
    for split in ("train", "val", "test"):
        x, y = small.split(split)
        assert sorted(y.tolist()) == sorted(labels[split][:, 0].tolist())
        np.testing.assert_array_equal(x[:, 0, 0, 0], [label_colour(label)[0] for label in y])


def test_medmnist_retina_and_chest_binarisation(tmp_path, cache_dir):
    grades = {"train": [0, 1, 2, 3, 4, 0, 1, 2], "val": [0, 3], "test": [4, 1, 0]}
    write_medmnist(tmp_path / "mm", "retinamnist", 64, medmnist_labels(grades), rgb=True)
    retina = load_task("diabetic_retinopathy", "medmnist", image_size=32, data_root=tmp_path / "mm",
                       cache_dir=cache_dir)
    for split in ("train", "val", "test"):
        rows = [int(name.split("/")[1]) for name in retina.ids[split]]
        np.testing.assert_array_equal(retina.split(split)[1], (np.array(grades[split])[rows] >= 2).astype(np.int64))
    rng = np.random.default_rng(0)
    chest = {split: rng.integers(0, 2, (n, 14)) for split, n in (("train", 12), ("val", 4), ("test", 6))}
    for split in chest:
        chest[split][:2, 7] = [0, 1]  # both classes in every split
    write_medmnist(tmp_path / "mm", "chestmnist", 64, chest, rgb=False)
    task_data = load_task("pneumothorax", "medmnist", image_size=32, data_root=tmp_path / "mm", cache_dir=cache_dir)
    for split in ("train", "val", "test"):
        rows = [int(name.split("/")[1]) for name in task_data.ids[split]]
        np.testing.assert_array_equal(task_data.split(split)[1], chest[split][rows, 7])
    assert task_data.x_train.shape[1:] == (32, 32, 3)


# ---------------------------------------------------------------- bad input

def test_missing_data_root_names_the_environment_variable(monkeypatch):
    monkeypatch.delenv("ARS_HAM10000_DIR", raising=False)
    with pytest.raises(DataError, match="ARS_HAM10000_DIR"):
        load_task("skin_lesion", "original", image_size=SIZE)


def test_environment_variable_sets_the_data_root(ham_root, cache_dir, monkeypatch):
    monkeypatch.setenv("ARS_HAM10000_DIR", str(ham_root[0]))
    monkeypatch.setenv("ARS_CACHE_DIR", str(cache_dir))
    task_data = load_task("skin_lesion", "original", image_size=SIZE)
    assert task_data.info["cache_path"].startswith(str(cache_dir))


def break_ham_column(root):
    table = pd.read_csv(root / "HAM10000_metadata.csv").drop(columns=["dx"])
    table.to_csv(root / "HAM10000_metadata.csv", index=False)


def break_ham_label(root):
    table = pd.read_csv(root / "HAM10000_metadata.csv")
    table.loc[3, "dx"] = "melanoma"
    table.to_csv(root / "HAM10000_metadata.csv", index=False)


def break_ham_duplicate(root):
    table = pd.read_csv(root / "HAM10000_metadata.csv")
    pd.concat([table, table.iloc[:1]]).to_csv(root / "HAM10000_metadata.csv", index=False)


@pytest.mark.parametrize("damage, message", [
    (lambda root: (root / "HAM10000_metadata.csv").unlink(), r"HAM10000_metadata\.csv: file not found"),
    (break_ham_column, r"missing column\(s\) 'dx'"),
    (break_ham_label, r"unknown value\(s\) 'melanoma'"),
    (break_ham_duplicate, r"repeats 1 value"),
    (lambda root: [p.rename(root / f"moved_{p.name}") for p in root.glob("HAM10000_images_part_*")],
     "neither HAM10000_images_part_1/"),
])
def test_ham10000_bad_input(tmp_path, cache_dir, damage, message):
    root = tmp_path / "ham"
    write_ham10000(root, lesions_per_class=2)
    damage(root)
    with pytest.raises(DataError, match=message):
        load_task("skin_lesion", "original", image_size=SIZE, data_root=root, cache_dir=cache_dir)


def test_missing_data_folder(tmp_path, cache_dir):
    with pytest.raises(DataError, match=r"nowhere: data folder not found"):
        load_task("skin_lesion", "original", image_size=SIZE, data_root=tmp_path / "nowhere", cache_dir=cache_dir)


def test_kaggle_dr_bad_grade_and_missing_image_folder(tmp_path, cache_dir):
    root = tmp_path / "dr"
    table = write_kaggle_dr(root, patients=10)
    table.loc[2, "level"] = 7
    table.to_csv(root / "trainLabels.csv", index=False)
    with pytest.raises(DataError, match=r"trainLabels\.csv: column 'level' has unknown value\(s\) '7'"):
        load_task("diabetic_retinopathy", "original", image_size=SIZE, data_root=root, cache_dir=cache_dir)
    table.loc[2, "level"] = 2
    table.to_csv(root / "trainLabels.csv", index=False)
    (root / "train").rename(root / "images")
    with pytest.raises(DataError, match=r"train: folder not found"):
        load_task("diabetic_retinopathy", "original", image_size=SIZE, data_root=root, cache_dir=cache_dir)


def test_chestxray14_bad_finding_and_missing_list(tmp_path, cache_dir):
    root = tmp_path / "cxr"
    table, _ = write_chestxray14(root, patients=8)
    table.loc[0, "Finding Labels"] = "Pneumothorax|Broken_Heart"
    table.to_csv(root / "Data_Entry_2017.csv", index=False)
    with pytest.raises(DataError, match=r"unknown finding\(s\) 'Broken_Heart'"):
        load_task("pneumothorax", "original", image_size=SIZE, data_root=root, cache_dir=cache_dir)
    table.loc[0, "Finding Labels"] = "Pneumothorax"
    table.to_csv(root / "Data_Entry_2017.csv", index=False)
    (root / "test_list.txt").unlink()
    with pytest.raises(DataError, match=r"test_list\.txt: file not found"):
        load_task("pneumothorax", "original", image_size=SIZE, data_root=root, cache_dir=cache_dir)


def test_medmnist_bad_labels_keys_and_missing_file(tmp_path, cache_dir):
    root = tmp_path / "mm"
    root.mkdir()
    with pytest.raises(DataError, match=r"no dermamnist_\{64,128,224\}\.npz"):
        load_task("skin_lesion", "medmnist", image_size=SIZE, data_root=root, cache_dir=cache_dir)
    write_medmnist(root, "dermamnist", 64, medmnist_labels({"train": [0, 9], "val": [1], "test": [2]}), rgb=True)
    with pytest.raises(DataError, match=r"train_labels has value\(s\) \[9\] outside the known labels"):
        load_task("skin_lesion", "medmnist", image_size=SIZE, data_root=root, cache_dir=cache_dir)
    np.savez(root / "dermamnist_64.npz", train_images=np.zeros((1, 64, 64, 3), np.uint8),
             train_labels=np.zeros((1, 1), np.uint8))
    with pytest.raises(DataError, match=r"missing key\(s\) val_images"):
        load_task("skin_lesion", "medmnist", image_size=SIZE, data_root=root, cache_dir=cache_dir)


def test_corrupt_image_is_skipped_counted_and_warned(tmp_path, cache_dir, caplog):
    root = tmp_path / "ham"
    table = write_ham10000(root)
    assert len(table) >= 40  # one bad file stays under the 5 % limit
    corrupt = next((root / "HAM10000_images_part_1").iterdir())
    corrupt.write_bytes(b"\xff\xd8\xff this is not a JPEG")
    with caplog.at_level(logging.WARNING, logger="trainables.data"):
        task_data = load_task("skin_lesion", "original", image_size=SIZE, data_root=root, cache_dir=cache_dir)
    assert task_data.info["skipped"] == [corrupt.stem]
    assert corrupt.stem in caplog.text and "skipped 1 of" in caplog.text
    assert sum(len(task_data.ids[s]) for s in ("train", "val", "test")) == len(table) - 1
    again = load_task("skin_lesion", "original", image_size=SIZE, data_root=root, cache_dir=cache_dir)
    assert again.info["cache"] == "hit" and again.info["skipped"] == [corrupt.stem]


def test_too_many_unreadable_images_fail_and_leave_no_cache_file(tmp_path, cache_dir):
    root = tmp_path / "ham"
    write_ham10000(root, lesions_per_class=3)
    for image in list((root / "HAM10000_images_part_2").iterdir())[:4]:
        image.unlink()
    with pytest.raises(DataError, match=r"images could not be read \(more than 5%\), e\.g\. .*file not found"):
        load_task("skin_lesion", "original", image_size=SIZE, data_root=root, cache_dir=cache_dir)
    assert not [p for p in cache_dir.iterdir() if not p.name.endswith(".lock")]


def test_empty_split_is_an_error(tmp_path, cache_dir):
    root = tmp_path / "ham"
    (root / "HAM10000_images_part_1").mkdir(parents=True)
    pd.DataFrame({"lesion_id": ["L1", "L2"], "image_id": ["I1", "I2"], "dx": ["nv", "mel"]}).to_csv(
        root / "HAM10000_metadata.csv", index=False)
    with pytest.raises(DataError, match=r"the (val|test) split is empty \(2 records found"):
        load_task("skin_lesion", "original", image_size=SIZE, data_root=root, cache_dir=cache_dir)


@pytest.mark.parametrize("kwargs, message", [
    ({"task": "skin"}, r"unknown task 'skin'; expected one of: skin_lesion, diabetic_retinopathy, pneumothorax"),
    ({"source": "kaggle"}, r"unknown source 'kaggle'; expected one of: synthetic, original, medmnist"),
    ({"image_size": 16}, r"image_size must be an integer >= 24; received 16"),
    ({"image_size": 32.0}, r"image_size must be an integer >= 24; received 32\.0"),
    ({"max_train": 0}, r"max_train must be None or an integer >= 1; received 0"),
    ({"seed": -1}, r"seed must be an integer >= 0"),
])
def test_bad_arguments(kwargs, message):
    arguments = {"task": "skin_lesion", "source": "synthetic", "image_size": 32, **kwargs}
    with pytest.raises(DataError, match=message):
        load_task(arguments.pop("task"), arguments.pop("source"), **arguments)
