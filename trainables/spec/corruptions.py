"""The natural corruptions as facts: each corruption's name, family, the modality it belongs to, its parameter at
severities 1-5 (the one table) and the "module:function" that applies it (trainables.corruptions, imported when
first used). Which corruptions a task's trials run follows from its modality (MODALITY_OF_TASK) and the trial's
`corruptions` setting (resolve_corruptions).

Every function is `f(images (N, H, W, C) float32 in [0, 1], draws: PointDraws, parameter) -> the same shape, in
[0, 1]`, and parameter 0 is the identity. Parameters in pixels are fractions of the image side, so a corruption
looks alike at 32, 48 and 224 px. The common ones follow ImageNet-C (Hendrycks & Dietterich 2019) and MedMNIST-C
(Di Salvo et al. 2024) in spirit, at their severities where the definitions agree (noise, blur, JPEG quality,
pixelation, contrast); the modality-specific ones are this project's renderings of the artefacts named in
MedMNIST-C and the paper's "a well-placed orthopedic pin or speck of dust": hair strands, ruler and ink marks and
vignetting (dermoscopy), uneven illumination, haze and lens artefacts (fundus), text and marker burn-ins, wires and
pins, gamma and windowing shifts and anti-scatter grid lines (chest X-ray).
"""

from __future__ import annotations

from dataclasses import dataclass

from .registry import Registry

SEVERITIES = (1, 2, 3, 4, 5)
COMMON = "common"
MODALITY = "modality"
ALL = "all"
NONE = "none"
SELECTIONS = (ALL, COMMON, MODALITY, NONE)  # the keywords of the `corruptions` setting; else a comma list of names

DERMOSCOPY, FUNDUS, CHEST_XRAY = "dermoscopy", "fundus", "chest_xray"
MODALITY_OF_TASK = {"skin_lesion": DERMOSCOPY, "diabetic_retinopathy": FUNDUS, "pneumothorax": CHEST_XRAY}

_CODE = "trainables.corruptions"


@dataclass(frozen=True)
class CorruptionSpec:
    """One corruption: `parameters[s - 1]` at severity s (0 would be the identity); `code` keys its random draws
    (with the seed, the point and the severity), so no two corruptions share a stream."""

    name: str
    family: str  # noise | blur | digital | weather | artefact (the report groups by it)
    modality: str  # COMMON or one of the modalities
    parameters: tuple[float, ...]
    function: str  # "module:function"
    code: int
    meaning: str  # what the parameter is, for docs/corruptions.md

    def parameter(self, severity: int) -> float:
        if severity not in SEVERITIES:
            raise ValueError(f"corruption severity must be one of {list(SEVERITIES)}. Received: severity={severity!r}")
        return self.parameters[severity - 1]


CORRUPTIONS: Registry[CorruptionSpec] = Registry("corruption")


def register_corruption(spec: CorruptionSpec, *, replace: bool = False) -> CorruptionSpec:
    if len(spec.parameters) != len(SEVERITIES):
        raise ValueError(f"corruption {spec.name!r}: {len(spec.parameters)} parameters for {len(SEVERITIES)} "
                         f"severities")
    if spec.modality != COMMON and spec.modality not in MODALITY_OF_TASK.values():
        raise ValueError(f"corruption {spec.name!r}: unknown modality {spec.modality!r}; expected one of: "
                         f"{', '.join([COMMON, *dict.fromkeys(MODALITY_OF_TASK.values())])}")
    if any(other.code == spec.code for other in CORRUPTIONS.values() if other.name != spec.name):
        raise ValueError(f"corruption {spec.name!r}: random-stream code {spec.code} is taken")
    return CORRUPTIONS.register(spec.name, spec, replace=replace)


def list_corruptions(modality: str | None = None) -> list[str]:
    """Every corruption, or those of one modality (COMMON for the common ones)."""
    return [name for name, spec in CORRUPTIONS.items() if modality is None or spec.modality == modality]


def get_corruption(name: str) -> CorruptionSpec:
    return CORRUPTIONS.lookup(name)


def task_modality(task: str) -> str | None:
    return MODALITY_OF_TASK.get(task)


