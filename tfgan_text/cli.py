"""The `tfgan-text` command line: one sub-command per verb.

Bad input (a missing path, an unknown format, a corrupt file, a bad option) ends with one
line on stderr and exit status 2, never a traceback.
"""

import argparse
import dataclasses
import os
import socket
import sys
import types
import typing

from tfgan_text.errors import UserError
from tfgan_text.file_names import IMAGE_ENCODER_FILE, MODEL_FILE, SAMPLES_DIR, TEXT_ENCODER_FILE
from tfgan_text.training.attngan_settings import AttnGANSettings
from tfgan_text.training.captioner_settings import CaptionerSettings
from tfgan_text.training.damsm_settings import DAMSMSettings
from tfgan_text.training.dcgan_settings import DCGANSettings
from tfgan_text.training.run_settings import flag


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _png_path(text):
    """A PNG file to write: a name ending in .png, not a folder, in a folder that exists."""
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name ending in .png")
    if not text.lower().endswith(".png"):
        raise argparse.ArgumentTypeError(f"{text} does not end in .png: the images are written as PNG")
    parent = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(parent):
        raise argparse.ArgumentTypeError(f"output directory does not exist: {parent}")
    return text


def _port(text):
    """A TCP port, 1 to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, got {value}")
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
    image_grid(np.stack(images), captions).save(args.out)
    print(f"wrote {args.out}: {len(images)} images of {args.data!r} ({args.split}) with a caption each")


def _add_train_arguments(parser, settings_class):
    """The flags of a `train` command: `--out`, `--strategy`, `--resume`, and one per field of
    `settings_class` (unset flags keep the preset's value, the default, or a resumed run's)."""
    parser.add_argument("--out", required=True, help="run directory (checkpoints, samples, logs)")
    parser.add_argument("--strategy", default="auto", help="auto, mirrored, one_device or multi_worker")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    settings = parser.add_argument_group("run settings (recorded in RUN_DIR/run.json)")
    for field in dataclasses.fields(settings_class):
        _add_settings_flag(settings, field, settings_class.field_choices(field))
    parser.set_defaults(settings_class=settings_class)


def _add_settings_flag(parser, field, choices):
    """One flag for a settings field: `--name` for values, `--name/--no-name` for booleans,
    `--name N ...` for lists of integers (none: an empty list)."""
    kind = _flag_type(field.type)
    default = field.default if field.default_factory is dataclasses.MISSING else field.default_factory()
    shown = list(default) if isinstance(default, tuple) else default
    help_text = field.metadata["help"] if shown is None else f"{field.metadata['help']} (default: {shown})"
    options = {"dest": field.name, "default": None, "help": help_text.replace("%", "%%")}
    if choices:
        options["choices"] = choices
    if kind is bool:
        parser.add_argument(f"--{flag(field.name)}", action=argparse.BooleanOptionalAction, **options)
    elif kind in (list, tuple):
        parser.add_argument(f"--{flag(field.name)}", type=int, nargs="*", metavar="N", **options)
    else:
        metavar = None if choices else {int: "N", float: "X"}.get(kind, "TEXT")
        parser.add_argument(f"--{flag(field.name)}", type=kind, metavar=metavar, **options)


def _flag_type(annotation):
    """`int`, `float`, `str`, `bool`, `list` or `tuple` of a field's annotation (`int | None` -> int)."""
    origin = typing.get_origin(annotation)
    if origin in (list, tuple):
        return origin
    if origin in (types.UnionType, typing.Union):
        return next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    return annotation


def _given_settings(args):
    """The settings fields given on the command line; those of a new run are checked here,
    before TensorFlow starts, so that a bad value is one line at once."""
    names = {field.name for field in dataclasses.fields(args.settings_class)}
    given = {name: value for name, value in vars(args).items() if name in names and value is not None}
    if not args.resume:
        args.settings_class.from_given(given)
    return given


def _train_dcgan(args):
    given = _given_settings(args)
    from tfgan_text.training.train_dcgan import train_dcgan

    train_dcgan(args.out, resume=args.resume, strategy=args.strategy, **given)
    print(f"trained: {os.path.join(args.out, MODEL_FILE)}; sample grids in {os.path.join(args.out, SAMPLES_DIR)}")


