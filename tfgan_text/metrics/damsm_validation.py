"""What a DAMSM run reports on held-out data: retrieval both ways and R-precision.

R-precision is AttnGAN's (Xu et al. 2018): each image ranks its true caption (one of its
captions, drawn at random) among 99 captions of images of other content; retrieval is
Karpathy & Fei-Fei 2015's recall@K over all the captions and images measured.
"""

import numpy as np
import tensorflow as tf

from tfgan_text.data.pipeline import with_content_key
from tfgan_text.errors import UserError
from tfgan_text.metrics.r_precision import r_precision
from tfgan_text.metrics.retrieval import embed_split, image_to_text_recall_at_k, recall_at_k


def damsm_validation(text_encoder, image_encoder, split, tokenizer, num_images=1000, seed=0, batch_size=100):
    """Recall@1 and @5 both ways and R-precision of a text encoder and an image encoder.

    Args:
        text_encoder: a word-level text encoder (`WordRNNEncoder`), returns `"sentence"`.
        image_encoder: `ImageEncoder` or `BackboneImageEncoder`, returns `"global"`.
        split: `tf.data.Dataset` of `tfgan_text.data.load` (images with all their captions).
        tokenizer: callable, string tensor `[N]` -> token ids `[N, T]`.
        num_images: int, the split's first images measured.
        seed: int, of R-precision's caption per image and of its mismatched draws.
        batch_size: int, images embedded at once.

    Returns:
        dict: `num_images`, `num_captions`, `image_to_text` and `text_to_image`
        (`{"recall_at_1", "recall_at_5"}`), `r_precision` (`{"mean", "std", "num_candidates"}`,
        absent with too few images, with a note why), `notes`.
    """

    def prepare(example):
        return {"image": tf.cast(example["image"], tf.float32) / 127.5 - 1.0,
                text_encoder.input_key: tokenizer(example["captions"]), "content_key": example["content_key"]}

    batches = split.take(num_images).enumerate().map(with_content_key).map(prepare).padded_batch(batch_size)
    content_keys = []

    def recorded(batches):
        for batch in batches:
            content_keys.append(batch["content_key"].numpy())
            yield batch

    texts, images, image_of_text = embed_split(text_encoder, image_encoder, recorded(batches))
    report = {
        "num_images": len(images),
        "num_captions": len(texts),
        "image_to_text": image_to_text_recall_at_k(texts, images, image_of_text),
        "text_to_image": recall_at_k(texts, images, image_of_text),
        "notes": [],
    }
    rng = np.random.default_rng(seed)
    true_captions = [rng.choice(np.flatnonzero(image_of_text == i)) for i in range(len(images))]
    try:
        report["r_precision"] = r_precision(images, texts[true_captions], groups=np.concatenate(content_keys), seed=seed)
    except UserError as error:  # too few images, or too few of other content
        report["notes"].append(f"r_precision: {error}")
    return report
