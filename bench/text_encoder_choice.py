"""Which text encoder should be the default: caption -> image recall of word_rnn and char_cnn_rnn.

Each text encoder is trained jointly with a fresh `ImageEncoder` (`JointEmbedding`, the DAMSM
sentence loss) on the shapes train split for the same number of steps, one random caption of
each image per visit, pairs with the same attributes not counted as negatives. Then every
caption of the held-out test split ranks all test images. Prints one JSON line.

    python bench/text_encoder_choice.py --steps 300
"""

import argparse
import json
import time

import keras
import numpy as np
import tensorflow as tf

from tfgan_text.data import shapes
from tfgan_text.metrics.retrieval import caption_to_image_recall
from tfgan_text.models.image_encoder import ImageEncoder
from tfgan_text.models.joint_embedding import JointEmbedding
from tfgan_text.models.text_encoder import CharCNNRNNEncoder, WordRNNEncoder, char_ids
from tfgan_text.text.py_tokenizer import PyTokenizer
from tfgan_text.text.vocabulary import Vocabulary


def _arrays(data, tokenizer):
    """Images in [-1, 1], token and char ids `[N, captions, T]` and a content key per image."""
    captions = data["captions"]
    flat = [str(c) for c in captions.ravel()]
    ids = {
        "token_ids": tokenizer.encode(flat).reshape(captions.shape + (-1,)),
        "char_ids": char_ids(flat).numpy().reshape(captions.shape + (-1,)),
    }
    # Equal keys, same scene (as the training pipeline makes them): not negatives of each other.
    key = np.zeros(len(captions), np.int64)
    for attribute in sorted(shapes.ATTRIBUTES):
        for column in range(2):
            key = key * 64 + data[attribute][:, column] + 1
    image = data["image"].astype("float32") / 127.5 - 1.0
    return image, ids, key


def _training_batches(image, ids, key, input_key, args):
    examples = tf.data.Dataset.from_tensor_slices({"image": image, "ids": ids[input_key], "label": key})
    examples = examples.repeat().shuffle(len(image), seed=args.seed)
    pairs = tf.data.Dataset.zip(examples, tf.data.Dataset.random(seed=args.seed))

    def one_caption(example, random):
        index = tf.cast(random % ids[input_key].shape[1], tf.int32)
        return {"image": example["image"], input_key: example["ids"][index], "label": example["label"]}

    return pairs.map(one_caption).batch(args.batch_size, drop_remainder=True).prefetch(2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps per encoder")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--train-images", type=int, default=4000)
    parser.add_argument("--test-images", type=int, default=500)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    train_data, test_data = (
        shapes.load_split(split, args.image_size, args.seed, count, cache=False)
        for split, count in (("train", args.train_images), ("test", args.test_images))
    )
    vocabulary = Vocabulary.build([str(c) for c in train_data["captions"].ravel()], min_count=1)
    tokenizer = PyTokenizer(vocabulary)
    train = _arrays(train_data, tokenizer)
    test_image, test_ids, _ = _arrays(test_data, tokenizer)

    encoders = {
        "word_rnn": lambda: WordRNNEncoder(vocabulary_size=len(vocabulary)),
        "char_cnn_rnn": lambda: CharCNNRNNEncoder(),
    }
    figures = {
        "train_images": args.train_images,
        "test_images": args.test_images,
        "test_captions": int(np.prod(test_ids["token_ids"].shape[:2])),
        "image_size": args.image_size,
        "steps": args.steps,
        "batch_size": args.batch_size,
    }
    for name, make in encoders.items():
        keras.utils.set_random_seed(args.seed)
        text_encoder = make()
        model = JointEmbedding(text_encoder, ImageEncoder())
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
        batches = _training_batches(*train, text_encoder.input_key, args)
        start = time.perf_counter()
        model.fit(batches, steps_per_epoch=args.steps, epochs=1, verbose=0)
        seconds = time.perf_counter() - start
        test = [
            {"image": test_image[i : i + 100], text_encoder.input_key: test_ids[text_encoder.input_key][i : i + 100]}
            for i in range(0, len(test_image), 100)
        ]
        recall = caption_to_image_recall(text_encoder, model.image_encoder, test, ks=(1, 5))
        figures[name] = {
            "recall_at_1": round(recall["recall_at_1"], 4),
            "recall_at_5": round(recall["recall_at_5"], 4),
            "train_seconds": round(seconds, 1),
            "parameters": int(text_encoder.count_params()),
        }
    figures["chance_recall_at_1"] = round(1 / args.test_images, 4)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