def _train_text_encoder(args):
    given = _given_settings(args)
    from tfgan_text.training.train_dcgan import train_text_encoder

    _, recall = train_text_encoder(args.out, resume=args.resume, strategy=args.strategy, **given)
    figures = ", ".join(f"{name} {value:.3f}" for name, value in recall.items()) or "no val split to measure on"
    print(f"text encoder: {os.path.join(args.out, TEXT_ENCODER_FILE)}; caption->image {figures}")


def _train_damsm(args):
    given = _given_settings(args)
    from tfgan_text.training.train_damsm import train_damsm

    _, _, report = train_damsm(args.out, resume=args.resume, strategy=args.strategy, **given)
    print(f"DAMSM encoders: {os.path.join(args.out, TEXT_ENCODER_FILE)}, {os.path.join(args.out, IMAGE_ENCODER_FILE)}; "
          f"{_damsm_figures(report)}")


def _damsm_figures(report):
    """One line of a DAMSM report: recall@1/5 both ways and R-precision, or its notes."""
    if "image_to_text" not in report:
        return "; ".join(report["notes"])
    line = ", ".join(f"{way.replace('_to_', '->')} R@1 {report[way]['recall_at_1']:.3f} R@5 {report[way]['recall_at_5']:.3f}"
                     for way in ("image_to_text", "text_to_image"))
    r_precision = report.get("r_precision")
    line += (f", R-precision {r_precision['mean']:.3f} ± {r_precision['std']:.3f}" if r_precision
             else f", {'; '.join(report['notes'])}")
    return f"{report['split']} ({report['num_images']} images): {line}"


def _train_captioner(args):
    given = _given_settings(args)
    from tfgan_text.training.train_captioner import train_captioner

    train_captioner(args.out, resume=args.resume, strategy=args.strategy, **given)
    print(f"trained: {os.path.join(args.out, MODEL_FILE)}; captions of sample images in "
          f"{os.path.join(args.out, SAMPLES_DIR)}")


def _train_attngan(args):
    given = _given_settings(args)
    from tfgan_text.training.train_attngan import train_attngan

    train_attngan(args.out, resume=args.resume, strategy=args.strategy, **given)
    print(f"trained: {os.path.join(args.out, MODEL_FILE)}; sample grids (every stage) in "
          f"{os.path.join(args.out, SAMPLES_DIR)}")


def _generate(args):
    from tfgan_text.inference.generate import generate_grid

    if args.attention_maps:  # first: a model without attention maps writes nothing
        from tfgan_text.inference.attention_maps import write_attention_maps

        rows = write_attention_maps(args.model, args.captions, args.attention_maps, seed=args.seed)
        print(f"wrote {args.attention_maps}: {rows} row(s) of word attention maps (each caption, each stage; seed {args.seed})")
    notes = generate_grid(args.model, args.captions, args.out, per_caption=args.n, seed=args.seed)
    for note in notes:
        print(note)
    print(f"wrote {args.out}: {args.n} image(s) for each of {len(args.captions)} caption(s)")


def _caption(args):
    """Prints `PATH<TAB>caption` for each image, or one error line; exit status 2 if any failed."""
    from tfgan_text.inference.caption import caption_images

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

    try:  # a clear line now rather than the server's log lines and exit status 3
        family = socket.getaddrinfo(args.host, args.port, type=socket.SOCK_STREAM)[0][0]
        socket.create_server((args.host, args.port), family=family).close()
    except (OSError, UnicodeError) as error:
        raise UserError(f"cannot listen on --host {args.host} --port {args.port}: "
                        f"{getattr(error, 'strerror', None) or error}") from None
    serve(args.base_dir, host=args.host, port=args.port, max_body_bytes=args.max_body_bytes, max_batch=args.max_batch)


def _evaluate(args):
    if args.out:
        _ensure_parent(args.out)
    from tfgan_text.evaluation import evaluate, format_table, write_report

    report = evaluate(args.model, args.data, args.split, metrics=args.metrics, num_images=args.num_images,
                      seed=args.seed, batch_size=args.batch_size, inception_weights=args.inception_weights,
                      matching_model=args.matching_model)
    print(format_table(report))
    if args.out:
        write_report(args.out, report)
        print(f"wrote {args.out}")


