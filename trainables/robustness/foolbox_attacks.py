"""Foolbox attacks fed by a CompiledModel (attack.py): the same arithmetic as stock LinfPGD and FGSM, compiled.

Imported only when an evaluation starts (it imports Foolbox and TensorFlow). Everything a batch needs (radii,
step sizes, random starts) arrives as arguments of the attack call, which Foolbox passes on to `run`; nothing
is set on the attack object between batches.
"""

from __future__ import annotations

import eagerpy as ep
import foolbox as fb
import tensorflow as tf
from foolbox.attacks.base import get_criterion
from foolbox.criteria import Misclassification


class PerExampleLinfPGD(fb.attacks.LinfPGD):
    """Foolbox LinfPGD with one radius per example, caller-supplied random starts and a compiled step loop.

    Called with epsilons=1 (the whole [0, 1] box, so Foolbox's scalar final clip changes nothing) and per call
    radii, step_sizes (B, 1, 1, 1) and start (B, H, W, C noise already scaled to each radius, or None); Foolbox's
    __call__ (input bounds check, final clip to the ball, success criterion) is unchanged; `run`, its loop of
    steps, is one call of CompiledModel.pgd doing the same arithmetic (tests check equality with stock LinfPGD).
    step_sizes are rel_stepsize * radius, rounded once to float32 as Foolbox does.
    """

    def __init__(self, compiled, **kwargs) -> None:
        super().__init__(**kwargs)
        self.compiled = compiled

    def run(self, model, inputs, criterion, *, epsilon, radii, step_sizes, start, **kwargs):
        x0, restore_type = ep.astensor_(inputs)
        criterion = get_criterion(criterion)
        if not isinstance(criterion, Misclassification):
            raise ValueError("PerExampleLinfPGD supports untargeted misclassification only")
        x = x0.raw
        if self.random_start:
            x = tf.clip_by_value(x + start, *model.bounds)
        x = self.compiled.pgd(x, x0.raw, criterion.labels.raw, step_sizes, radii, tf.constant(self.steps, tf.int32))
        return restore_type(ep.astensor(x))


class _LabelledLoss:
    """Foolbox's loss function for one call, carrying that call's labels to the compiled gradient."""

    def __init__(self, loss_fn, labels) -> None:
        self.loss_fn, self.labels = loss_fn, labels

    def __call__(self, x):
        return self.loss_fn(x)


class CompiledFGSM(fb.attacks.FGSM):
    """Foolbox FGSM (no random start) whose value_and_grad is CompiledModel.loss_and_gradient (the same loss)."""

    def __init__(self, loss_and_gradient, **kwargs) -> None:
        super().__init__(**kwargs)
        self.loss_and_gradient = loss_and_gradient

    def get_loss_fn(self, model, labels):
        return _LabelledLoss(super().get_loss_fn(model, labels), labels.raw)

    def value_and_grad(self, loss_fn, x):
        loss, gradient = self.loss_and_gradient(x.raw, loss_fn.labels)
        return ep.astensor(loss), ep.astensor(gradient)
