"""trainables.robustness: exact answers on linear models, nesting, checks against planted masking, bad input."""

import json
import warnings

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
fb = pytest.importorskip("foolbox")

from trainables.robustness import (  # noqa: E402
    RobustnessResult,
    evaluate_robustness,
    robust_accuracy,
    select_sample_indices,
)
from trainables.spec.evaluation import CheckConfig  # noqa: E402
from trainables.robustness.attacks.compiled import CompiledModel, compile_forward  # noqa: E402
from trainables.robustness.attacks.pgd import PGDRunner, nested_pgd  # noqa: E402
from trainables.robustness.evaluate.checks import CHECKS, CheckContext, run_checks  # noqa: E402

LINEAR_SHAPE = (6, 6, 3)
CNN_SIZE, CNN_CLASSES = 12, 3
LADDER = (0.01, 0.03, 0.1)
# a strong, cheap PGD for the tiny models: total travel 2.5 epsilon, enough to cross the ball from any start
STRONG_PGD = {"steps": 10, "rel_stepsize": 0.25}
STRONG = {"budgets": {"pgd": STRONG_PGD}}


# ---------------------------------------------------------------- linear models with exact answers


def linear_model(weights: np.ndarray, bias: np.ndarray):
    inputs = keras.Input(LINEAR_SHAPE)
    dense = keras.layers.Dense(weights.shape[1])
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    dense.set_weights([weights.astype("float32"), bias.astype("float32")])
    return model


def exact_min_margin(weights, bias, images, labels, eps):
    """min over the [0,1]-box-intersected eps-ball of min_j (f_y - f_j), float64 (N,).

    For a linear model each pairwise margin is minimised pixel by pixel: move against sign(w_y - w_j) by
    min(eps, room to the bound). Misclassification needs some j to win, so the pairwise minimum is exact."""
    x = images.reshape(len(images), -1).astype(np.float64)
    margins = np.full((len(x), weights.shape[1]), np.inf)
    for j in range(weights.shape[1]):
        w_diff = weights[:, labels].T - weights[:, j]  # (N, D)
        room = np.where(w_diff > 0, np.minimum(eps, x), np.minimum(eps, 1.0 - x))
        margin = np.sum(x * w_diff, axis=1) + bias[labels] - bias[j] - np.sum(np.abs(w_diff) * room, axis=1)
        margins[:, j] = np.where(labels == j, np.inf, margin)
    return margins.min(axis=1)


def linear_problem(num_classes: int, num_points: int, epsilons, seed: int):
    rng = np.random.default_rng(seed)
    weights = rng.uniform(-1, 1, (int(np.prod(LINEAR_SHAPE)), num_classes))
    bias = rng.uniform(-0.5, 0.5, num_classes)
    images = rng.random((num_points, *LINEAR_SHAPE)).astype(np.float32)
    saturated = rng.random(images.shape) < 0.2  # pixels at the box bounds make the box constraint bite
    images[saturated] = rng.integers(0, 2, saturated.sum())
    labels = np.argmax(images.reshape(num_points, -1) @ weights + bias, axis=1)
    noisy = rng.random(num_points) < 0.1
    labels[noisy] = rng.integers(0, num_classes, noisy.sum())
    margins = np.stack([exact_min_margin(weights, bias, images, labels, eps) for eps in (0.0, *epsilons)], axis=1)
    clear = np.all(np.abs(margins) > 1e-3, axis=1)  # float32 ties are not the point of this test
    return linear_model(weights, bias), images[clear], labels[clear], margins[clear] > 0


LINEAR_EPSILONS = (0.005, 0.01, 0.02, 0.04)


def test_binary_linear_matches_closed_form_exactly():
    model, images, labels, exact = linear_problem(2, 160, LINEAR_EPSILONS, seed=0)
    assert 0.2 < exact[:, -1].mean() < exact[:, 0].mean() < 1.0  # the ladder spans informative accuracies
    result = evaluate_robustness(
        model, images, labels, LINEAR_EPSILONS, budgets={"pgd": {"steps": 25, "rel_stepsize": 0.1}}, seed=0, batch_size=256, run_checks=False
    )
    np.testing.assert_array_equal(result.robust_mask, exact)
    assert result.accuracy == {eps: exact[:, k].mean() for k, eps in enumerate((0.0, *LINEAR_EPSILONS))}


