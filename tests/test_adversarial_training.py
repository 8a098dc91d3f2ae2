"""Adversarial training (issue #34): PGD training buys PGD robustness on a toy task, resumes exactly, and its
options are checked before anything runs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from search_spaces import expand  # noqa: E402
from trainables import training  # noqa: E402
from trainables.adversarial_training import AdversarialRecipe, AdversarialTrainer  # noqa: E402
from trainables.models import build_model  # noqa: E402
from trainables.spec import TrialConfig  # noqa: E402

EPSILON = 0.1


def toy_task(n: int, seed: int):
    """Tsipras et al.'s toy: pixel 0 is a robust feature (shift +-0.2, noise 0.15: about 0.91 accurate alone, 0.75
    under an eps=0.1 attack), pixels 1-63 are weak features (shift +-0.05, noise 0.1) that together predict almost
    perfectly, but an eps=0.1 attack flips every one of them."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    sign = (2 * y - 1)[:, None]
    features = np.concatenate([0.5 + 0.2 * sign + rng.normal(0, 0.15, (n, 1)),
                               0.5 + 0.05 * sign + rng.normal(0, 0.1, (n, 63))], axis=1)
    return np.clip(features, 0, 1).astype("float32").reshape(n, 8, 8, 1), y


def batches(x, y, batch_size=64, classes=2):
    return tf.data.Dataset.from_tensor_slices((x, tf.one_hot(y, classes))).batch(batch_size)


def linear_model(seed: int):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1))
    return keras.Model(inputs, keras.layers.Dense(2, name="logits")(keras.layers.Flatten()(inputs)))


def pgd_accuracy(model, x, y, epsilon: float) -> float:
    """Foolbox's L-inf PGD (40 steps, random start), independent of the trainer's own attack."""
    import foolbox as fb

    fmodel = fb.TensorFlowModel(model, bounds=(0, 1), device="/cpu:0")
    _, _, success = fb.attacks.LinfPGD(steps=40)(fmodel, tf.constant(x), tf.constant(y, tf.int64), epsilons=[epsilon])
    return float(1 - np.asarray(success[0]).mean())


@pytest.fixture(scope="module")
def toy_config():
    base = TrialConfig(epochs=30, patience=30, learning_rate=0.1, adam_epsilon=1e-7, batch_size=64, seed=0,
                       dropout=0.0)
    return base.replace(adv_eps=EPSILON, adv_steps=7, adv_step_size=2.5 * EPSILON / 7)


def trained(config, data):
    model = linear_model(config.seed)
    training.compile_model(model, config)
    training.train(model, *data, config, class_weight=None, state=training.TrainingState(),
                   on_epoch_end=lambda *args: None)
    return model


def test_pgd_training_raises_pgd_accuracy_on_the_toy_task(toy_config):
    x, y = toy_task(1024, seed=1)
    x_test, y_test = toy_task(512, seed=2)
    data = (batches(x, y), batches(x_test, y_test))
    standard = trained(toy_config, data)
    robust = trained(toy_config.replace(adv_training="pgd"), data)
    numbers = {name: (float(np.mean(np.argmax(model.predict(x_test, verbose=0), -1) == y_test)),
                      pgd_accuracy(model, x_test, y_test, EPSILON)) for name, model in
               (("standard", standard), ("pgd", robust))}
    print("clean, PGD accuracy at eps 0.1:", numbers)
    (standard_clean, standard_pgd), (robust_clean, robust_pgd) = numbers["standard"], numbers["pgd"]
    # measured: standard 0.973 clean, 0.270 under PGD; PGD-trained 0.896 and 0.736
    assert standard_clean > 0.95 and standard_pgd < 0.4  # standard training leans on the weak features
    assert robust_pgd > 0.65 and robust_pgd - standard_pgd > 0.3  # PGD training on the robust one (about 0.75)
    assert robust_clean < standard_clean  # the price in clean accuracy (Tsipras et al.)


