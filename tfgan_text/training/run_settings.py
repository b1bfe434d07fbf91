"""What every run's settings share: resuming with the saved architecture, range checks."""

import dataclasses

from tfgan_text.errors import UserError


def flag(name):
    """The command-line spelling of a settings field: `batch_size` -> `batch-size`."""
    return name.replace("_", "-")


class RunSettings:
    """Base of the dataclasses that define a run and are saved as its `run.json`.

    `ARCHITECTURE` names the fields that a resumed run must keep; the others (e.g. `epochs`)
    may change when a run is resumed.
    """

    ARCHITECTURE = ()
    # Fields added after runs had been saved without them, with the value those runs were
    # trained with (which is not always today's default).
    FORMER_VALUES = {}

    @classmethod
    def saved(cls, settings):
        """A run's saved `run.json` settings, completed with `FORMER_VALUES` for fields it predates."""
        return {**cls.FORMER_VALUES, **settings}

    def check_positive(self, names):
        """Raises `UserError` unless each field in `names` is an int > 0."""
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise UserError(f"{flag(name)} must be a positive integer, got {value!r}")

    def check_choice(self, name, choices):
        """Raises `UserError` unless field `name` is one of `choices`."""
        value = getattr(self, name)
        if value not in choices:
            raise UserError(f"{flag(name)} must be one of {', '.join(choices)}, got {value!r}")

    def resumed_from(self, saved, given):
        """The saved settings, with the training fields the user `given` explicitly."""
        saved = self.saved(saved)
        for name in self.ARCHITECTURE:
            if name in given and given[name] != saved.get(name):
                raise UserError(
                    f"the run was trained with {flag(name)}={saved.get(name)!r}, not {given[name]!r}: "
                    "a checkpoint of another architecture cannot be resumed"
                )
        known = {field.name for field in dataclasses.fields(self)}
        merged = {**{k: v for k, v in saved.items() if k in known}, **given}
        return type(self)(**merged).check()
