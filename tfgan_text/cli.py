"""The `tfgan-text` command line: one sub-command per verb.

Bad input (a missing path, an unknown format, a corrupt file, a bad option) ends with one
line on stderr and exit status 2, never a traceback.
"""

import argparse
import os
import sys

from tfgan_text.errors import UserError


def _on_off(text):
    if text not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"expected on or off, got {text!r}")
    return text == "on"


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _add_data_arguments(parser):
    parser.add_argument("--data", default="shapes", help="'shapes' (built in, the default) or a dataset path")
    parser.add_argument("--format", default="auto", help="layout of --data: auto, cub, oxford102, coco, ...")
    parser.add_argument("--split", default="train", help="train, val, test (shapes also: compositional)")
    parser.add_argument("--image-size", type=_positive_int, default=64, help="side of the square images")
    parser.add_argument("--seed", type=int, default=0, help="seed of the built-in dataset and of sampling")


def _data_preview(args):
    """Writes a grid of dataset images with one of their captions under each."""
    import numpy as np

    from tfgan_text import data
    from tfgan_text.image_grid import image_grid

    dataset = data.load(args.data, split=args.split, image_size=args.image_size, format=args.format, seed=args.seed)
    images, captions = [], []
    for example in dataset.take(args.n).as_numpy_iterator():
        images.append(example["image"])
        captions.append(example["captions"][0].decode("utf-8"))
    if not images:
        raise UserError(f"the {args.split!r} split of {args.data!r} has no examples")
    _ensure_parent(args.out)
    image_grid(np.stack(images), captions).save(args.out)
    print(f"wrote {args.out}: {len(images)} images of {args.data!r} ({args.split}) with a caption each")


def _add_train_arguments(parser):
    """Flags of every `train` command; unset flags keep the defaults, or a resumed run's values."""
    parser.add_argument("--data", default=None, help="'shapes' (built in, the default) or a dataset path")
    parser.add_argument("--format", default=None, help="layout of --data: auto, cub, oxford102, coco, ...")
    parser.add_argument("--out", required=True, help="run directory (checkpoints, samples, logs)")
    parser.add_argument("--epochs", type=_positive_int, default=None)
    parser.add_argument("--steps-per-epoch", type=_positive_int, default=None, help="default: one pass over the data")
    parser.add_argument("--batch-size", type=_positive_int, default=None)
    parser.add_argument("--image-size", type=_positive_int, default=None, help="32, 64 (default) or 128")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--strategy", default="auto", help="auto, mirrored, one_device or multi_worker")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")


def _add_text_encoder_arguments(parser):
    parser.add_argument("--text-encoder", default=None, help="word_rnn (default) or char_cnn_rnn")
    parser.add_argument("--text-encoder-epochs", type=_positive_int, default=None, help="epochs of stage 1")
    parser.add_argument("--text-encoder-word-weight", type=float, default=None,
                        help="weight of DAMSM's word loss beside stage 1's sentence loss (AttnGAN: 1; 0: off)")


