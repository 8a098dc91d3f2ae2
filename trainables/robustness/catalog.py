"""The built-in attacks, registered in the order the worst case runs them. A new attack: one module, one line here."""

from .apgd_attacks import APGD_CE, APGD_DLR, APGD_MARGIN
from .attack_spec import register_attack
from .eot_attacks import APGD_CE_EOT, APGD_MARGIN_EOT
from .fmn_attack import FMN
from .pgd_attack import PGD
from .square_attack import SQUARE

for _attack in (PGD, APGD_CE, APGD_MARGIN, APGD_DLR, SQUARE, FMN, APGD_CE_EOT, APGD_MARGIN_EOT):
    register_attack(_attack)