def test_multiclass_linear_is_sound_and_near_exact():
    # PGD on cross-entropy follows a probability-weighted mix of class directions, so for K > 2 it is not an exact
    # solver: it may miss a breaking class, but it can never break a point that is exactly robust
    model, images, labels, exact = linear_problem(4, 160, LINEAR_EPSILONS, seed=1)
    result = evaluate_robustness(
        model, images, labels, LINEAR_EPSILONS, budgets={"pgd": {"steps": 25, "rel_stepsize": 0.1}}, seed=0, batch_size=256, run_checks=False
    )
    assert not np.any(exact & ~result.robust_mask)
    for k in range(len(LINEAR_EPSILONS) + 1):
        assert abs(result.robust_mask[:, k].mean() - exact[:, k].mean()) <= 0.03


# ---------------------------------------------------------------- a small trained CNN and planted masking


def colour_data(num_points: int, rng):
    labels = rng.integers(0, CNN_CLASSES, num_points)
    images = 0.45 + 0.15 * rng.standard_normal((num_points, CNN_SIZE, CNN_SIZE, 3))
    images[np.arange(num_points), :, :, labels] += 0.12  # class = which channel is brighter
    return np.clip(images, 0, 1).astype(np.float32), labels.astype(np.int64)


@pytest.fixture(scope="module")
def cnn_problem():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x_train, y_train = colour_data(600, rng)
    images, labels = colour_data(64, rng)
    inputs = keras.Input((CNN_SIZE, CNN_SIZE, 3))
    hidden = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    hidden = keras.layers.Conv2D(8, 3, activation="relu", name="backbone_features")(hidden)
    logits = keras.layers.Dense(CNN_CLASSES)(keras.layers.GlobalAveragePooling2D()(hidden))
    model = keras.Model(inputs, logits)
    model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x_train, y_train, epochs=8, batch_size=32, verbose=0)
    return model, images, labels


@pytest.fixture(scope="module")
def normal_result(cnn_problem):
    model, images, labels = cnn_problem
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a normal model under a strong attack must not warn
        return evaluate_robustness(model, images, labels, LADDER, seed=0, **STRONG)


def test_all_checks_pass_on_a_normal_model(normal_result):
    assert set(normal_result.checks) == set(CHECKS)
    assert normal_result.failed_checks() == []
    assert normal_result.accuracy[0.0] >= 0.9  # the model learned the task, so the checks are informative
    assert normal_result.accuracy[LADDER[-1]] <= 0.2
    assert normal_result.checks["within_ball"].value <= 1e-6


def test_result_shapes_and_json(normal_result, cnn_problem):
    _, images, labels = cnn_problem
    result = normal_result
    assert isinstance(result, RobustnessResult)
    assert result.epsilons == (0.0, *LADDER)
    assert result.robust_mask.shape == (len(images), 4) and result.robust_mask.dtype == bool
    np.testing.assert_array_equal(result.sample_indices, select_sample_indices(labels, 16))
    assert sorted(result.adversarial_samples) == list(LADDER)
    for k, eps in enumerate(LADDER, start=1):
        adversarial = result.adversarial_samples[eps]
        clean = images[result.sample_indices]
        assert adversarial.shape == clean.shape and adversarial.dtype == np.float32
        assert np.abs(adversarial - clean).max() <= eps + 1e-6
        assert 0.0 <= adversarial.min() and adversarial.max() <= 1.0
    # one PGD per point still robust at the previous epsilon, plus each sample attacked at every epsilon alone
    attacked = result.robust_mask[:, :-1].sum()
    assert result.cost["pgd"]["gradient_evaluations"] == STRONG_PGD["steps"] * attacked
    assert result.gradient_evaluations == STRONG_PGD["steps"] * (attacked + len(result.sample_indices) * len(LADDER))
    record = json.loads(json.dumps(result.to_dict()))
    assert record["accuracy"]["0.1"] == result.accuracy[0.1] and record["failed_checks"] == []


