"""Throughput of the training pipeline alone on shapes 64x64, batch 64, with and without cache,
against the rate at which the default DCGAN train step consumes images, measured in the same run.

Prints one JSON line. Run: `python bench/data_pipeline.py [--batches 150] [--steps 20]`.
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


def dcgan_step_images_per_second(pipeline, tokenizer, args):
    """Images/s of `TextConditionalDCGAN.train_step` with the default settings, on cached batches."""
    import tensorflow as tf

    from tfgan_text.training.dcgan_settings import DCGANSettings
    from tfgan_text.training.train_dcgan import _build_model, _new_text_encoder

    settings = DCGANSettings(image_size=args.image_size, batch_size=args.batch_size)
    text_encoder = _new_text_encoder(settings, len(tokenizer.vocabulary))
    text_encoder(tokenizer(tf.constant(["a"])))
    model = _build_model(settings, text_encoder)
    batches = [batch for batch, _ in zip(pipeline, range(4))]
    step = tf.function(model.train_step)
    step(batches[0])  # tracing
    start = time.perf_counter()
    for index in range(args.steps):
        step(batches[index % len(batches)])
    return args.steps * args.batch_size / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="DCGAN train steps timed (0: skip)")
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
    if args.steps:
        rate = dcgan_step_images_per_second(pipeline, tokenizer, args)
        figures["dcgan_step_images_per_s"] = round(rate, 1)
        figures["ratio_cache"] = round(figures["images_per_s_cache"] / rate, 1)
        figures["ratio_no_cache"] = round(figures["images_per_s_no_cache"] / rate, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
