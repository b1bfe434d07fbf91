"""What every run's settings share: fields with their help, presets, resuming, range checks.

A run's settings are one dataclass per `train` verb (`DCGANSettings`, `CaptionerSettings`):
the single source of the command-line flags (`tfgan_text.cli` makes one flag per field, with
the help text kept beside the field), of `run.json`, and of the presets that rebuild the
shipped models (`tfgan_text.presets`).
"""

import copy
import dataclasses
import os

from tfgan_text import presets
from tfgan_text.errors import UserError


# Keras dtype policies of `--mixed-precision` (`off`: float32); see `tfgan_text.training.precision`.
PRECISIONS = ("off", "mixed_float16", "mixed_bfloat16")


def flag(name):
    """The command-line spelling of a settings field: `batch_size` -> `batch-size`."""
    return name.replace("_", "-")


def setting(default, help, choices=None):
    """A settings field with its command-line help and, where the values are few, their choices."""
    metadata = {"help": help, "choices": tuple(choices) if choices else None}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass
class RunSettings:
    """Base of the dataclasses that define a run and are saved as its `run.json`.

    `VERB` names the presets of the subclass (`tfgan_text.presets`). `ARCHITECTURE` names the
    fields that a resumed run must keep (a checkpoint of another architecture cannot be
    restored); `DATASET` those that define its data and vocabulary, which it must keep too;
    the others (e.g. `epochs`) may change when a run is resumed.
    """

    preset: str | None = setting(None, "a named recipe (see the choices); flags given with it override its values")
    mixed_precision: str = setting("off", "compute in 16 bits, keep float32 weights, outputs and losses (GPUs; "
                                   "mixed_float16 scales the loss)", choices=PRECISIONS)
    jit_compile: bool = setting(False, "compile each training step with XLA")

    VERB = None
    # A checkpoint holds the optimizer state of its precision (float16's loss scale).
    RESUMED_AS_SAVED = ("mixed_precision",)
    ARCHITECTURE = ()
    DATASET = ()
    # Fields added after runs had been saved without them, with the value those runs were
    # trained with (which is not always today's default).
    FORMER_VALUES = {}
    # The same for the fields every verb has: earlier runs trained in float32, without XLA.
    SHARED_FORMER_VALUES = {"mixed_precision": "off", "jit_compile": False}

    def __post_init__(self):
        if self.mixed_precision not in PRECISIONS:
            raise UserError(f"mixed-precision must be one of {', '.join(PRECISIONS)}, got {self.mixed_precision!r}")
        if not isinstance(self.jit_compile, bool):
            raise UserError(f"jit-compile must be true or false, got {self.jit_compile!r}")

    @classmethod
    def with_preset(cls, given):
        """The settings `given`, over the values of the preset they name (if any)."""
        return {**presets.preset_settings(cls.VERB, given.get("preset")), **given}

    @classmethod
    def from_given(cls, given):
        """Settings of a new run: the defaults, then the named `preset`'s values, then `given`."""
        return cls(**cls.with_preset(given)).check()

    @classmethod
    def saved(cls, settings):
        """A run's saved `run.json` settings, completed with `FORMER_VALUES` for fields it predates."""
        return {**RunSettings.SHARED_FORMER_VALUES, **cls.FORMER_VALUES, "preset": None, **settings}

    @classmethod
    def field_choices(cls, field):
        """The values a field may take, or None: a field's own choices, the verb's preset names."""
        if field.name == "preset":
            return tuple(presets.preset_names(cls.VERB))
        return field.metadata.get("choices")

    def check_positive(self, names):
        """Raises `UserError` unless each field in `names` is an int > 0."""
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise UserError(f"{flag(name)} must be a positive integer, got {value!r}")

    def check_range(self, names, low, high=None, low_open=False, high_open=True):
        """Raises `UserError` unless each field in `names` is a number from `low` to `high`
        (None: no bound), each end open or closed as given."""
        for name in names:
            value = getattr(self, name)
            fits = not isinstance(value, bool) and isinstance(value, (int, float))
            fits = fits and (value > low if low_open else value >= low)
            fits = fits and (high is None or (value < high if high_open else value <= high))
            if not fits and high is None:
                raise UserError(f"{flag(name)} must be a number {'>' if low_open else '>='} {low:g}, got {value!r}")
            if not fits:
                raise UserError(f"{flag(name)} must be a number in {'(' if low_open else '['}{low:g}, "
                                f"{high:g}{')' if high_open else ']'}, got {value!r}")

    def check_choices(self):
        """Raises `UserError` unless every field with choices holds one of them (the preset is
        checked when it is looked up: a resumed run may name one that is gone)."""
        for field in dataclasses.fields(self):
            choices = field.metadata.get("choices")
            if choices and getattr(self, field.name) not in choices:
                raise UserError(f"{flag(field.name)} must be one of {', '.join(choices)}, "
                                f"got {getattr(self, field.name)!r}")

    def resumed_from(self, saved, given):
        """The saved settings, with the training fields the user `given` explicitly.

        Raises `UserError` when `given` changes an architecture or dataset field, or names
        another preset: the run's checkpoints and vocabulary belong to what it was started with.
        """
        saved = self.saved(saved)
        reasons = {**{name: "a checkpoint of another architecture cannot be resumed"
                      for name in (*self.ARCHITECTURE, *self.RESUMED_AS_SAVED)},
                   **{name: "a run goes on with the data and vocabulary it was started on" for name in self.DATASET},
                   "preset": "a run keeps the preset it was started from (give other values as flags)"}
        for name, reason in reasons.items():
            if name in given and not _same_value(name, given[name], saved.get(name)):
                raise UserError(f"the run was trained with {flag(name)}={saved.get(name)!r}, not {given[name]!r}: {reason}")
        known = {field.name for field in dataclasses.fields(self)}
        merged = {**{k: v for k, v in saved.items() if k in known}, **given}
        return type(self)(**merged).check()


def _same_value(name, given, saved):
    """Whether a resumed run's `given` value is its `saved` one; `data` paths are compared as files."""
    if name == "data" and isinstance(given, str) and isinstance(saved, str) and given != saved:
        return os.path.exists(given) and os.path.exists(saved) and os.path.samefile(given, saved)
    return given == saved