def _add_dcgan_arguments(parser):
    parser.add_argument("--ngf", type=_positive_int, default=None, help="generator width")
    parser.add_argument("--ndf", type=_positive_int, default=None, help="discriminator width")
    parser.add_argument("--loss", default=None, choices=("gan_cls", "hinge"))
    parser.add_argument("--label-smoothing", type=float, default=None, help="one-sided: real target 1 - s")
    parser.add_argument("--discriminator", default=None, choices=("dcgan", "encoder_features"),
                        help="D on pixels (Reed) or heads on stage 1's frozen image encoder (Projected GAN)")
    parser.add_argument("--discriminator-levels", type=_positive_int, default=None,
                        help="encoder_features: how many of the image encoder's last maps D reads (3)")
    parser.add_argument("--discriminator-patch-weight", type=float, default=None,
                        help="encoder_features: weight of an unconditional patch head's GAN loss (PatchGAN; 0: off)")
    parser.add_argument("--discriminator-fine-tune", action="store_const", const=True, default=None,
                        help="encoder_features: D's copy of stage 1's image encoder trains with its heads")
    parser.add_argument("--spectral-norm", action="store_const", const=True, default=None)
    parser.add_argument("--projection-discriminator", action="store_const", const=True, default=None,
                        help="add the projection term (image features . text) to D's logit")
    parser.add_argument("--generator-upsampling", default=None, choices=("transposed", "resize"),
                        help="G's blocks double maps by 4x4 transposed convolutions or nearest resize + 3x3")
    parser.add_argument("--generator-conditioning", default=None, choices=("input", "batch_norm"),
                        help="noise and caption enter G's first layer only, or also set every block's batch norm")
    parser.add_argument("--generator-attention-sizes", type=_positive_int, nargs="+", default=None, metavar="SIZE",
                        help="sizes of G's maps (e.g. 16) where word attention (AttnGAN) reads the caption's words")
    parser.add_argument("--captions-per-image", type=_positive_int, default=None, help="condition averaged over K captions")
    parser.add_argument("--no-gan-int", dest="gan_int", action="store_const", const=False, default=None)
    parser.add_argument("--interpolation-beta", type=float, default=None, help="GAN-INT beta (0.5)")
    parser.add_argument("--matching-weight", type=float, default=None,
                        help="weight of the DAMSM sentence loss in G's loss, through stage 1's image encoder (0: off)")
    parser.add_argument("--matching-shape-negatives", type=int, default=None,
                        help="shapes data: shape-swapped captions per caption, hard negatives of that loss")
    parser.add_argument("--matching-color-negatives", type=int, default=None,
                        help="shapes data: colour-swapped captions per caption, hard negatives of that loss")
    parser.add_argument("--matching-position-negatives", type=int, default=None,
                        help="shapes data: captions with a place word swapped for its opposite (left/right, top/bottom)")
    parser.add_argument("--matching-word-weight", type=float, default=None,
                        help="weight of DAMSM's word loss beside the sentence loss in G's matching term (AttnGAN: 1)")
    parser.add_argument("--matching-word-negatives", action="store_const", const=True, default=None,
                        help="the matching loss's hard negatives also enter its word loss")
    parser.add_argument("--reconstruction-weight", type=float, default=None,
                        help="weight of pix2pix's L1 distance of G(z, caption) to the caption's real image (0: off)")
    parser.add_argument("--image-matching-weight", type=float, default=None,
                        help="weight of XMC-GAN's image-image contrastive loss: G(z, caption) near its real image (0: off)")
    parser.add_argument("--augment-shift", type=float, default=None,
                        help="DiffAugment: shift images D and the matching loss see by up to this fraction of a side (0: off)")
    parser.add_argument("--augment-cutout", type=float, default=None,
                        help="DiffAugment: grey out a random square of this fraction of the side in images D sees (0: off)")
    parser.add_argument("--checkpoint-every", type=_positive_int, default=None, help="steps between checkpoints")


TRAIN_FLAGS = {
    "data", "format", "epochs", "steps_per_epoch", "batch_size", "image_size", "seed", "text_encoder",
    "text_encoder_epochs", "ngf", "ndf", "discriminator", "discriminator_levels", "discriminator_patch_weight",
    "discriminator_fine_tune",
    "loss", "label_smoothing", "spectral_norm", "projection_discriminator",
    "generator_upsampling", "generator_conditioning", "generator_attention_sizes", "captions_per_image",
    "gan_int", "interpolation_beta", "checkpoint_every", "matching_weight", "matching_shape_negatives",
    "matching_color_negatives", "matching_position_negatives", "matching_word_weight", "text_encoder_word_weight",
    "matching_word_negatives",
    "reconstruction_weight", "augment_shift", "augment_cutout", "image_matching_weight",
}


def _given_settings(args):
    return {name: value for name, value in vars(args).items() if name in TRAIN_FLAGS and value is not None}


def _train_dcgan(args):
    from tfgan_text.training.train_dcgan import train_dcgan

    train_dcgan(args.out, resume=args.resume, strategy=args.strategy, **_given_settings(args))
    print(f"trained: {os.path.join(args.out, 'model.keras')}; sample grids in {os.path.join(args.out, 'samples')}")


def _train_text_encoder(args):
    from tfgan_text.training.train_dcgan import train_text_encoder

    _, recall = train_text_encoder(args.out, resume=args.resume, strategy=args.strategy, **_given_settings(args))
    figures = ", ".join(f"{name} {value:.3f}" for name, value in recall.items()) or "no val split to measure on"
    print(f"text encoder: {os.path.join(args.out, 'text_encoder.keras')}; caption->image {figures}")


CAPTIONER_FLAGS = {
    "data", "format", "epochs", "steps_per_epoch", "batch_size", "image_size", "seed", "mode", "init_from",
    "embedding_dim", "hidden_dim", "encoder_downsampling", "encoder_coordinates", "attention_heads", "max_length",
    "dropout", "learning_rate", "learning_rate_decay", "checkpoint_every", "d_learning_rate",
    "d_pretrain_epochs", "d_steps", "mle_weight", "rollouts", "baseline", "rollout_update_rate", "entropy_weight",
    "temperature_initial", "temperature_min", "temperature_decay",
}


