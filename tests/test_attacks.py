"""The worst case over the attack ensemble: exact answers, planted masking, agreement with ART, per-point outcomes."""

import warnings

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from test_robustness import (  # noqa: E402  (the shared small models; pytest puts tests/ on sys.path)
    CNN_SIZE,
    LADDER,
    LINEAR_EPSILONS,
    STRONG,
    STRONG_PGD,
    ZeroGradientQuantiser,
    cnn_problem,  # noqa: F401  (a fixture)
    linear_problem,
)

from trainables.spec import keys
from trainables.robustness import evaluate_robustness, robust_accuracy  # noqa: E402
from trainables.spec.attacks import WORST_CASE_ATTACKS, list_attacks  # noqa: E402
from trainables.robustness.attacks.apgd import checkpoint_intervals  # noqa: E402
from trainables.robustness.attacks.square import square_fraction  # noqa: E402

CHEAP_BUDGETS = {"pgd": STRONG_PGD, "apgd_ce": {"steps": 20}, "apgd_margin": {"steps": 20, "targets": 2},
                 "apgd_dlr": {"steps": 20}, "square": {"queries": 200},
                 "apgd_ce_eot": {"steps": 10, "draws": 2, "predict_n": 100},
                 "apgd_margin_eot": {"steps": 10, "draws": 2, "targets": 2, "predict_n": 100}}
CHEAP = {"budgets": CHEAP_BUDGETS}


def test_registry_names_the_ensemble_and_the_radius_attack():
    assert set(WORST_CASE_ATTACKS) <= set(list_attacks("worst_case"))
    assert list_attacks("radius") == ["fmn"]
    order = [list_attacks().index(name) for name in WORST_CASE_ATTACKS]
    assert order == sorted(order)  # the ensemble's order is the registry's


def test_binary_linear_worst_case_equals_closed_form():
    model, images, labels, exact = linear_problem(2, 160, LINEAR_EPSILONS, seed=0)
    result = evaluate_robustness(model, images, labels, LINEAR_EPSILONS, attacks=WORST_CASE_ATTACKS, seed=0,
                                 budgets={"pgd": {"steps": 25, "rel_stepsize": 0.1}, "apgd_ce": {"steps": 20},
                                          "apgd_margin": {"steps": 20}, "square": {"queries": 50}}, batch_size=256,
                                 run_checks=False)
    np.testing.assert_array_equal(result.worst_case_mask, exact)
    assert result.accuracy == {eps: exact[:, k].mean() for k, eps in enumerate((0.0, *LINEAR_EPSILONS))}
    for name in WORST_CASE_ATTACKS:  # no attack breaks a point that is exactly robust
        assert result.accuracy_by_attack[name] == result.accuracy
    assert result.checks["within_ball"].passed


def test_apgd_margin_is_exact_on_a_binary_linear_model():
    # on 2 classes apgd_margin runs the logit margin, whose sign gradient is exact for a linear model
    model, images, labels, exact = linear_problem(2, 120, LINEAR_EPSILONS, seed=2)
    result = evaluate_robustness(model, images, labels, LINEAR_EPSILONS, attacks=("apgd_margin",),
                                 budgets={"apgd_margin": {"steps": 20}},
                                 seed=0, run_checks=False)
    np.testing.assert_array_equal(result.robust_mask, exact)


def quantised(model):
    inputs = keras.Input((CNN_SIZE, CNN_SIZE, 3))
    return keras.Model(inputs, model(ZeroGradientQuantiser()(inputs)))