def test_nested_equals_attacking_every_point_at_every_epsilon(cnn_problem):
    # without random start PGD is deterministic, so plain Foolbox on every point at every epsilon must give the
    # nested mask once a point broken at a smaller epsilon is counted broken (it is: its example is in the ball)
    model, images, labels = cnn_problem
    epsilons = (0.01, 0.02, 0.03, 0.05)
    nested = evaluate_robustness(
        model, images, labels, epsilons, batch_size=16, run_checks=False,
        budgets={"pgd": {**STRONG_PGD, "random_start": False}}
    )
    fmodel = fb.TensorFlowModel(model, bounds=(0, 1), device="/CPU:0")
    attack = fb.attacks.LinfPGD(random_start=False, **STRONG_PGD)
    _, _, success = attack(fmodel, tf.constant(images), tf.constant(labels), epsilons=list(epsilons))
    plain = np.concatenate([nested.robust_mask[:, :1], ~success.numpy().T], axis=1)
    np.testing.assert_array_equal(nested.robust_mask, np.logical_and.accumulate(plain, axis=1))
    plain_accuracy = plain.mean(axis=0)
    for k, eps in enumerate((0.0, *epsilons)):
        assert nested.accuracy[eps] <= plain_accuracy[k] + 1e-12
    assert nested.cost["pgd"]["gradient_evaluations"] < STRONG_PGD["steps"] * len(images) * len(epsilons)


def test_compiled_loop_equals_stock_foolbox_linf_pgd_with_the_same_start(cnn_problem, monkeypatch):
    # stock LinfPGD draws its start from ep.uniform; hand it the start the runner draws, then both must agree to
    # the last bit: same steps, same float32 arithmetic, same final clip
    import eagerpy as ep

    from trainables.robustness.attacks.context import MAIN_STREAM, start_noise

    model, images, labels = cnn_problem
    ids, epsilon = np.arange(16), 0.03
    runner = PGDRunner(CompiledModel.build(model, images.shape[1:]), seed=3, batch_size=16, rel_stepsize=0.25,
                       random_start=True)
    success, adversarial = runner.pgd_batch(images, labels, ids, np.full(16, epsilon), np.zeros(16, int), steps=10)
    noise = start_noise(3, MAIN_STREAM, 0, epsilon, ids, images.shape[1:])
    monkeypatch.setattr(ep, "uniform", lambda like, shape, low, high: ep.astensor(tf.constant(noise)))
    stock = fb.attacks.LinfPGD(rel_stepsize=0.25, steps=10, random_start=True)
    fmodel = fb.TensorFlowModel(model, bounds=(0, 1), device="/CPU:0")
    _, clipped, is_adv = stock(fmodel, tf.constant(images[:16]), tf.constant(labels[:16]), epsilons=epsilon)
    np.testing.assert_array_equal(adversarial, clipped.numpy())
    np.testing.assert_array_equal(success, is_adv.numpy())
    assert 0 < success.sum() < 16  # a batch where the attack both wins and loses, so equality means something


def test_model_is_traced_once_for_all_batch_sizes(cnn_problem):
    model, images, labels = cnn_problem
    compiled = CompiledModel.build(model, images.shape[1:])
    runner = PGDRunner(compiled, seed=0, batch_size=5, rel_stepsize=0.25, random_start=True)
    clean = np.argmax(compiled.forward(tf.constant(images[:12])).numpy(), axis=1) == labels[:12]
    outcome = nested_pgd(
        runner, images[:12], labels[:12], (0.0, 0.03, 0.1), clean, steps=2, restarts=1, sample_indices=np.arange(3)
    )
    assert outcome.robust_mask.shape == (12, 3)
    assert runner.gradient_evaluations == 2 * outcome.robust_mask[:, :2].sum()  # batches of 5, 5, 2 and fewer
    for function in (compiled.forward, compiled.pgd):
        assert function.experimental_get_tracing_count() == 1


def test_seed_reproducible_and_independent_of_batch_size(cnn_problem):
    model, images, labels = cnn_problem
    run = dict(seed=7, run_checks=False, sample_indices=range(8), **STRONG)
    first = evaluate_robustness(model, images, labels, (0.01, 0.03), batch_size=64, **run)
    second = evaluate_robustness(model, images, labels, (0.01, 0.03), batch_size=24, **run)
    other = evaluate_robustness(model, images, labels, (0.01, 0.03), batch_size=64, **{**run, "seed": 8})
    np.testing.assert_array_equal(first.robust_mask, second.robust_mask)
    for eps in (0.01, 0.03):
        np.testing.assert_array_equal(first.adversarial_samples[eps], second.adversarial_samples[eps])
    assert not np.array_equal(first.adversarial_samples[0.01], other.adversarial_samples[0.01])
    assert first.seed == 7


