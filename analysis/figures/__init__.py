"""One pure function per figure: frame (and arrays) in, matplotlib Figure out (Agg, no pyplot state).

curves      accuracy_curves          paper figures 3-8: accuracy vs epsilon per task x backbone
images      perturbation_figure      paper figures 2 / 9 / 12: clean, adversarial, perturbation per epsilon
            gradcam_figure           paper figures 10 / 11 / 13 / 14: Grad-CAM overlays, clean vs perturbed
placement   placement_heatmap        robust accuracy per attention placement x epsilon, and its gain over none
pareto      pareto_scatter           clean accuracy vs robust objective with the Pareto front per task
checks      checks_grid              trials x sanity checks, pass / fail / missing

Artists carry gids so their data can be found again: "robust:<variant>", "clean:<variant>", "band:<variant>",
"front:<task>", "trials:<task>".
"""

from .base import save_figure
from .checks import checks_grid
from .curves import accuracy_curves
from .images import gradcam_figure, perturbation_figure
from .pareto import pareto_front, pareto_scatter
from .placement import placement_heatmap

__all__ = ["accuracy_curves", "checks_grid", "gradcam_figure", "pareto_front", "pareto_scatter",
           "perturbation_figure", "placement_heatmap", "save_figure"]
