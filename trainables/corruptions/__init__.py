"""Natural corruptions of [0, 1] images (the facts: trainables.spec.corruptions) and the accuracy of a model under
them. numpy only, vectorised over the batch; each point's draws are keyed by (seed, point, corruption, severity)
(draws.py), so the same seed gives the same corrupted batch at any batch size.

noise.py       gaussian_noise, shot_noise, impulse_noise
blur.py        defocus_blur, motion_blur (FFT convolution, one kernel per point where it varies)
digital.py     jpeg (DCT quantisation, 4:2:0), pixelate, brightness, contrast
dermoscopy.py  hair, ruler_ink, vignetting
fundus.py      uneven_illumination, haze, lens_artefacts
chest_xray.py  burn_in, wires_pins, gamma_window, grid_lines
apply.py       corrupt(images, name, severity, seed=, point_ids=): the one entry point
evaluate.py    evaluate_corruptions: accuracy per corruption and severity, in resumable units
"""

from .apply import corrupt
from .evaluate import CorruptionResult, evaluate_corruptions

__all__ = ["CorruptionResult", "corrupt", "evaluate_corruptions"]