def _ensure_parent(path):
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UserError(f"output directory does not exist: {parent}")


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (`--help` shows the usage)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    parser = _Parser(prog="tfgan-text", description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True)

    data_parser = verbs.add_parser("data", help="look at datasets")
    data_verbs = data_parser.add_subparsers(dest="data_verb", required=True)
    preview = data_verbs.add_parser("preview", help="write a PNG grid of images with their captions")
    _add_data_arguments(preview)
    preview.add_argument("--n", type=_positive_int, default=16, help="number of images")
    preview.add_argument("--out", type=_png_path, default="shapes.png", help="PNG file to write")
    preview.set_defaults(run=_data_preview)

    train = verbs.add_parser("train", help="train a model")
    models = train.add_subparsers(dest="model", required=True)
    dcgan = models.add_parser("dcgan", help="text-to-image DCGAN with GAN-CLS and GAN-INT (Reed et al. 2016)")
    _add_train_arguments(dcgan, DCGANSettings)
    dcgan.set_defaults(run=_train_dcgan)
    captioner = models.add_parser("captioner", help="image-to-caption generator: MLE, then SeqGAN or Gumbel-softmax")
    _add_train_arguments(captioner, CaptionerSettings)
    captioner.set_defaults(run=_train_captioner)
    attngan = models.add_parser(
        "attngan", help="text-to-image AttnGAN: attentional stages guided by a DAMSM (Xu et al. 2018)")
    _add_train_arguments(attngan, AttnGANSettings)
    attngan.set_defaults(run=_train_attngan)
    damsm = models.add_parser(
        "damsm", help="pretrain AttnGAN's DAMSM: a text and an image encoder, word and sentence losses (Xu et al. 2018)")
    _add_train_arguments(damsm, DAMSMSettings)
    damsm.set_defaults(run=_train_damsm)
    encoder = models.add_parser("text-encoder", help="pretrain a dcgan run's text encoder (its stage 1) alone")
    _add_train_arguments(encoder, DCGANSettings)
    encoder.set_defaults(run=_train_text_encoder)

    generate = verbs.add_parser("generate", help="images for captions from a trained text-to-image model")
    generate.add_argument("captions", nargs="+", help="one or more captions")
    generate.add_argument("--model", default=None, help="a run directory or saved model (default: the shipped demo)")
    generate.add_argument("--n", type=_positive_int, default=1, help="images per caption")
    generate.add_argument("--seed", type=int, default=0,
                          help="image k of each caption is drawn from seed + k, as the SavedModel's seeds: same caption and seed, same image")
    generate.add_argument("--out", type=_png_path, default="generated.png", help="PNG grid to write")
    generate.add_argument("--attention-maps", type=_png_path, default=None, metavar="FILE",
                          help="AttnGAN: also write a PNG of each word's attention map over the image drawn from --seed")
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

    evaluate = verbs.add_parser(
        "evaluate", help="FID, KID, IS, precision/recall, R-precision and accuracy of a text-to-image model, "
        "or caption scores of a captioner, on a dataset split, with fixed judges")
    evaluate.add_argument("model", help="a run directory or an exported saved_models/NAME")
    evaluate.add_argument("--data", default="shapes", help="'shapes' (built in, the default) or a dataset path")
    evaluate.add_argument("--split", default="test", help="the split whose captions and real images are used")
    evaluate.add_argument("--metrics", nargs="+", default=None,
                          help="text-to-image: fid kid is precision_recall r_precision accuracy; "
                          "captioner: ngrams diversity accuracy (default: all)")
    evaluate.add_argument("--num-images", type=_positive_int, default=None, help="the split's first N images (default: all)")
    evaluate.add_argument("--seed", type=int, default=0, help="image i is drawn from seed + i; captions chosen from it")
    evaluate.add_argument("--batch-size", type=_positive_int, default=100, help="images generated and judged at once")
    evaluate.add_argument("--inception-weights", default=None, metavar="FILE",
                          help="judge with Inception-v3 (Keras's weights file, with the top) instead of the shipped judge")
    evaluate.add_argument("--matching-model", default=None, metavar="RUN",
                          help="R-precision with this run's text and image encoders instead of the shipped judge")
    evaluate.add_argument("--out", default=None, help="also write the report as JSON here")
    evaluate.set_defaults(run=_evaluate)

    serve = verbs.add_parser("serve", help="serve exported models over TF Serving's REST API")
    serve.add_argument("base_dir", nargs="?", default="saved_models", help="folder of models NAME/VERSION/")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback by default)")
    serve.add_argument("--port", type=_port, default=8501, help="REST port")
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
