"""The settings of a captioner run: every flag of `tfgan-text train captioner`."""

import dataclasses

from tfgan_text.errors import UserError
from tfgan_text.models.network_options import DOWNSAMPLINGS, POOLINGS
from tfgan_text.training.run_settings import RunSettings, setting

LEARNING_RATE_DECAYS = ("constant", "cosine")
MODES = ("mle", "seqgan", "gumbel")
BASELINES = ("mean", "greedy", "none")


@dataclasses.dataclass
class CaptionerSettings(RunSettings):
    """Everything that defines a captioner run; saved as `run.json` in the run directory.

    An adversarial run (`mode` seqgan or gumbel) takes its architecture and vocabulary from
    the MLE run named by `init_from`. Defaults are sized for a 2-core CPU and the built-in
    shapes.
    """

    # data
    data: str = setting("shapes", "'shapes' (built in) or a dataset path")
    format: str = setting("auto", "layout of --data: auto, cub, oxford102, coco, karpathy, flickr8k, idx, folder, ...")
    seed: int = setting(0, "seed of the built-in dataset, of the data order and of every random draw in training")
    mode: str = setting("mle", "mle: maximum likelihood; seqgan, gumbel: adversarial, from an MLE run", choices=MODES)
    init_from: str | None = setting(None, "seqgan, gumbel: the MLE run directory the adversarial run starts from")
    # architecture
    image_size: int = setting(64, "side of the square images")
    embedding_dim: int = setting(128, "word embedding width")
    hidden_dim: int = setting(256, "LSTM width")
    encoder_filters: tuple[int, ...] = setting((32, 64, 128, 256), "filters of the CNN's blocks, one number per block")
    encoder_pooling: str = setting("average", "how the CNN's last map becomes one feature", choices=POOLINGS)
    encoder_downsampling: str = setting("max_pool", "CNN blocks halve maps by strided 4x4 or by 3x3 + max pooling",
                                        choices=DOWNSAMPLINGS)
    encoder_coordinates: bool = setting(True, "row and column channels into every CNN block (CoordConv)")
    attention_heads: int = setting(4, "heads of the decoder's attention over the CNN's regions; 0: none (Show and Tell)")
    max_length: int = setting(32, "token ids per caption")
    min_count: int = setting(1, "words seen fewer times in the training captions are unknown")
    dropout: float = setting(0.0, "dropout before the token scores")
    # training
    epochs: int = setting(10, "epochs")
    steps_per_epoch: int | None = setting(None, "batches per epoch; default: one pass over the training split")
    batch_size: int = setting(64, "global batch size")
    learning_rate: float | None = setting(None, "G's rate; default 1e-3 for mle, 1e-4 adversarial")
    learning_rate_decay: str = setting("cosine", "mle: constant, or cosine decay to 5% over the epochs",
                                       choices=LEARNING_RATE_DECAYS)
    checkpoint_every: int = setting(200, "steps between checkpoints (also one at each epoch's end)")
    # adversarial (seqgan, gumbel)
    d_learning_rate: float = setting(1e-4, "seqgan, gumbel: the discriminator's rate")
    d_pretrain_epochs: int = setting(1, "seqgan, gumbel: epochs of D alone first")
    d_steps: int = setting(1, "seqgan, gumbel: D updates per G update")
    mle_weight: float = setting(1.0, "seqgan, gumbel: weight of the MLE term in G's loss")
    rollouts: int = setting(16, "seqgan: Monte Carlo rollouts per prefix")
    baseline: str = setting("mean", "seqgan: the reward baseline", choices=BASELINES)
    rollout_update_rate: float | None = setting(
        None, "seqgan: rollouts by a lagged copy of G updated at this rate (SeqGAN: 0.8); default: G itself")
    entropy_weight: float = setting(0.0, "seqgan: weight of the entropy bonus on G's next-token distributions")
    temperature_initial: float = setting(1.0, "gumbel: the softmax temperature at the start")
    temperature_min: float = setting(0.1, "gumbel: the temperature's floor")
    temperature_decay: float = setting(1e-4, "gumbel: exponential decay of the temperature per step")

    VERB = "captioner"
    ARCHITECTURE = ("mode", "image_size", "embedding_dim", "hidden_dim", "encoder_filters", "encoder_pooling",
                    "encoder_downsampling", "encoder_coordinates", "attention_heads", "max_length", "min_count")
    DATASET = ("data", "format", "seed")
    # What runs saved before these fields existed were trained with.
    FORMER_VALUES = {"encoder_downsampling": "strided", "encoder_coordinates": False, "learning_rate_decay": "constant",
                     "attention_heads": 0}
    # Taken from the MLE run an adversarial run starts from.
    INHERITED = ("data", "format", "seed", "image_size", "embedding_dim", "hidden_dim", "encoder_filters",
                 "encoder_pooling", "encoder_downsampling", "encoder_coordinates", "attention_heads", "max_length",
                 "min_count", "dropout")

    def __post_init__(self):
        super().__post_init__()
        self.encoder_filters = tuple(self.encoder_filters)

    def check(self):
        self.check_positive(("image_size", "embedding_dim", "hidden_dim", "max_length", "min_count", "epochs",
                             "batch_size", "checkpoint_every", "d_steps", "rollouts"))
        self.check_choices()
        if self.mode == "seqgan" and self.jit_compile:
            raise UserError("--jit-compile cannot compile SeqGAN's rollouts (their batch shrinks as captions end); "
                            "leave it off, or use --mode gumbel")
        if self.steps_per_epoch is not None:
            self.check_positive(("steps_per_epoch",))
        if len(self.encoder_filters) < 2 or any(not isinstance(f, int) or f <= 0 for f in self.encoder_filters):
            raise UserError(f"encoder-filters must be at least 2 positive integers, got {list(self.encoder_filters)}")
        if isinstance(self.attention_heads, bool) or not isinstance(self.attention_heads, int) \
                or self.attention_heads < 0 or self.hidden_dim % max(self.attention_heads, 1):
            raise UserError(f"attention-heads must be an integer >= 0 that divides hidden-dim {self.hidden_dim}, "
                            f"got {self.attention_heads!r}")
        self.check_range(("dropout",), 0.0, 1.0)
        for name in ("learning_rate", "rollout_update_rate"):
            if getattr(self, name) is not None:
                self.check_range((name,), 0.0, 1.0 if name == "rollout_update_rate" else None, low_open=True,
                                 high_open=False)
        self.check_range(("d_learning_rate", "temperature_initial", "temperature_min"), 0.0, low_open=True)
        self.check_range(("entropy_weight", "mle_weight", "temperature_decay"), 0.0)
        if isinstance(self.d_pretrain_epochs, bool) or not isinstance(self.d_pretrain_epochs, int) \
                or self.d_pretrain_epochs < 0:
            raise UserError(f"d-pretrain-epochs must be an integer >= 0, got {self.d_pretrain_epochs!r}")
        return self

    @property
    def generator_learning_rate(self):
        """`learning_rate`, by default 1e-3 for MLE and 1e-4 to fine-tune adversarially."""
        if self.learning_rate is not None:
            return self.learning_rate
        return 1e-3 if self.mode == "mle" else 1e-4