def test_more_restarts_never_raise_accuracy(cnn_problem):
    model, images, labels = cnn_problem
    weak = {"steps": 3, "rel_stepsize": 0.1}  # a weak attack, so restarts matter
    one = evaluate_robustness(model, images, labels, (0.03, 0.05), seed=3, run_checks=False,
                              budgets={"pgd": weak})
    three = evaluate_robustness(model, images, labels, (0.03, 0.05), seed=3, run_checks=False,
                                budgets={"pgd": {**weak, "restarts": 3}})
    assert not np.any(three.robust_mask & ~one.robust_mask)  # restart 0 is shared, later ones only remove points
    assert three.gradient_evaluations > one.gradient_evaluations


def with_output_layer(model, layer):
    return keras.Model(model.inputs, layer(model.output))


class ZeroGradientQuantiser(keras.layers.Layer):
    """Rounds inputs to 1/16 with no gradient: a classic gradient-masking 'defence'."""

    def call(self, x):
        return tf.stop_gradient(tf.round(x * 16.0) / 16.0)


class StraightThroughQuantiser(keras.layers.Layer):
    """Rounds logits to steps of 4 on the forward pass but lets the gradient through unchanged: the gradient is
    neither zero nor non-finite, yet it does not predict the loss (the check before this one passed such models)."""

    def call(self, z):
        return z + tf.stop_gradient(tf.round(z / 4.0) * 4.0 - z)


@pytest.mark.parametrize("masking", ["saturated_logits", "zero_gradient", "quantised_logits"])
def test_checks_flag_planted_gradient_masking(cnn_problem, normal_result, masking):
    model, images, labels = cnn_problem
    if masking == "saturated_logits":
        masked = with_output_layer(model, keras.layers.Rescaling(1e4))  # softmax saturates: CE gradient is 0
    elif masking == "quantised_logits":
        masked = with_output_layer(with_output_layer(model, keras.layers.Rescaling(20.0)), StraightThroughQuantiser())
    else:
        inputs = keras.Input((CNN_SIZE, CNN_SIZE, 3))
        masked = keras.Model(inputs, model(ZeroGradientQuantiser()(inputs)))
    with pytest.warns(RuntimeWarning, match="gradients_usable"):
        result = evaluate_robustness(masked, images, labels, LADDER, seed=0, **STRONG)
    assert not result.checks["gradients_usable"].passed  # the checks say so
    assert normal_result.checks["gradients_usable"].passed  # the unmasked model passes the same check
    if masking != "quantised_logits":  # rounding the logits can change a clean prediction
        assert result.accuracy[0.0] == normal_result.accuracy[0.0]
        assert result.accuracy[LADDER[-1]] > 0.9  # the attack is fooled ...
        assert not result.checks["largest_eps_vs_chance"].passed
        assert {"gradients_usable", "largest_eps_vs_chance"} <= set(result.failed_checks())


def test_probability_model_warns_and_fails_its_check(cnn_problem):
    model, images, labels = cnn_problem
    softmax_model = with_output_layer(model, keras.layers.Softmax())
    with pytest.warns(RuntimeWarning, match="softmax"):
        result = evaluate_robustness(softmax_model, images, labels, (0.01,), seed=0, run_checks=False,
                                     budgets={"pgd": {"steps": 2}})
    assert not result.checks["logits_not_probabilities"].passed
    assert result.checks["logits_not_probabilities"].value == 1.0
    with pytest.warns(RuntimeWarning, match="logits_not_probabilities"):
        robust_accuracy(softmax_model, images, labels, (0.01,), seed=0, budgets={"pgd": {"steps": 2}})


