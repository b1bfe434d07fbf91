"""Throughput of the training pipeline alone on shapes 64x64, batch 64, with and without cache.

Prints one JSON line. Run: `python bench/data_pipeline.py [--batches 150] [--step-rate R]`,
where R (images/s of the DCGAN train step, from bench/dcgan_step.py) adds the ratio.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfgan_text import data  # noqa: E402
from tfgan_text.data.pipeline import steps_per_epoch, training_pipeline  # noqa: E402
from tfgan_text.text.tokenizer import Tokenizer  # noqa: E402
from tfgan_text.text.vocabulary import Vocabulary  # noqa: E402


def images_per_second(pipeline, batches, batch_size):
    iterator = iter(pipeline)
    next(iterator)  # start-up (threads, first cache fill) is not throughput
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--step-rate", type=float, default=None, help="images/s the DCGAN train step consumes")
    args = parser.parse_args()

    source = data.load("shapes", split="train", image_size=args.image_size)
    captions = [c.decode() for example in source.take(2000).as_numpy_iterator() for c in example["captions"]]
    tokenizer = Tokenizer(Vocabulary.build(captions))
    figures = {"benchmark": "data_pipeline", "image_size": args.image_size, "batch_size": args.batch_size}
    for cache in (True, False):
        pipeline = training_pipeline(source, args.batch_size, tokenizer=tokenizer, cache=cache, random_crop=True)
        if cache:  # the first epoch fills the cache: measure from the second on
            warm_up = steps_per_epoch(source, args.batch_size)
            pipeline = pipeline.skip(warm_up)
        figures["images_per_s_cache" if cache else "images_per_s_no_cache"] = round(
            images_per_second(pipeline, args.batches, args.batch_size), 1
        )
    if args.step_rate:
        figures["dcgan_step_images_per_s"] = args.step_rate
        figures["ratio_to_step_cache"] = round(figures["images_per_s_cache"] / args.step_rate, 1)
        figures["ratio_to_step_no_cache"] = round(figures["images_per_s_no_cache"] / args.step_rate, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