def _add_captioner_arguments(parser):
    parser.add_argument("--mode", default=None, choices=("mle", "seqgan", "gumbel"),
                        help="mle (default): maximum likelihood; seqgan, gumbel: adversarial, from an MLE run")
    parser.add_argument("--init-from", default=None, help="the MLE run an adversarial run starts from")
    parser.add_argument("--embedding-dim", type=_positive_int, default=None, help="word embedding width")
    parser.add_argument("--hidden-dim", type=_positive_int, default=None, help="LSTM width")
    parser.add_argument("--encoder-downsampling", default=None, choices=("strided", "max_pool"),
                        help="CNN blocks halve maps by strided 4x4 or by 3x3 + max pooling")
    parser.add_argument("--encoder-coordinates", default=None, type=_on_off,
                        help="on/off: row and column channels into every CNN block (CoordConv)")
    parser.add_argument("--attention-heads", type=int, default=None,
                        help="heads of the decoder's attention over the CNN's regions; 0: none (Show and Tell)")
    parser.add_argument("--max-length", type=_positive_int, default=None, help="ids per caption")
    parser.add_argument("--dropout", type=float, default=None, help="dropout before the token scores")
    parser.add_argument("--learning-rate", type=float, default=None, help="G's rate: 1e-3 for mle, 1e-4 adversarial")
    parser.add_argument("--learning-rate-decay", default=None, choices=("constant", "cosine"), help="mle: schedule")
    parser.add_argument("--checkpoint-every", type=_positive_int, default=None, help="steps between checkpoints")
    adversarial = parser.add_argument_group("adversarial modes (seqgan, gumbel)")
    adversarial.add_argument("--d-learning-rate", type=float, default=None, help="discriminator rate (1e-4)")
    adversarial.add_argument("--d-pretrain-epochs", type=int, default=None, help="epochs of D alone first (1)")
    adversarial.add_argument("--d-steps", type=_positive_int, default=None, help="D updates per G update (1)")
    adversarial.add_argument("--mle-weight", type=float, default=None, help="weight of the MLE term in G's loss (1.0)")
    adversarial.add_argument("--rollouts", type=_positive_int, default=None, help="seqgan: rollouts per prefix (16)")
    adversarial.add_argument("--baseline", default=None, choices=("mean", "greedy", "none"), help="seqgan: reward baseline")
    adversarial.add_argument("--rollout-update-rate", type=float, default=None,
                             help="seqgan: rollouts by a lagged copy of G updated at this rate (SeqGAN: 0.8)")
    adversarial.add_argument("--entropy-weight", type=float, default=None,
                             help="seqgan: weight of the entropy bonus on G's next-token distributions (0)")
    adversarial.add_argument("--temperature-initial", type=float, default=None, help="gumbel: tau at the start (1.0)")
    adversarial.add_argument("--temperature-min", type=float, default=None, help="gumbel: floor of tau (0.1)")
    adversarial.add_argument("--temperature-decay", type=float, default=None, help="gumbel: exponential decay per step")


def _train_captioner(args):
    from tfgan_text.training.train_captioner import train_captioner

    given = {name: value for name, value in vars(args).items() if name in CAPTIONER_FLAGS and value is not None}
    train_captioner(args.out, resume=args.resume, strategy=args.strategy, **given)
    print(f"trained: {os.path.join(args.out, 'model.keras')}; captions of sample images in "
          f"{os.path.join(args.out, 'samples')}")


def _generate(args):
    from tfgan_text.generate import generate_grid

    notes = generate_grid(args.model, args.captions, args.out, per_caption=args.n, seed=args.seed)
    for note in notes:
        print(note)
    print(f"wrote {args.out}: {args.n} image(s) for each of {len(args.captions)} caption(s)")


def _caption(args):
    """Prints `PATH<TAB>caption` for each image, or one error line; exit status 2 if any failed."""
    from tfgan_text.caption import caption_images

    if args.seed is not None and not args.sample:
        raise UserError("--seed goes with --sample")
    method = "greedy" if args.greedy else "sample" if args.sample else "beam"
    seed = 0 if args.seed is None else args.seed
    failed = 0
    for path, caption, error in caption_images(args.images, args.model, method, args.beam, seed):
        if error is None:
            print(f"{path}\t{caption}", flush=True)
        else:
            failed += 1
            print(f"tfgan-text: error: {error}", file=sys.stderr, flush=True)
    if failed:
        raise SystemExit(2)


def _export(args):
    from tfgan_text.export import export_run

    result = export_run(args.run_dir, args.name, to=args.to, version=args.version, onnx=args.onnx)
    print(f"wrote {result['saved_model']} (version {result['version']})")
    if result["onnx"]:
        print(f"wrote {result['onnx']}")


