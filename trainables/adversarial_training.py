"""Adversarial training: the attack inside one compiled train step (tf.function), epoch by epoch like model.fit.

- ``pgd`` (Madry et al. 2018): each batch is replaced by its L-inf PGD examples (random start uniform in the
  adv_eps ball, adv_steps signed-gradient steps of adv_step_size on the cross-entropy of the logits, projected onto
  the ball and [0, 1]); the model trains on their (class-weighted) cross-entropy.
- ``trades`` (Zhang et al. 2019): the attack maximises KL(p(x) || p(x')) from x + 0.001 N(0, 1) (the same steps and
  projection); the loss is CE(f(x), y) + trades_beta * KL(p(x) || p(x')), class weights on each sample's total.

Images are float32 RGB in [0, 1] and adv_eps lives in that space. The attack runs the model with training=False
(no BatchNorm statistics from the attack, no dropout: TRADES' reference code does the same, model.eval()), the
update with training=True. The random starts are stateless, seeded by (trial seed, optimizer step): a training
resumed from an epoch checkpoint (which holds the optimizer's step) draws exactly what the uninterrupted one would.
The epoch's logs match model.fit's: loss is the batch-size-weighted mean of the batch losses (sum of weighted
per-sample losses / batch size), accuracy the class-weighted accuracy on the inputs trained on (the PGD examples for
pgd, the clean images for trades), val_loss and val_accuracy from model.evaluate on clean validation images.
"""

from __future__ import annotations

from dataclasses import dataclass

from .spec.config import TrialConfig
from .spec.enums import AdvTraining

TRADES_START_SD = 0.001  # Zhang et al.'s random start


@dataclass(frozen=True)
class AdversarialRecipe:
    method: str  # AdvTraining: "pgd" or "trades"
    epsilon: float
    steps: int
    step_size: float
    beta: float | None
    seed: int

    @classmethod
    def of(cls, config: TrialConfig) -> "AdversarialRecipe | None":
        """The recipe of a resolved trial; None for adv_training="none"."""
        if config.adv_training == AdvTraining.NONE.value:
            return None
        return cls(config.adv_training, float(config.adv_eps), int(config.adv_steps), float(config.adv_step_size),
                   config.trades_beta, int(config.seed))


def kl_divergence(p_log, q_log):
    """KL(p || q) per sample from log-probabilities (B, K) -> (B,)."""
    import tensorflow as tf

    return tf.reduce_sum(tf.exp(p_log) * (p_log - q_log), axis=-1)


class AdversarialTrainer:
    """fit_epoch(train_data, val_data) -> the epoch's logs, one compiled step per batch."""

    def __init__(self, model, recipe: AdversarialRecipe, class_weight: dict[int, float] | None = None):
        import tensorflow as tf

        self.model, self.recipe = model, recipe
        classes = int(model.outputs[0].shape[-1])
        weights = [1.0] * classes if class_weight is None else [float(class_weight.get(c, 0.0)) for c in range(classes)]
        self.class_weights = tf.constant(weights, tf.float32)
        self.step = tf.function(self.train_step, reduce_retracing=True)

    def random_start(self, x):
        import tensorflow as tf

        seed = tf.stack([tf.constant(self.recipe.seed, tf.int64), tf.cast(self.model.optimizer.iterations, tf.int64)])
        if self.recipe.method == AdvTraining.TRADES.value:
            return x + TRADES_START_SD * tf.random.stateless_normal(tf.shape(x), seed=seed)
        eps = self.recipe.epsilon
        return x + tf.random.stateless_uniform(tf.shape(x), seed=seed, minval=-eps, maxval=eps)

    def attack(self, x, y):
        """The training examples of a batch: (B, H, W, 3) in [0, 1] -> the same shape, within adv_eps of x."""
        import tensorflow as tf

        eps, step_size = self.recipe.epsilon, self.recipe.step_size
        trades = self.recipe.method == AdvTraining.TRADES.value
        clean_log = tf.stop_gradient(tf.nn.log_softmax(self.model(x, training=False))) if trades else None

        def objective(x_adv):
            logits = self.model(x_adv, training=False)
            if trades:
                return tf.reduce_sum(kl_divergence(clean_log, tf.nn.log_softmax(logits)))
            return tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))

        x_adv = tf.clip_by_value(tf.clip_by_value(self.random_start(x), x - eps, x + eps), 0.0, 1.0)
        for _ in tf.range(self.recipe.steps):
            with tf.GradientTape() as tape:
                tape.watch(x_adv)
                value = objective(x_adv)
            x_adv = x_adv + step_size * tf.sign(tape.gradient(value, x_adv))
            x_adv = tf.clip_by_value(tf.clip_by_value(x_adv, x - eps, x + eps), 0.0, 1.0)
        return tf.stop_gradient(x_adv)

    def train_step(self, x, y):
        """One batch: attack, then one optimizer step -> (loss, weighted correct, weight sum, batch size)."""
        import tensorflow as tf

        x_adv = self.attack(x, y)
        weights = tf.gather(self.class_weights, tf.argmax(y, axis=-1))
        batch = tf.cast(tf.shape(x)[0], tf.float32)
        with tf.GradientTape() as tape:
            if self.recipe.method == AdvTraining.TRADES.value:
                logits = self.model(x, training=True)
                adversarial = self.model(x_adv, training=True)
                per_sample = (tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits)
                              + self.recipe.beta * kl_divergence(tf.nn.log_softmax(logits),
                                                                 tf.nn.log_softmax(adversarial)))
            else:
                logits = self.model(x_adv, training=True)
                per_sample = tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits)
            loss = tf.reduce_sum(per_sample * weights) / batch  # Keras' "sum_over_batch_size" with sample weights
        variables = self.model.trainable_variables
        self.model.optimizer.apply(tape.gradient(loss, variables), variables)
        correct = tf.cast(tf.equal(tf.argmax(logits, -1), tf.argmax(y, -1)), tf.float32)
        return loss, tf.reduce_sum(correct * weights), tf.reduce_sum(weights), batch

    def fit_epoch(self, train_data, val_data) -> dict[str, float]:
        loss_sum = correct = weight = seen = 0.0
        for x, y in train_data:
            loss, batch_correct, batch_weight, batch = (float(v) for v in self.step(x, y))
            loss_sum, correct, weight, seen = loss_sum + loss * batch, correct + batch_correct, weight + batch_weight, seen + batch
        validation = self.model.evaluate(val_data, verbose=0, return_dict=True)
        return {"loss": loss_sum / seen, "accuracy": correct / weight if weight else 0.0,
                "val_loss": float(validation["loss"]), "val_accuracy": float(validation["accuracy"])}