def test_attack_on_probabilities_runs_on_softmax_outputs(cnn_problem):
    # the paper's heads end in softmax, so Foolbox's cross-entropy sees probabilities as logits. Under sign-gradient
    # L-inf PGD saturation shrinks gradients without changing their signs until float32 underflow, so on this
    # confident model (clean margins ~30-65) the two settings agree closely; the option exists to measure that
    model, images, labels = cnn_problem
    confident = with_output_layer(model, keras.layers.Rescaling(8.0))
    attacked = compile_forward(confident, images.shape[1:], "probabilities")(tf.constant(images)).numpy()
    np.testing.assert_allclose(attacked.sum(axis=1), 1.0, rtol=1e-5)
    common = dict(seed=0, **STRONG)
    on_logits = robust_accuracy(confident, images, labels, LADDER, **common)
    on_probabilities = robust_accuracy(confident, images, labels, LADDER, attack_on="probabilities", **common)
    assert on_probabilities[0.0] == on_logits[0.0]
    assert on_probabilities[LADDER[-1]] < on_probabilities[0.0]  # the attack still works
    for eps in LADDER:
        assert abs(on_probabilities[eps] - on_logits[eps]) <= 0.1


# ---------------------------------------------------------------- check rules on hand-made contexts


def context(accuracy, **overrides):
    values = dict(
        epsilons=tuple(accuracy),
        accuracy=accuracy,
        robust_mask=np.zeros((4, len(accuracy)), bool),
        labels=np.array([0, 0, 1, 1]),
        num_classes=2,
        ball_violation=0.0,
        points_attacked=4,
        probability_row_fraction=0.0,
        config=CheckConfig(),
    )
    values.update(overrides)
    return CheckContext(**values)


def band_model(low: float, high: float):
    """Class 1 (wrong) while the mean |x - 0.5| lies in [low, high], class 0 (the label) otherwise."""

    def model(x, training=False):
        deviation = tf.reduce_mean(tf.abs(tf.convert_to_tensor(x) - 0.5), axis=[1, 2, 3])
        margin = tf.minimum(deviation - low, high - deviation)  # > 0 inside the band
        return tf.stack([-margin, margin], axis=1)

    return model


@pytest.mark.parametrize(("band", "fails"), [((0.008, 0.012), True), ((0.008, 1.0), False)])
def test_attack_monotone_fires_when_a_broken_sample_is_robust_at_a_larger_epsilon(band, fails):
    images = np.full((4, 2, 2, 3), 0.5, np.float32)
    adversarial = {eps: images + eps for eps in (0.005, 0.01, 0.02)}  # each epsilon's own attack, as evaluate runs
    checked = run_checks(context({0.0: 1.0, 0.005: 1.0, 0.01: 0.0, 0.02: 0.0}, labels=np.zeros(4, np.int64),
                                 model=band_model(*band), adversarial_samples=adversarial,
                                 sample_indices=np.arange(4)), include_costly=False)["attack_monotone"]
    assert checked.passed != fails and checked.value == (1.0 if fails else 0.0)


def test_deterministic_fires_on_a_model_with_random_input_noise(cnn_problem):
    model, images, labels = cnn_problem
    noisy = with_output_layer(model, keras.layers.GaussianNoise(0.5))
    always_noisy = lambda x, training=False: noisy(x, training=True)  # noqa: E731
    common = dict(images=images, labels=labels, check_indices=np.arange(8), batch_size=8)
    assert not run_checks(context({0.0: 1.0}, model=always_noisy, **common), include_costly=False)[
        "deterministic"].passed
    assert run_checks(context({0.0: 1.0}, model=model, **common), include_costly=False)["deterministic"].passed


def test_cheap_check_rules():
    outside = run_checks(context({0.0: 0.5, 0.2: 0.0}, ball_violation=1e-3), include_costly=False)
    assert not outside["within_ball"].passed and outside["largest_eps_vs_chance"].passed
    # 75 of 100 robust at eps 0.2, chance 0.5 + margin 0.1: P(X >= 75 | 100, 0.6) = 0.0012 < 0.005 fires; the same
    # accuracy on 4 points (3 of 4, p 0.48) is no evidence
    balanced = dict(robust_mask=np.zeros((100, 2), bool), labels=np.repeat([0, 1], 50))
    high_at_large = run_checks(context({0.0: 1.0, 0.2: 0.75}, **balanced), include_costly=False)
    assert not high_at_large["largest_eps_vs_chance"].passed
    assert high_at_large["largest_eps_vs_chance"].p_value == pytest.approx(0.00119, abs=1e-5)
    assert run_checks(context({0.0: 1.0, 0.2: 0.75}), include_costly=False)["largest_eps_vs_chance"].passed
    high_at_small = run_checks(context({0.0: 1.0, 0.01: 0.75}), include_costly=False)
    assert high_at_small["largest_eps_vs_chance"].passed and "informative only" in high_at_small[
        "largest_eps_vs_chance"
    ].detail


