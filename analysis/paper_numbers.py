"""The numbers Wasserman et al. publish in the text (section 4), to set beside ours.

The paper's attentive model is soft attention as ported from Datta et al. at the head: here
attention="soft_faithful", placement="head". Epsilon 0.0 means clean accuracy. The curves themselves
(figures 3-8) are published only as images, so only the values stated in the text are here.
"""

from __future__ import annotations

from dataclasses import dataclass

PAPER_ATTENTION = "soft_faithful"
PAPER_PLACEMENT = "head"


@dataclass(frozen=True)
class PublishedNumber:
    task: str
    backbone: str
    attention: str  # "none" or PAPER_ATTENTION
    epsilon: float  # 0.0 = clean accuracy
    accuracy: float
    source: str


SKIN_CLEAN = "section 4.1, clean accuracy (0.905 vs. 0.88)"
DR_CLEAN = "section 4.1, clean accuracy (0.832 vs. 0.818)"
SKIN_BROKEN = "section 4.1: by eps = 0.01 the model is 0% accurate"
CHEST_END = "section 4.1: both models met at 0.805 at eps = 0.32"
PUBLISHED: tuple[PublishedNumber, ...] = (
    PublishedNumber("skin_lesion", "resnet50", "none", 0.0, 0.905, SKIN_CLEAN),
    PublishedNumber("skin_lesion", "resnet50", PAPER_ATTENTION, 0.0, 0.88, SKIN_CLEAN),
    PublishedNumber("skin_lesion", "resnet50", "none", 0.01, 0.0, SKIN_BROKEN),
    PublishedNumber("diabetic_retinopathy", "resnet50", "none", 0.0, 0.832, DR_CLEAN),
    PublishedNumber("diabetic_retinopathy", "resnet50", PAPER_ATTENTION, 0.0, 0.818, DR_CLEAN),
    PublishedNumber("pneumothorax", "resnet50", "none", 0.32, 0.805, CHEST_END),
    PublishedNumber("pneumothorax", "resnet50", PAPER_ATTENTION, 0.32, 0.805, CHEST_END),
)

# The abstract's headline: attention's relative robust-accuracy gain, (acc_att - acc_base) / acc_base.
HEADLINE_GAINS = {"typical": 0.16, "extreme": 27.0}

# Which paper figure shows the accuracy-vs-epsilon curves of a (backbone, task).
CURVE_FIGURES = {
    ("resnet50", "skin_lesion"): 3, ("resnet50", "diabetic_retinopathy"): 4, ("resnet50", "pneumothorax"): 5,
    ("inception_resnet_v2", "skin_lesion"): 6, ("inception_resnet_v2", "diabetic_retinopathy"): 7,
    ("inception_resnet_v2", "pneumothorax"): 8,
}
