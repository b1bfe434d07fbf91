"""Does a text-to-image model (the DCGAN or AttnGAN) learn its conditioning? Train for a fixed
wall-clock budget on the built-in shapes, then judge generated images against their captions with the shipped
attribute classifier of the run's image size (the judge `shapes-attributes-32px` or `-64px`,
trained on real shapes images; 128 px images are resized to 64).

Prints one JSON line: wall time, training steps, and the classifier's colour, shape and place
accuracy on images generated from the captions of the `test` and `compositional` splits, next
to its accuracy on the real images of those splits (for both also apart for scenes of one
object and of two); and the diversity over the noise: the
per-pixel standard deviation (in [0, 1] units) of images drawn for one caption with different
noise, averaged over pixels and 100 `test` captions (0: G ignores the noise).

Each figure of the generated images is also given at every checkpoint the run kept (the last
three, 200 steps apart; `stopping_points`) with its mean over them (`mean_over_stopping_points`):
one run's figures move by several points with where its budget happens to stop.

Beside them, the figures of `tfgan-text evaluate` on the first `--eval-examples` images of
`test`: FID, KID, IS, precision/recall and R-precision (`test_eval`), each next to its value on
real images (`test_eval_real`). R-precision is measured with the shipped matching judge (trained
apart from any model here), and with `--matching-model RUN` also with that run's encoders
(`test_r_precision_matching_model`), e.g. the DAMSM an AttnGAN was trained against.

Run: `python bench/text_to_image_quality.py --preset shapes-demo --out runs/demo` trains a preset of
`tfgan-text train dcgan` as it is (its own epochs; `--minutes` caps the time); with `--model attngan`
a preset of `tfgan-text train attngan` (`--preset attngan-shapes`);
`python bench/text_to_image_quality.py --minutes 30 --out runs/quality [--set spectral_norm=true ...]` trains
the defaults, with the fields `--set` names, for a wall-clock budget; `--evaluate-only` scores the
model already trained in `--out` (e.g. by `tfgan-text train dcgan`) without training.

On a shared, loaded machine a wall-clock budget buys fewer steps than on an idle one; with
`--gan-steps N` training also stops after N GAN steps, so that runs made side by side with other
work compare at the same number of steps (quote the idle machine's time per step with it).
"""

import argparse
import functools
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfgan_text.data import shapes  # noqa: E402
from tfgan_text.file_names import CHECKPOINTS_DIR, MODEL_FILE, RUN_SETTINGS_FILE  # noqa: E402
from tfgan_text.models import load_model  # noqa: E402
from tfgan_text.evaluation.text_to_image import evaluate_text_to_image  # noqa: E402
from tfgan_text.metrics import judges  # noqa: E402
from tfgan_text.metrics.attribute_classifier import set_accuracy  # noqa: E402
from tfgan_text.text.tokenizer import Tokenizer  # noqa: E402
from tfgan_text.training.checkpoints import kept_checkpoints, restore_model_variables  # noqa: E402
from tfgan_text.training.train_attngan import train_attngan  # noqa: E402
from tfgan_text.training.train_dcgan import train_dcgan  # noqa: E402

TRAINERS = {"dcgan": train_dcgan, "attngan": train_attngan}


# The target's two figures, and the set of places the objects are in (not part of the target,
# but scenes of two objects fail where G puts both in the wrong places).
JUDGED = ("color_accuracy", "shape_accuracy", "position_accuracy")


class Budget(keras.callbacks.Callback):
    """Stops training once `seconds` have passed since `start`, or after `steps` GAN steps."""

    def __init__(self, start, seconds, steps=None):
        super().__init__()
        self.start, self.seconds, self.steps = start, seconds, steps

    def on_train_batch_end(self, batch, logs=None):
        out_of_time = time.perf_counter() - self.start > self.seconds
        out_of_steps = self.steps is not None and int(self.model.d_optimizer.iterations.numpy()) >= self.steps
        if out_of_time or out_of_steps:
            self.model.stop_training = True


def generated_images(model, tokenizer, captions, seed, batch_size=100):
    """Images for `captions`, with noise drawn from `seed`."""
    noise = np.random.default_rng(seed).standard_normal((len(captions), model.generator.noise_dim)).astype(np.float32)
    images = []
    for start in range(0, len(captions), batch_size):
        ids = tokenizer(tf.constant(captions[start : start + batch_size]))
        out = model.generate(ids, noise=noise[start : start + batch_size])
        images.append(np.clip(np.round((keras.ops.convert_to_numpy(out) + 1.0) * 127.5), 0, 255).astype(np.uint8))
    return np.concatenate(images)


def noise_diversity(model, tokenizer, captions, seed, draws=4):
    """Mean over captions and pixels of the standard deviation over `draws` noise vectors."""
    images = [generated_images(model, tokenizer, captions, seed + draw) / 255.0 for draw in range(draws)]
    return float(np.mean(np.std(np.stack(images), axis=0)))


