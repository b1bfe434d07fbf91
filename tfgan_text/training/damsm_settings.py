"""The settings of a DAMSM pretraining run: every flag of `tfgan-text train damsm`."""

import dataclasses
import os

from tfgan_text.errors import UserError
from tfgan_text.training.run_settings import RunSettings, flag, setting

IMAGE_SIZES = (32, 64, 128, 256, 299)
RNN_TYPES = ("lstm", "gru")
BACKBONE_FIELDS = ("backbone_weights", "backbone_region_layer", "backbone_image_size")


@dataclasses.dataclass
class DAMSMSettings(RunSettings):
    """Everything that defines a DAMSM run (AttnGAN's text and image encoders, Xu et al. 2018);
    saved as `run.json` in the run directory.

    Defaults are AttnGAN's DAMSM (bi-LSTM over 300-d words to 256-d features, gamma1 4,
    gamma2 5, gamma3 10, batch 48, Adam 0.002 with beta1 0.5) with a small CNN as the image
    encoder; `--preset attngan-cub` gives the paper's frozen Inception-v3.
    """

    # data
    data: str = setting("shapes", "'shapes' (built in) or a dataset path")
    format: str = setting("auto", "layout of --data: auto, cub, oxford102, coco, karpathy, flickr8k, idx, folder, ...")
    seed: int = setting(0, "seed of the built-in dataset, of the data order and of every random draw in training")
    random_crop: bool = setting(False, "upscale training images by 76/64 and crop back at random (AttnGAN)")
    flip: bool = setting(False, "random horizontal flips (AttnGAN; not on shapes: its captions name left and right)")
    # text encoder
    image_size: int = setting(64, "side of the square images: 32, 64, 128, 256 or 299 (shapes: 32, 64 or 128)")
    text_embedding_dim: int = setting(300, "word embedding width of the bi-RNN text encoder (AttnGAN: 300)")
    text_hidden_dim: int = setting(256, "width E of the word, sentence, region and global features (AttnGAN: 256)")
    rnn_type: str = setting("lstm", "the text encoder's bidirectional RNN", choices=RNN_TYPES)
    max_length: int = setting(32, "tokens per caption, longer ones are cut")
    min_count: int = setting(1, "words seen fewer times in the training captions are unknown")
    # image encoder
    image_encoder: str = setting(
        "cnn", "cnn (a small CNN trained from scratch) or a keras.applications network kept frozen, e.g. "
        "InceptionV3 (AttnGAN), MobileNetV2, ResNet50")
    image_encoder_filters: list[int] = setting(
        [32, 64, 128, 256], "cnn: widths of its stride-2 blocks; the map before the last block gives the regions")
    backbone_weights: str | None = setting(
        None, "the backbone's weights file without its top (include_top=False); needed with a backbone, nothing is downloaded")
    backbone_region_layer: str | None = setting(
        None, "the backbone layer whose map gives the regions (default for InceptionV3: mixed7, AttnGAN's Mixed_6e)")
    backbone_image_size: int | None = setting(
        None, "side the backbone reads, images are resized to it (AttnGAN: 299); default: --image-size")
    # losses
    gamma1: float = setting(4.0, "word loss: sharpness of each word's attention over the regions (AttnGAN: 4)")
    gamma2: float = setting(5.0, "word loss: how much a caption's score favours its best-matched words (AttnGAN: 5)")
    gamma3: float = setting(10.0, "softmax scale of the word and sentence losses over the batch (AttnGAN: 10)")
    word_weight: float = setting(1.0, "weight of the word loss beside the sentence loss (AttnGAN: 1)")
    # training
    epochs: int = setting(10, "epochs (AttnGAN: 600 on CUB)")
    steps_per_epoch: int | None = setting(None, "batches per epoch; default: one pass over the training split")
    batch_size: int = setting(48, "global batch size: the negatives of each pair are the batch's others (AttnGAN: 48)")
    learning_rate: float = setting(0.002, "Adam's rate (AttnGAN's DAMSM: 0.002)")
    beta_1: float = setting(0.5, "Adam's beta1 (AttnGAN: 0.5)")
    checkpoint_every: int = setting(200, "steps between checkpoints (also one at each epoch's end)")

    VERB = "damsm"
    ARCHITECTURE = ("image_size", "text_embedding_dim", "text_hidden_dim", "rnn_type", "max_length", "min_count",
                    "image_encoder", "image_encoder_filters", "backbone_region_layer", "backbone_image_size")
    DATASET = ("data", "format", "seed")

    def check(self):
        self.check_positive(("image_size", "text_embedding_dim", "text_hidden_dim", "max_length", "min_count", "epochs",
                             "batch_size"))
        if self.steps_per_epoch is not None:
            self.check_positive(("steps_per_epoch",))
        if isinstance(self.checkpoint_every, bool) or not isinstance(self.checkpoint_every, int) or self.checkpoint_every < 0:
            raise UserError(f"checkpoint-every must be an integer >= 0, got {self.checkpoint_every!r}")
        self.check_range(("gamma1", "gamma2", "gamma3", "learning_rate"), 0.0, low_open=True)
        self.check_range(("word_weight",), 0.0)
        self.check_range(("beta_1",), 0.0, 1.0)
        self.check_choices()
        if self.image_size not in IMAGE_SIZES:
            raise UserError(f"image size must be one of {', '.join(map(str, IMAGE_SIZES))}, got {self.image_size}")
        if self.text_hidden_dim % 2:
            raise UserError(f"text-hidden-dim must be even (it is split between two directions), got {self.text_hidden_dim}")
        if self.image_encoder == "cnn":
            self._check_cnn()
        else:
            self._check_backbone()
        return self

    def _check_cnn(self):
        for name in BACKBONE_FIELDS:
            if getattr(self, name) is not None:
                raise UserError(f"{flag(name)} applies to a keras.applications image encoder, not cnn")
        filters = self.image_encoder_filters
        if (not isinstance(filters, (list, tuple)) or len(filters) < 2
                or any(isinstance(f, bool) or not isinstance(f, int) or f <= 0 for f in filters)):
            raise UserError(f"image-encoder-filters must be two or more positive integers, got {filters!r}")

    def _check_backbone(self):
        from tfgan_text.models.backbone_image_encoder import DEFAULT_REGION_LAYERS, check_backbone_name

        check_backbone_name(self.image_encoder)
        path = self.backbone_weights
        if path is None:
            raise UserError(f"image-encoder {self.image_encoder} needs --backbone-weights FILE (its weights without "
                            "the top; nothing is downloaded)")
        if not os.path.isfile(path) or not os.access(path, os.R_OK):
            raise UserError(f"backbone-weights: no readable file {path}")
        if self.backbone_region_layer is None and self.image_encoder not in DEFAULT_REGION_LAYERS:
            raise UserError(f"image-encoder {self.image_encoder} needs --backbone-region-layer NAME (the layer whose "
                            "map gives the regions)")
        if self.backbone_image_size is not None:
            self.check_positive(("backbone_image_size",))