def resolve_corruptions(selection: str, task: str) -> tuple[str, ...]:
    """The corruptions a trial of `task` runs: "all" (the common ones and its modality's), "common", "modality"
    (its modality's only), "none", or a comma list of registered names (any modality's). ValueError otherwise."""
    text = selection.strip()
    modality = task_modality(task)
    keyword = {ALL: list_corruptions(COMMON) + (list_corruptions(modality) if modality else []),
               COMMON: list_corruptions(COMMON), MODALITY: list_corruptions(modality) if modality else [],
               NONE: []}
    if text in keyword:
        return tuple(keyword[text])
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in CORRUPTIONS]
    if unknown or not names:
        raise ValueError(f"unknown corruption {unknown[0] if unknown else text!r}; expected one of "
                         f"{', '.join(SELECTIONS)} or a comma list of: {', '.join(CORRUPTIONS.names())}")
    return tuple(dict.fromkeys(names))


def _register(name, family, modality, parameters, code, meaning, function=None):
    register_corruption(CorruptionSpec(name, family, modality, tuple(float(p) for p in parameters),
                                       function or f"{_CODE}.{family if modality == COMMON else modality}:{name}",
                                       code, meaning))


# the one table: name, family, modality, parameters at severities 1-5, stream code, what the parameter means
_register("gaussian_noise", "noise", COMMON, (0.04, 0.06, 0.08, 0.10, 0.13), 1,
          "standard deviation of additive Gaussian noise")
_register("shot_noise", "noise", COMMON, (1 / 120, 1 / 60, 1 / 30, 1 / 15, 1 / 8), 2,
          "1 / photons per unit intensity (Poisson noise: x ~ Poisson(x / p) * p)")
_register("impulse_noise", "noise", COMMON, (0.01, 0.02, 0.04, 0.07, 0.11), 3,
          "fraction of pixels set to 0 or 1 (salt and pepper)")
_register("defocus_blur", "blur", COMMON, (3 / 224, 4 / 224, 6 / 224, 8 / 224, 10 / 224), 4,
          "radius of the disk kernel, fraction of the image side (ImageNet-C's 3-10 px at 224)")
_register("motion_blur", "blur", COMMON, (0.03, 0.045, 0.06, 0.075, 0.09), 5,
          "length of the line kernel (random angle per point), fraction of the image side")
_register("jpeg", "digital", COMMON, (1.0, 2.0, 3.33, 5.0, 7.14), 6,
          "scale of the JPEG quantisation tables (libjpeg quality 50, 25, 15, 10, 7), 4:2:0 chroma for RGB")
_register("pixelate", "digital", COMMON, (0.25, 0.4, 0.5, 0.6, 0.7), 7,
          "1 - the downscale factor (area average, nearest-neighbour back up)")
_register("brightness", "digital", COMMON, (0.08, 0.16, 0.24, 0.32, 0.40), 8,
          "intensity added to every pixel")
_register("contrast", "digital", COMMON, (0.25, 0.4, 0.55, 0.7, 0.8), 9,
          "1 - the factor on each image's deviation from its mean")
_register("hair", "artefact", DERMOSCOPY, (2, 4, 7, 11, 16), 101,
          "dark curved hair strands per image")
_register("ruler_ink", "artefact", DERMOSCOPY, (0.2, 0.35, 0.5, 0.65, 0.8), 102,
          "opacity of a ruler along one edge and two violet ink marks")
_register("vignetting", "artefact", DERMOSCOPY, (0.2, 0.35, 0.5, 0.65, 0.8), 103,
          "darkening at the corners (radial falloff of the dermatoscope's lens)")
_register("uneven_illumination", "artefact", FUNDUS, (0.15, 0.25, 0.35, 0.45, 0.6), 201,
          "amplitude of a smooth random gain field")
_register("haze", "artefact", FUNDUS, (0.1, 0.2, 0.3, 0.4, 0.5), 202,
          "weight of a bright blurred veil (media opacity, cataract)")
_register("lens_artefacts", "artefact", FUNDUS, (0.15, 0.25, 0.35, 0.5, 0.65), 203,
          "amplitude of soft dust specks and a flare on the lens")
_register("burn_in", "artefact", CHEST_XRAY, (1, 2, 3, 4, 5), 301,
          "lines of burnt-in text in the corners, with a side marker")
_register("wires_pins", "artefact", CHEST_XRAY, (1, 2, 3, 4, 6), 302,
          "bright wires (ECG leads, lines) and pins per image")
_register("gamma_window", "artefact", CHEST_XRAY, (0.1, 0.2, 0.3, 0.4, 0.5), 303,
          "strength of a random gamma and window shift (log-gamma and window edges)")
_register("grid_lines", "artefact", CHEST_XRAY, (0.05, 0.1, 0.15, 0.2, 0.3), 304,
          "depth of anti-scatter grid lines")