def evaluate(model, tokenizer, judge, image_size, seed, num_examples):
    figures = {}
    rng = np.random.default_rng(seed)
    for split in ("test", "compositional"):
        examples = shapes.load_split(split, image_size=image_size, num_examples=num_examples)
        attributes = {name: examples[name] for name in shapes.ATTRIBUTES}
        # One of each image's captions, drawn at random: every template is judged.
        captions = [str(row[rng.integers(len(row))]) for row in examples["captions"]]
        fake = judge.outputs(generated_images(model, tokenizer, captions, seed))
        real = set_accuracy(judge.outputs(examples["image"]), attributes)
        scenes = {"": np.ones(len(captions), bool)}
        # Where it fails: scenes of one object, or of two.
        scenes.update(one_object_=attributes["shape"][:, 1] < 0, two_object_=attributes["shape"][:, 1] >= 0)
        scenes = {scene: rows for scene, rows in scenes.items() if rows.any()}
        for scene, rows in scenes.items():
            accuracy = set_accuracy({key: value[rows] for key, value in fake.items()},
                                    {name: value[rows] for name, value in attributes.items()})
            for name in JUDGED:
                figures[f"{split}_{scene}{name}"] = round(float(accuracy[name]), 4)
        for name in JUDGED:
            figures[f"{split}_real_{name}"] = round(float(real[name]), 4)
        if split == "test":
            figures["test_noise_diversity"] = round(noise_diversity(model, tokenizer, captions[:100], seed), 4)
    return figures


def stopping_point_figures(model, run_dir, final, score):
    """The generated images' figures at each checkpoint the run kept (the last is the final
    model, scored as `final`; `score()` scores the model as it is), and their means: where a
    budget happens to stop moves one run's figures by several points. The model ends with the
    last checkpoint's weights, as it came.
    """
    kept = kept_checkpoints(os.path.join(run_dir, CHECKPOINTS_DIR))
    if not kept:
        return {}
    names = [name for name in final if "_real_" not in name and name != "test_noise_diversity"]
    points = []
    for step, path in kept[:-1]:
        restore_model_variables(model, path)
        scored = score()
        points.append({"gan_steps": step, **{name: scored[name] for name in names}})
    restore_model_variables(model, kept[-1][1])
    points.append({"gan_steps": kept[-1][0], **{name: final[name] for name in names}})
    means = {name: round(float(np.mean([point[name] for point in points])), 4) for name in names}
    return {"stopping_points": points, "mean_over_stopping_points": means}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="dcgan", choices=sorted(TRAINERS), help="which text-to-image model to train")
    parser.add_argument("--preset", default=None, help="a preset of `tfgan-text train MODEL`, trained for its own epochs")
    parser.add_argument("--matching-model", default=None, metavar="RUN",
                        help="also measure R-precision with this run's encoders (e.g. a DAMSM run)")
    parser.add_argument("--minutes", type=float, default=None,
                        help="wall-clock budget of training (both stages); default 30 without --preset, none with one")
    parser.add_argument("--gan-steps", type=int, default=None, help="also stop after this many GAN steps")
    parser.add_argument("--out", default="runs/quality")
    parser.add_argument("--image-size", type=int, default=None, help="default: the preset's, else 64")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the preset's, else 64")
    parser.add_argument("--eval-examples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--evaluate-only", action="store_true", help="score the trained run in --out, do not train")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=JSON",
                        help="another settings field of the model, e.g. spectral_norm=true or label_smoothing=0.1")
    args = parser.parse_args()
    settings = {name: json.loads(value) for name, value in (item.split("=", 1) for item in args.set)}
    settings.update({name: value for name, value in (("image_size", args.image_size), ("batch_size", args.batch_size))
                     if value is not None})

    start = time.perf_counter()
    if args.evaluate_only:
        model = load_model(os.path.join(args.out, MODEL_FILE))
        figures = {"evaluated_run": args.out}
    else:
        if args.preset:
            settings["preset"] = args.preset
        else:
            settings.setdefault("epochs", 1000)  # the budget stops it
        minutes = args.minutes if args.minutes is not None or args.preset else 30.0
        budget = Budget(start, minutes * 60 if minutes is not None else float("inf"), args.gan_steps)
        model = TRAINERS[args.model](args.out, seed=args.seed, callbacks=[budget], verbose=2, **settings)
        figures = {**settings, "train_wall_s": round(time.perf_counter() - start, 1),
                   "gan_steps": int(model.d_optimizer.iterations.numpy())}
    with open(os.path.join(args.out, RUN_SETTINGS_FILE), encoding="utf-8") as run_file:
        run_settings = json.load(run_file)
    image_size = int(model.generator.image_size)
    figures = {"benchmark": "text_to_image_quality", "model": args.model, "preset": run_settings.get("preset"), "image_size": image_size,
               "batch_size": run_settings["batch_size"], **figures}
    judge = judges.load(judges.image_judge_name("shapes", image_size))
    score = functools.partial(evaluate, model, Tokenizer(args.out), judge, image_size, args.seed, args.eval_examples)
    final = score()
    figures.update(final, **stopping_point_figures(model, args.out, final, score))
    report = evaluate_text_to_image(args.out, "shapes", "test", metrics=("fid", "kid", "is", "precision_recall",
                                    "r_precision"), num_images=args.eval_examples, seed=args.seed, progress=False)
    figures.update(test_eval=report["metrics"], test_eval_real=report["real"], judge=report["judge"]["name"],
                   matching_judge=(report["matching_judge"] or {}).get("name"))
    if args.matching_model:
        own = evaluate_text_to_image(args.out, "shapes", "test", metrics=("r_precision",), num_images=args.eval_examples,
                                     seed=args.seed, matching_model=args.matching_model, progress=False)
        figures.update(test_r_precision_matching_model=own["metrics"]["r_precision"],
                       test_r_precision_matching_model_real=own["real"]["r_precision"],
                       matching_model=args.matching_model)
    figures["total_wall_s"] = round(time.perf_counter() - start, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