def _serve(args):
    from tfgan_text.serving.server import serve

    serve(args.base_dir, host=args.host, port=args.port, max_body_bytes=args.max_body_bytes, max_batch=args.max_batch)


def _ensure_parent(path):
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UserError(f"output directory does not exist: {parent}")


def build_parser():
    parser = argparse.ArgumentParser(prog="tfgan-text", description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True)

    data_parser = verbs.add_parser("data", help="look at datasets")
    data_verbs = data_parser.add_subparsers(dest="data_verb", required=True)
    preview = data_verbs.add_parser("preview", help="write a PNG grid of images with their captions")
    _add_data_arguments(preview)
    preview.add_argument("--n", type=_positive_int, default=16, help="number of images")
    preview.add_argument("--out", default="shapes.png", help="PNG file to write")
    preview.set_defaults(run=_data_preview)

    train = verbs.add_parser("train", help="train a model")
    models = train.add_subparsers(dest="model", required=True)
    dcgan = models.add_parser("dcgan", help="text-to-image DCGAN with GAN-CLS and GAN-INT (Reed et al. 2016)")
    _add_train_arguments(dcgan)
    _add_text_encoder_arguments(dcgan)
    _add_dcgan_arguments(dcgan)
    dcgan.set_defaults(run=_train_dcgan)
    captioner = models.add_parser("captioner", help="image-to-caption generator: MLE, then SeqGAN or Gumbel-softmax")
    _add_train_arguments(captioner)
    _add_captioner_arguments(captioner)
    captioner.set_defaults(run=_train_captioner)
    encoder = models.add_parser("text-encoder", help="pretrain a run's text encoder (stage 1 of train dcgan)")
    _add_train_arguments(encoder)
    _add_text_encoder_arguments(encoder)
    encoder.set_defaults(run=_train_text_encoder)

    generate = verbs.add_parser("generate", help="images for captions from a trained text-to-image model")
    generate.add_argument("captions", nargs="+", help="one or more captions")
    generate.add_argument("--model", default=None, help="a run directory or saved model (default: the shipped demo)")
    generate.add_argument("--n", type=_positive_int, default=1, help="images per caption")
    generate.add_argument("--seed", type=int, default=0, help="same caption and seed, same image")
    generate.add_argument("--out", default="generated.png", help="PNG grid to write")
    generate.set_defaults(run=_generate)

    caption = verbs.add_parser(
        "caption", help="captions for images from a trained captioner: PATH<TAB>caption per image"
    )
    caption.add_argument("images", nargs="+", help="JPEG, PNG, GIF or BMP files")
    caption.add_argument("--model", default=None, help="a run directory or saved model (default: the shipped demo)")
    decoding = caption.add_mutually_exclusive_group()
    decoding.add_argument("--beam", type=_positive_int, default=None, metavar="N",
                          help="beam search of width N (the default, N=3; an exported model's width is fixed)")
    decoding.add_argument("--greedy", action="store_true", help="greedy search")
    decoding.add_argument("--sample", action="store_true", help="draw tokens from the model's distribution")
    caption.add_argument("--seed", type=int, default=None, help="with --sample: same image and seed, same caption (0)")
    caption.set_defaults(run=_caption)

    export = verbs.add_parser("export", help="write a versioned SavedModel for TF Serving (and ONNX) of a run")
    export.add_argument("run_dir", help="a run directory (or shipped model directory) with model.keras")
    export.add_argument("--name", required=True, help="model name: writes TO/NAME/VERSION/")
    export.add_argument("--to", default="saved_models", help="base folder of served models")
    export.add_argument("--version", type=_positive_int, default=None, help="version number (default: next)")
    export.add_argument("--onnx", action="store_true", help="also write TO/NAME/onnx/ (model.onnx, vocab.json, config.json)")
    export.set_defaults(run=_export)

    serve = verbs.add_parser("serve", help="serve exported models over TF Serving's REST API")
    serve.add_argument("base_dir", nargs="?", default="saved_models", help="folder of models NAME/VERSION/")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback by default)")
    serve.add_argument("--port", type=int, default=8501, help="REST port")
    serve.add_argument("--max-body-bytes", type=_positive_int, default=32 * 2**20, help="larger bodies get 413")
    serve.add_argument("--max-batch", type=_positive_int, default=256, help="larger batches get 400")
    serve.set_defaults(run=_serve)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter
    try:
        args.run(args)
    except UserError as error:
        print(f"tfgan-text: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"tfgan-text: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tfgan-text: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