# ---------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def tiny_linear():
    rng = np.random.default_rng(0)
    model = linear_model(rng.uniform(-1, 1, (int(np.prod(LINEAR_SHAPE)), 3)), np.zeros(3))
    images = rng.random((4, *LINEAR_SHAPE)).astype(np.float32)
    return model, images, np.array([0, 1, 2, 0])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"epsilons": (-0.01, 0.01)}, "must be in \\[0, 1\\]"),
        ({"epsilons": (0.01, 1.5)}, "must be in \\[0, 1\\]"),
        ({"epsilons": (0.02, 0.01)}, "unsorted"),
        ({"epsilons": (0.01, 0.01)}, "duplicated"),
        ({"epsilons": (0.01, float("nan"))}, "must be in \\[0, 1\\]"),
        ({"images": "uint8"}, "float32"),
        ({"images": "float64"}, "float32"),
        ({"images": "above_one"}, "\\[0, 1\\]"),
        ({"images": "nan"}, "\\[0, 1\\]"),
        ({"labels": np.array([0, 1, 3, 0])}, "labels must be in \\[0, 2\\]"),
        ({"labels": np.array([0, -1, 2, 0])}, "labels must be in \\[0, 2\\]"),
        ({"labels": np.array([0.0, 1.0, 2.0, 0.0])}, "integer"),
        ({"labels": np.array([0, 1, 2])}, "shape"),
        ({"attack_on": "softmax"}, "unknown attack_on 'softmax'"),
        ({"budgets": {"pgd": {"steps": 0}}}, "attack.pgd.steps"),
        ({"budgets": {"pgd": {"restarts": 0}}}, "attack.pgd.restarts"),
        ({"batch_size": 0}, "batch_size"),
        ({"budgets": {"pgd": {"rel_stepsize": -0.1}}}, "attack.pgd.rel_stepsize"),
        ({"seed": -1}, "seed"),
        ({"sample_indices": [0, 9]}, "sample_indices"),
    ],
)
def test_bad_input_is_rejected(tiny_linear, change, message):
    model, images, labels = tiny_linear
    arguments = {"images": images, "labels": labels, "epsilons": (0.01,)}
    arguments.update(change)
    planted = arguments["images"]
    if isinstance(planted, str):
        arguments["images"] = {
            "uint8": (images * 255).astype(np.uint8),
            "float64": images.astype(np.float64),
            "above_one": images + 1.0,
            "nan": np.where(images > 0.5, np.nan, images).astype(np.float32),
        }[planted]
    images, labels, epsilons = arguments.pop("images"), arguments.pop("labels"), arguments.pop("epsilons")
    with pytest.raises(ValueError, match=message):
        evaluate_robustness(model, images, labels, epsilons, **{"budgets": {"pgd": {"steps": 1}}, **arguments})


def test_epsilon_zero_is_added_once_and_is_clean_accuracy(tiny_linear):
    model, images, labels = tiny_linear
    clean = np.mean(np.argmax(model(images).numpy(), axis=1) == labels)
    assert robust_accuracy(model, images, labels, (0.0, 0.01), budgets={"pgd": {"steps": 1}}).keys() == {0.0, 0.01}
    assert robust_accuracy(model, images, labels, (), budgets={"pgd": {"steps": 1}}) == {0.0: clean}


def test_single_logit_model_is_rejected(tiny_linear):
    _, images, labels = tiny_linear
    inputs = keras.Input(LINEAR_SHAPE)
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(inputs)))
    with pytest.raises(ValueError, match="one logit per class"):
        robust_accuracy(model, images, np.zeros(4, np.int64), (0.01,), budgets={"pgd": {"steps": 1}})
