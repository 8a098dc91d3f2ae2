"""Toy sweeps for the end-to-end tests, loaded with `python -m sweep.run --sweeps-file tests/toy_sweeps.py`."""

from pathlib import Path

from search_spaces import Sweep, axis, register_sweep

HOOKS_FILE = Path(__file__).resolve().with_name("hooks.py")  # epoch callbacks named by file path
FAIL_ONCE_AFTER_EPOCH_1 = {f"{HOOKS_FILE}:fail_once_at_epoch": {"epoch": 1}}

PNEUMOTHORAX_RESNET = (axis("task", ["pneumothorax"]), axis("backbone", ["resnet50"]))
# the fault and cluster tests are about training, resuming and placing trials: a short evaluation (PGD alone, two
# epsilons, 16 points) keeps CI fast
SHORT_EVALUATION = {"epsilons": (0.01, 0.32), "max_eval": 16, "attack": {"attacks": ["pgd"], "radius_attack": None}}

register_sweep(Sweep(
    name="toy",
    description="two toy trials; the attentive one dies once after epoch 1 (resume from checkpoint)",
    axes=(*PNEUMOTHORAX_RESNET, [{"attention": "none"},
                                 {"attention": "soft_faithful", "epoch_callbacks": FAIL_ONCE_AFTER_EPOCH_1}]),
    values={"epochs": 2, "patience": 5},
))

register_sweep(Sweep(
    name="toy_reeval",
    description="re-evaluates the toy models at other epsilons",
    axes=(*PNEUMOTHORAX_RESNET, [{"attention": "none"},
                                 {"attention": "soft_faithful", "epoch_callbacks": FAIL_ONCE_AFTER_EPOCH_1}]),
    values={"epochs": 2, "patience": 5, "epsilons": (0.004, 0.5)},
    evaluate_from="toy",
))

register_sweep(Sweep(
    name="toy_pair",
    description="two independent toy trials",
    axes=(*PNEUMOTHORAX_RESNET, axis("attention", ["none", "soft_corrected"])),
    values={"epochs": 2, "patience": 5, **SHORT_EVALUATION},
))

register_sweep(Sweep(
    name="toy_three",
    description="three toy trials, run one at a time (resume tests)",
    axes=(*PNEUMOTHORAX_RESNET, axis("attention", ["none", "soft_faithful", "soft_corrected"])),
    values={"epochs": 2, "patience": 5, **SHORT_EVALUATION},
))

register_sweep(Sweep(
    name="toy_certify",
    description="one toy trial with the ensemble and certification in many small units (resumable evaluation tests)",
    axes=(*PNEUMOTHORAX_RESNET, axis("attention", ["none"])),
    values={"epochs": 2, "patience": 5, "epsilons": (0.01, 0.32), "max_eval": 16, "eval_batch_size": 4,
            "noise_sigma": 0.25, "certify": True, "certify_points": 6, "certify_n": 1000, "eval_checkpoint_s": 0.001},
))
