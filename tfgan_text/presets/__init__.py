"""Named recipes for `tfgan-text train VERB --preset NAME`: one per shipped model, one per
paper, and `quick` (the README's first command).

A preset is a description and the settings it changes from the defaults of the verb's settings
dataclass; flags given with `--preset` override its values, and the run records the preset's
name in `run.json`. `tfgan-text train dcgan --preset shapes-demo --out RUN` followed by
`tfgan-text export RUN --name dcgan_shapes` rebuilds the shipped demo.
"""

from tfgan_text.errors import UserError
from tfgan_text.presets import attngan, captioner, damsm, dcgan

# The presets of each `train` verb (`train text-encoder` is stage 1 of a dcgan run).
PRESETS = {"dcgan": dcgan.PRESETS, "captioner": captioner.PRESETS, "attngan": attngan.PRESETS,
           "damsm": damsm.PRESETS}


def preset_names(verb):
    """The names of the presets of a settings verb ("dcgan", "captioner")."""
    return sorted(PRESETS.get(verb, {}))


def preset_settings(verb, name):
    """The settings preset `name` of `verb` changes (a copy); {} for None."""
    if name is None:
        return {}
    if name not in PRESETS.get(verb, {}):
        raise UserError(f"unknown preset {name!r} for train {verb}; choose one of {', '.join(preset_names(verb))}")
    return {key: list(value) if isinstance(value, list) else value for key, value in PRESETS[verb][name]["settings"].items()}


def preset_description(verb, name):
    """One paragraph on what preset `name` of `verb` is and where it comes from."""
    preset_settings(verb, name)  # a clear error for an unknown name
    return PRESETS[verb][name]["description"]