def test_square_sees_through_zero_gradients(cnn_problem):  # noqa: F811
    model, images, labels = cnn_problem
    masked = quantised(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pgd_only = robust_accuracy(masked, images, labels, LADDER, attacks=("pgd",), seed=0, **STRONG)
    with pytest.warns(RuntimeWarning, match="blackbox_not_stronger"):
        result = evaluate_robustness(masked, images, labels, LADDER, attacks=WORST_CASE_ATTACKS, seed=0,
                                     **CHEAP)
    assert pgd_only[LADDER[-1]] >= 0.9 * pgd_only[0.0]  # PGD alone is fooled ...
    assert result.accuracy[LADDER[-1]] <= 0.5 * pgd_only[LADDER[-1]]  # ... the worst case is not
    assert result.accuracy_by_attack["pgd"] == pgd_only
    assert not result.checks["blackbox_not_stronger"].passed
    assert result.checks["blackbox_not_stronger"].value > 0.02
    assert result.cost["square"]["queries"] > 0 and result.cost["square"]["gradient_evaluations"] == 0


def test_unbounded_epsilon_check_fires_on_masking_and_passes_on_a_normal_model(cnn_problem):  # noqa: F811
    model, images, labels = cnn_problem
    with pytest.warns(RuntimeWarning, match="unbounded_reaches_zero"):
        masked = evaluate_robustness(quantised(model), images, labels, LADDER, attacks=("pgd",), seed=0, **STRONG)
    assert not masked.checks["unbounded_reaches_zero"].passed and masked.checks["unbounded_reaches_zero"].value > 0.5
    normal = evaluate_robustness(model, images, labels, LADDER, attacks=WORST_CASE_ATTACKS, seed=0, **CHEAP)
    assert normal.checks["unbounded_reaches_zero"].passed, normal.checks["unbounded_reaches_zero"].detail
    assert normal.checks["blackbox_not_stronger"].passed


def test_worst_case_is_never_above_pgd_alone(cnn_problem):  # noqa: F811
    model, images, labels = cnn_problem
    result = evaluate_robustness(model, images, labels, (0.03, 0.04, 0.05, 0.06), attacks=WORST_CASE_ATTACKS,
                                 seed=0, run_checks=False, **CHEAP)
    pgd = result.accuracy_by_attack["pgd"]
    for eps in result.epsilons:
        assert result.accuracy[eps] <= pgd[eps]
    # each attack only removes points: the accuracy after it never rises along the ensemble
    for before, after in zip(WORST_CASE_ATTACKS, WORST_CASE_ATTACKS[1:]):
        assert all(result.accuracy_by_attack[after][e] <= result.accuracy_by_attack[before][e] for e in pgd)
    assert result.accuracy[0.05] < pgd[0.05]  # the ensemble finds what 10 PGD steps miss on this model


@pytest.mark.parametrize("num_classes", [2, 7])
def test_every_attack_runs_and_per_point_outcomes_are_consistent(num_classes, tmp_path):
    model, images, labels, _ = linear_problem(num_classes, 36, LINEAR_EPSILONS, seed=num_classes)
    images, labels = images[:30], labels[:30].copy()
    labels[:3] = (np.argmax(model(images[:3]).numpy(), axis=1) + 1) % num_classes  # three misclassified clean
    epsilons = LINEAR_EPSILONS
    result = evaluate_robustness(model, images, labels, epsilons, attacks=list_attacks("worst_case")
                                 if num_classes >= 3 else WORST_CASE_ATTACKS, radius_attack="fmn", ensemble_points=20, seed=0,
                                 run_checks=False, budgets={**CHEAP_BUDGETS, "fmn": {"steps": 20}})
    for name, cost in result.cost.items():  # every attack did work, counted in its own unit
        assert cost["gradient_evaluations"] + cost["queries"] > 0, name
    assert result.points_by_attack["pgd"] == 30 and len(result.ensemble_indices) == 20
    assert set(result.points_by_attack) == set(result.attacks)
    path = tmp_path / "points.npz"
    np.savez(path, **result.points())
    with np.load(path, allow_pickle=False) as loaded:
        points = {key: loaded[key] for key in loaded.files}
    assert points["in_ensemble"].sum() == 20 and len(points["label"]) == 30
    np.testing.assert_array_equal(points["clean_prediction"] == labels, result.robust_mask[:, 0])
    inside = points["in_ensemble"]
    low, high, radius = points["radius_low"][inside], points["radius_high"][inside], points["radius"][inside]
    assert np.all(low <= high) and np.all(radius <= high)
    misclassified = ~result.worst_case_mask[:, 0]
    assert np.all(radius[misclassified] == 0.0) and np.all(high[misclassified] == 0.0)
    fmn = points["radius_estimate"][inside][~misclassified]
    assert np.all(fmn > 0) and np.isfinite(fmn).mean() > 0.5  # FMN finds most points' minimal perturbation
    broken = points["broken_by"][inside] >= 0
    assert np.all(np.isfinite(high[broken])) and np.all(np.isinf(high[~broken & ~misclassified]))
    predictions = points["broken_prediction"][inside][broken]
    assert np.all(predictions != labels[result.ensemble_indices][broken])
    assert result.median_radius == np.median(radius)
    np.testing.assert_array_equal(points["first_broken_eps/pgd"] == 0.0, ~result.robust_mask[:, 0])
    # FMN's adversarial inputs count: no point has a radius within an epsilon at which it is still robust
    robust = points["robust"][inside]
    assert not np.any(robust & (points["radius"][inside][:, None] <= np.asarray((0.0, *epsilons))[None, :]))
    assert result.attacks[-1] == "fmn" and result.accuracy == result.accuracy_by_attack["fmn"]


def test_explanation_samples_are_attacked_at_each_epsilon(cnn_problem):  # noqa: F811
    model, images, labels = cnn_problem
    result = evaluate_robustness(model, images, labels, LADDER, seed=0, run_checks=False, sample_indices=[0, 1, 2],
                                 **STRONG)
    clean = images[result.sample_indices]
    for eps in LADDER:
        distance = np.abs(result.adversarial_samples[eps] - clean).reshape(3, -1).max(axis=1)
        assert np.all(distance <= eps + 1e-6) and np.all(distance >= 0.5 * eps)  # used its own ball, not a smaller one


def test_own_apgd_and_square_agree_with_art(cnn_problem):  # noqa: F811
    art = pytest.importorskip("art")
    from art.attacks.evasion import AutoProjectedGradientDescent, SquareAttack
    from art.estimators.classification import TensorFlowV2Classifier

    model, images, labels = cnn_problem
    epsilon = 0.03
    estimator = TensorFlowV2Classifier(model=model, nb_classes=3, input_shape=images.shape[1:], clip_values=(0, 1),
                                       loss_object=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    def accuracy_of(adversarial):
        return float(np.mean(np.argmax(model(adversarial).numpy(), axis=1) == labels))

    np.random.seed(0)
    art_apgd = accuracy_of(AutoProjectedGradientDescent(
        estimator, norm=np.inf, eps=epsilon, eps_step=2 * epsilon, max_iter=20, nb_random_init=1, batch_size=64,
        loss_type="cross_entropy", verbose=False).generate(images, labels))
    art_square = accuracy_of(SquareAttack(estimator, norm=np.inf, eps=epsilon, max_iter=200, nb_restarts=1,
                                          batch_size=64, verbose=False).generate(images, labels))
    ours = {name: robust_accuracy(model, images, labels, (epsilon,), attacks=(name,), seed=0,
                                  budgets={"apgd_ce": {"steps": 20}, "square": {"queries": 200}})[epsilon] for name in ("apgd_ce", "square")}
    assert art.__version__
    # same budgets; differences are random starts and search order (64 points: 0.1 is about two standard errors)
    assert abs(ours["apgd_ce"] - art_apgd) <= 0.1, (ours, art_apgd)
    assert ours["square"] <= art_square + 0.1, (ours, art_square)


def test_schedules_follow_autoattack():
    assert checkpoint_intervals(100) == (22, 3, 6)
    assert checkpoint_intervals(3) == (1, 1, 1)
    assert square_fraction(0, 5000) == 0.8 and square_fraction(5000, 5000) == 0.8 / 512
    assert square_fraction(250, 5000) == 0.8 / 8  # 250 of 5000 is 500 of 10,000: the 200-500 band


@pytest.mark.parametrize(("change", "message"), [
    ({"attacks": ("nosuch",)}, "unknown attack 'nosuch'; worst-case attacks: pgd, apgd_ce"),
    ({"attacks": ("pgd", "fmn")}, "'fmn' estimates radii and cannot enter the worst case"),
    ({"attacks": ("apgd_dlr",)}, "attack 'apgd_dlr' needs at least 3 classes; this task has 2"),
    ({"attacks": ()}, "attacks must name at least one attack"),
    ({"radius_attack": "square"}, "radius_attack must be one of fmn or None"),
    ({"budgets": {"apgd_ce": {"steps": 0}}}, "attack.apgd_ce.steps must be an integer >= 1"),
    ({"budgets": {"square": {"queries": 0}}}, "attack.square.queries must be an integer >= 1"),
    ({"budgets": {"square": {"steps": 5}}}, "attack.square has no field 'steps'"),
    ({"budgets": {"nosuch": {"steps": 5}}}, "unknown attack 'nosuch'"),
    ({"ensemble_points": 0}, "ensemble_points must be an integer >= 1"),
])
def test_bad_attack_settings_are_refused(change, message):
    model, images, labels, _ = linear_problem(2, 8, LINEAR_EPSILONS, seed=0)
    with pytest.raises(ValueError, match=message):
        evaluate_robustness(model, images, labels, (0.01,), run_checks=False, **change)


@pytest.mark.parametrize(("assignment", "message"), [
    ("attack.attacks=pgd,nosuch", "unknown attack 'nosuch'"),
    ("attack.attacks=fmn", "cannot enter the worst case"),
    ("attack.attacks=apgd_dlr", "needs at least 3 classes; this task has 2"),
    ("attack_preset=nosuch", "unknown attack preset 'nosuch'"),
    ("attack.nosuch.steps=3", "unknown attack 'nosuch'"),
    ("attack.square.steps=3", "attack.square has no field 'steps'"),
    ("attack.square.queries=0", "attack.square.queries must be an integer >= 1"),
])
def test_bad_attack_settings_exit_2_before_launch(assignment, message, capsys):
    from sweep.run import main

    assert main(["paper_grid", "--profile", "tiny", "--set", assignment, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_per_attack_metrics_round_trip_through_mlflow_into_the_report_table(tmp_path):
    import mlflow
    from mlflow.entities import Metric, Param

    from analysis import load_sweep
    from analysis.tables import attack_gap_table, text_report
    from trainables.spec import TrialConfig
    from trainables import records

    model, images, labels, _ = linear_problem(7, 60, LINEAR_EPSILONS, seed=3)
    result = evaluate_robustness(model, images, labels, LINEAR_EPSILONS, attacks=WORST_CASE_ATTACKS,
                                 ensemble_points=30, seed=0, run_checks=False, **CHEAP)
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("paper_grid-tiny", artifact_location=str(tmp_path / "artifacts"))
    config = TrialConfig(task="skin_lesion", backbone="resnet50", scale="mini", epsilons=LINEAR_EPSILONS,
                         sweep="paper_grid", profile="tiny")
    run_id = client.create_run(experiment, run_name=config.run_name).info.run_id
    metrics = {**records.accuracy_metrics(result.accuracy), **records.attack_metrics(result),
               keys.CLEAN_ACC: result.clean_accuracy}
    client.log_batch(run_id, params=[Param(k, v) for k, v in config.as_params().items()],
                     metrics=[Metric(k, v, 0, 0) for k, v in metrics.items()])
    client.set_tag(run_id, keys.TAG_STATUS, "finished")
    client.set_terminated(run_id, "FINISHED")

    frame = load_sweep("paper_grid", "tiny", tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    gaps = attack_gap_table(frame).set_index("epsilon")
    assert len(gaps) == len(LINEAR_EPSILONS)
    for eps in LINEAR_EPSILONS:
        assert gaps.loc[eps, "pgd"] == result.accuracy_by_attack["pgd"][eps]  # all 60 points
        assert gaps.loc[eps, "pgd_same_points"] == result.first_attack_on_ensemble[eps]  # the 30 ensemble points
        assert gaps.loc[eps, "worst_case"] == result.accuracy[eps]
        assert gaps.loc[eps, "overstatement"] >= 0  # same images: the worst case can only be lower
    assert (gaps["pgd_points"] == 60).all() and (gaps["worst_case_points"] == 30).all()
    assert gaps["overstatement"].max() > 0  # PGD alone misses points the ensemble breaks on a 7-class model
    assert "60 PGD points, 30 worst-case points" in text_report(frame)


class RowsOnDemand:
    """A lazy image source as the data layer's views are: converts only the rows it is indexed with."""

    def __init__(self, images: np.ndarray) -> None:
        self.images, self.shape, self.dtype, self.rows_read = images, images.shape, images.dtype, 0

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index):
        picked = self.images[index]
        self.rows_read += 1 if picked.ndim == 3 else len(picked)
        return picked.copy()

    def min(self):
        return self.images.min()

    def max(self):
        return self.images.max()

    def __array__(self, dtype=None, copy=None):
        raise AssertionError("the evaluation converted the whole image source to one array")


def test_a_lazy_image_source_is_only_indexed_in_batches(cnn_problem):  # noqa: F811
    model, images, labels = cnn_problem
    source = RowsOnDemand(images)
    budgets = {"pgd": {"steps": 3, "rel_stepsize": 0.5}, "apgd_ce": {"steps": 3}, "apgd_margin": {"steps": 3, "targets": 2},
               "square": {"queries": 20}, "fmn": {"steps": 3}}  # the same work either way: any budget shows it
    lazy = evaluate_robustness(model, source, labels, LADDER, attacks=WORST_CASE_ATTACKS, seed=0, batch_size=16,
                               radius_attack="fmn", budgets=budgets)
    eager = evaluate_robustness(model, images, labels, LADDER, attacks=WORST_CASE_ATTACKS, seed=0, batch_size=16,
                                radius_attack="fmn", budgets=budgets)
    assert lazy.accuracy == eager.accuracy and lazy.accuracy_by_attack == eager.accuracy_by_attack
    np.testing.assert_array_equal(lazy.worst_case_mask, eager.worst_case_mask)
    assert source.rows_read > len(images)  # it was read, batch by batch


@pytest.mark.parametrize("task", ["skin_lesion", "pneumothorax"])
def test_dry_run_cost_bounds_the_work_of_the_evaluation(task):
    from search_spaces.profiles import get_profile
    from sweep.cost import trial_cost
    from trainables.spec import TrialConfig
    from trainables.spec.tasks import get_task

    trial = TrialConfig(task=task, backbone="resnet50", **get_profile("tiny").values).resolved()
    cost = trial_cost(trial)
    classes = get_task(task).num_classes
    model, images, labels, _ = linear_problem(classes, 80, LINEAR_EPSILONS, seed=5)
    images, labels = images[: cost.attacked_points], labels[: cost.attacked_points]
    assert len(images) == cost.attacked_points
    result = evaluate_robustness(model, images, labels, trial.epsilons, settings=trial.attack_settings, seed=0,
                                 sample_indices=list(range(trial.explain_samples)))
    assert result.gradient_evaluations + result.check_gradient_evaluations <= cost.gradient_evaluations
    assert result.cost["square"]["queries"] <= cost.queries