def test_training_examples_stay_in_the_ball_and_the_box_and_raise_the_loss(toy_config):
    x, y = toy_task(256, seed=3)
    x = np.clip(x + 0.35 * np.sign(x - 0.5), 0, 1).astype("float32")  # values at 0 and 1: the box must clip
    model = linear_model(0)
    training.compile_model(model, toy_config)
    labels = tf.one_hot(y, 2)
    for method, beta in (("pgd", None), ("trades", 6.0)):
        trainer = AdversarialTrainer(model, AdversarialRecipe(method, EPSILON, 5, 0.04, beta, seed=0))
        x_adv = np.asarray(tf.function(trainer.attack)(tf.constant(x), labels))
        assert np.abs(x_adv - x).max() <= EPSILON + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
        assert np.abs(x_adv - x).max() > 0.9 * EPSILON  # it moved: signed steps reach the ball's edge
    loss = keras.losses.CategoricalCrossentropy(from_logits=True)
    x_pgd = AdversarialTrainer(model, AdversarialRecipe("pgd", EPSILON, 5, 0.04, None, seed=0)).attack(x, labels)
    assert float(loss(labels, model(x_pgd))) > float(loss(labels, model(x))) + 0.05


@pytest.fixture(scope="module")
def mini_config():
    trial = expand("paper_grid", "tiny")[0]
    return dataclasses.replace(trial, attention="soft_faithful", epochs=2, patience=5, dropout=0.0, adv_steps=2)


# the mini CNN for PGD; TRADES on the linear model (the resume path is the same, and the CNN's trace costs ~20 s)
@pytest.mark.parametrize("method, cnn", [("pgd", True), ("trades", False)])
def test_adversarial_training_resumes_exactly_from_an_epoch_checkpoint(mini_config, tmp_path, method, cnn):
    config = TrialConfig.from_dict({**mini_config.to_dict(), "adv_training": method, "adv_eps": None,
                                    "adv_step_size": None, "trades_beta": 6.0 if method == "trades" else None})
    config = config.resolved()
    rng = np.random.default_rng(0)
    shape, classes = ((config.image_size, config.image_size, 3), 7) if cnn else ((8, 8, 1), 2)
    x = rng.random((48, *shape), dtype=np.float32)
    y = rng.integers(0, classes, 48)
    data = (batches(x[:32], y[:32], 16, classes), batches(x[32:], y[32:], 16, classes))

    def built(seed):
        if not cnn:
            model = linear_model(seed)
        else:
            keras.utils.set_random_seed(seed)
            model = build_model(config.backbone, config.attention, 7, input_shape=shape, scale=config.scale,
                                dropout=0.0)
        training.compile_model(model, config)
        return model

    last = {}
    remember = lambda epoch, metrics, model, state: last.update({epoch: (model.get_weights(), metrics)})  # noqa: E731
    training.train(built(0), *data, config, class_weight=None, state=training.TrainingState(), on_epoch_end=remember)
    training.train(built(0), *data, config.replace(epochs=1), class_weight=None, state=training.TrainingState(),
                   on_epoch_end=lambda epoch, metrics, model, state: training.save_checkpoint(tmp_path, model, state))
    resumed, after = built(1), {}
    state = training.load_checkpoint(tmp_path, resumed)
    training.train(resumed, *data, config, class_weight=None, state=state,
                   on_epoch_end=lambda epoch, metrics, model, state: after.update({epoch: (model.get_weights(), metrics)}))
    assert set(after) == {2}
    weights, metrics = last[2]
    assert not all(np.array_equal(a, b) for a, b in zip(built(1).get_weights(), weights))  # seed 1 is not the answer
    for a, b in zip(after[2][0], weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert after[2][1] == pytest.approx(metrics, rel=1e-5)
    assert all(np.isfinite(v) for v in metrics.values())


def test_config_fills_and_refuses_adversarial_options():
    trial = expand("paper_grid", "tiny")[0]
    pgd = trial.replace(adv_training="pgd").resolved()
    assert pgd.adv_eps == trial.reference_epsilon and pgd.adv_step_size == pytest.approx(2.5 * pgd.adv_eps / pgd.adv_steps)
    assert pgd.run_name.endswith("-pgd-s0") and trial.run_name.endswith("-head-s0")
    assert trial.adv_eps is None and trial.resolved() == trial  # "none" fills nothing: the paper's trial unchanged
    with pytest.raises(ValueError, match="adv_training='trades' needs trades_beta"):
        TrialConfig(adv_training="trades")
    with pytest.raises(ValueError, match=r"adv_eps must be None or a finite number in \(0, 1\]"):
        TrialConfig(adv_training="pgd", adv_eps=1.5)
    with pytest.raises(ValueError, match="unknown adv_training 'fgsm'; expected one of: none, pgd, trades"):
        TrialConfig(adv_training="fgsm")
