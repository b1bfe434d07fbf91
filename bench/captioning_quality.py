"""Captioning quality of MLE, SeqGAN and Gumbel-softmax training on the built-in shapes.

Trains (or, with `--reuse`, takes the finished runs in `--out`) an MLE captioner, then a SeqGAN
and a Gumbel run that both start from it, and evaluates each on the `test` and
`compositional` splits with `tfgan_text.caption_evaluation`: BLEU-4 and CIDEr-D of beam-search
captions (width 3), attribute correctness (colour, shape, size, position and object count
words true of the image; `all_correct`: all of them, every object named), corpus Div-2 and
vocabulary of the beam captions, and Div-2 and self-BLEU of 5 sampled captions per image. The
same diversity figures of the human captions (`references`) are the yardstick. Prints one JSON
line.

Run: `python bench/captioning_quality.py --out runs/captioning_quality [--mle-epochs 40]
[--adversarial-epochs 2 --adversarial-steps 100 --adversarial-batch-size 32] [--reuse]`
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tfgan_text import data  # noqa: E402
from tfgan_text.caption_evaluation import evaluate_captioner, reference_diversity  # noqa: E402
from tfgan_text.file_names import MODEL_FILE  # noqa: E402
from tfgan_text.models import load_model  # noqa: E402
from tfgan_text.training.train_captioner import train_captioner  # noqa: E402

SPLITS = ("test", "compositional")
KEPT = ("BLEU-4", "CIDEr-D", "corpus_div_2", "vocabulary_used", "div_2", "self_bleu")


def train_stage(run_dir, reuse, **settings):
    """Trains a run (unless `reuse` and it is finished); returns its training seconds or None."""
    if reuse and os.path.exists(os.path.join(run_dir, MODEL_FILE)):
        return None
    start = time.perf_counter()
    train_captioner(run_dir, verbose=2, **settings)
    return round(time.perf_counter() - start, 1)


def evaluate(run_dir, image_size, num_images):
    captioner = load_model(os.path.join(run_dir, MODEL_FILE))
    figures = {}
    for split in SPLITS:
        dataset = data.load("shapes", split=split, image_size=image_size)
        result = evaluate_captioner(captioner, run_dir, dataset, num_images=num_images, meteor="auto")
        kept = {name: round(result[name], 4) for name in KEPT if name in result}
        if "METEOR" in result:
            kept["METEOR"] = round(result["METEOR"], 4)
        kept["attributes"] = {name: round(value, 4) for name, value in result["attributes"].items()}
        figures[split] = kept
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/captioning_quality")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--mle-epochs", type=int, default=40)
    parser.add_argument("--adversarial-epochs", type=int, default=2)
    parser.add_argument("--adversarial-steps", type=int, default=100, help="steps per adversarial epoch")
    parser.add_argument("--adversarial-batch-size", type=int, default=32)
    parser.add_argument("--rollouts", type=int, default=16)
    parser.add_argument("--num-images", type=int, default=1000, help="images of each split evaluated")
    parser.add_argument("--reuse", action="store_true", help="evaluate finished runs in --out instead of training")
    args = parser.parse_args()

    mle = os.path.join(args.out, "mle")
    adversarial = dict(init_from=mle, epochs=args.adversarial_epochs, steps_per_epoch=args.adversarial_steps,
                       batch_size=args.adversarial_batch_size)
    stages = {
        "mle": (mle, dict(image_size=args.image_size, epochs=args.mle_epochs)),
        "seqgan": (os.path.join(args.out, "seqgan"), dict(mode="seqgan", rollouts=args.rollouts, **adversarial)),
        "gumbel": (os.path.join(args.out, "gumbel"), dict(mode="gumbel", **adversarial)),
    }
    report = {}
    for name, (run_dir, settings) in stages.items():
        seconds = train_stage(run_dir, args.reuse, **settings)
        report[name] = {"train_wall_s": seconds, **evaluate(run_dir, args.image_size, args.num_images)}
    report["references"] = {
        split: {name: round(value, 4) for name, value in reference_diversity(
            data.load("shapes", split=split, image_size=args.image_size), mle, args.num_images).items()}
        for split in SPLITS
    }
    mle_test = report["mle"]["test"]
    for name in ("seqgan", "gumbel"):
        test = report[name]["test"]
        report[f"{name}_vs_mle"] = {
            "corpus_div_2_change": round(test["corpus_div_2"] - mle_test["corpus_div_2"], 4),
            "vocabulary_change": test["vocabulary_used"] - mle_test["vocabulary_used"],
            "div_2_change": round(test["div_2"] - mle_test["div_2"], 4),
            "self_bleu_change": round(test["self_bleu"] - mle_test["self_bleu"], 4),
            "cider_d_ratio": round(test["CIDEr-D"] / mle_test["CIDEr-D"], 4),
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
