"""The settings of an AttnGAN run: every flag of `tfgan-text train attngan`."""

import dataclasses

from tfgan_text.errors import UserError
from tfgan_text.models.network_options import ATTNGAN_BASE_SIZES as BASE_SIZES
from tfgan_text.models.network_options import ATTNGAN_MAX_STAGES as MAX_STAGES
from tfgan_text.training.run_settings import RunSettings, flag, setting


@dataclasses.dataclass
class AttnGANSettings(RunSettings):
    """Everything that defines an AttnGAN run; saved as `run.json` in the run directory.

    The defaults are the paper's networks (Xu et al. 2018: three stages 64/128/256, z and the
    conditioned code 100 each, ngf 32, ndf 64, lambda 5); `--preset attngan-shapes` sizes them
    for a 2-core CPU. The DAMSM encoders come from `--damsm RUN` (a `train damsm` run) or,
    without it, from a DAMSM run of preset `--damsm-preset` trained first in `RUN/damsm`.
    """

    # data
    data: str = setting("shapes", "'shapes' (built in) or a dataset path")
    format: str = setting("auto", "layout of --data: auto, cub, oxford102, coco, karpathy, flickr8k, idx, folder, ...")
    seed: int = setting(0, "seed of the built-in data, the weights, the noise and the batches")
    # the DAMSM it is guided by
    damsm: str | None = setting(None, "a finished `train damsm` run whose frozen encoders G reads and is judged by")
    damsm_preset: str = setting("quick", "without --damsm: the `train damsm` preset of the run trained first in RUN/damsm")
    # networks
    base_size: int = setting(64, "side of the first stage's images (AttnGAN: 64)")
    stages: int = setting(3, "number of stages; each doubles the side (AttnGAN: 3, 64/128/256)")
    latent_dim: int = setting(100, "size of the noise z")
    condition_dim: int = setting(100, "size of conditioning augmentation's code")
    ngf: int = setting(32, "channels of G's attentional stages (AttnGAN: 32)")
    ndf: int = setting(64, "width of each discriminator's first convolution (AttnGAN: 64)")
    residual_blocks: int = setting(2, "residual blocks per attentional stage (AttnGAN: 2)")
    # losses
    damsm_weight: float = setting(5.0, "lambda: weight of the DAMSM loss of the last stage's images (AttnGAN: 5 birds, 50 COCO)")
    kl_weight: float = setting(1.0, "weight of conditioning augmentation's KL term")
    # training
    epochs: int = setting(600, "epochs of the GAN")
    steps_per_epoch: int | None = setting(None, "batches per epoch; default: one pass over the training split")
    batch_size: int = setting(20, "global batch size (AttnGAN birds: 20)")
    learning_rate: float = setting(2e-4, "Adam's rate for G and the discriminators")
    beta_1: float = setting(0.5, "Adam's beta1")
    checkpoint_every: int = setting(200, "steps between checkpoints (also one at each epoch's end)")

    VERB = "attngan"
    ARCHITECTURE = ("damsm", "damsm_preset", "base_size", "stages", "latent_dim", "condition_dim", "ngf", "ndf",
                    "residual_blocks")
    DATASET = ("data", "format", "seed")

    @property
    def image_size(self):
        """The last stage's image side."""
        return self.base_size * 2 ** (self.stages - 1)

    def check(self):
        self.check_positive(("latent_dim", "condition_dim", "ngf", "ndf", "epochs", "batch_size"))
        if self.steps_per_epoch is not None:
            self.check_positive(("steps_per_epoch",))
        for name in ("residual_blocks", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise UserError(f"{flag(name)} must be an integer >= 0, got {value!r}")
        if self.base_size not in BASE_SIZES:
            raise UserError(f"base-size must be one of {', '.join(map(str, BASE_SIZES))}, got {self.base_size!r}")
        if self.stages not in range(1, MAX_STAGES + 1):
            raise UserError(f"stages must be in [1, {MAX_STAGES}], got {self.stages!r}")
        self.check_range(("damsm_weight", "kl_weight"), 0.0)
        self.check_range(("learning_rate",), 0.0, low_open=True)
        self.check_range(("beta_1",), 0.0, 1.0)
        if self.damsm is None:
            self._check_damsm_preset()
        return self

    def _check_damsm_preset(self):
        """The DAMSM this run would train first must be trainable as it stands (a backbone
        preset needs the user's weights file: train it alone and pass --damsm)."""
        from tfgan_text.training.damsm_settings import DAMSMSettings

        try:
            DAMSMSettings.from_given({"preset": self.damsm_preset, "data": self.data, "format": self.format,
                                      "seed": self.seed})
        except UserError as error:
            raise UserError(f"damsm-preset {self.damsm_preset}: {error}; train it with `tfgan-text train damsm` "
                            "and pass --damsm RUN") from None
