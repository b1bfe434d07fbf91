"""Caption -> image and image -> caption retrieval: recall@K over a whole split, in a shared
image-text space.

Karpathy & Fei-Fei 2015 report image search (caption -> image) as R@K: the fraction of
captions whose own image is among the K images ranked most similar to them; and image
annotation (image -> caption) as the fraction of images with one of their own captions among
the K captions ranked most similar to them.
"""

import numpy as np


def _unit_rows(x):
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def recall_at_k(text_embeddings, image_embeddings, image_of_text, ks=(1, 5), chunk_size=1024):
    """Caption -> image recall@K by cosine similarity, from embeddings.

    Each caption ranks every image. Ties are settled against the caption: its rank is the
    number of other images whose score is higher than or equal to its own image's, so the
    result never depends on the order of the images, and a constant encoder scores 0.

    Args:
        text_embeddings: float array `[M, E]`, one row per caption.
        image_embeddings: float array `[N, E]`, one row per image.
        image_of_text: int array `[M]`, the row of each caption's image in `image_embeddings`.
        ks: ints, the K values.
        chunk_size: int, captions scored at once (bounds memory to `chunk_size * N` scores).

    Returns:
        dict `{"recall_at_K": float}` for each K in `ks`.

    Example:
        >>> recall_at_k(np.eye(2), np.eye(2), [0, 1], ks=(1,))  # {"recall_at_1": 1.0}
    """
    texts = _unit_rows(text_embeddings)
    images = _unit_rows(image_embeddings)
    image_of_text = np.asarray(image_of_text, dtype=np.int64)
    ranks = []
    for start in range(0, len(texts), chunk_size):
        scores = texts[start : start + chunk_size] @ images.T
        rows = np.arange(len(scores))
        own = image_of_text[start : start + chunk_size]
        own_scores = scores[rows, own][:, None]
        # Counts the own image too (its score equals itself), hence the -1.
        ranks.append(np.sum(scores >= own_scores, axis=1) - 1)
    ranks = np.concatenate(ranks) if ranks else np.zeros([0], np.int64)
    return {f"recall_at_{k}": float(np.mean(ranks < k)) if len(ranks) else 0.0 for k in ks}


def image_to_text_recall_at_k(text_embeddings, image_embeddings, image_of_text, ks=(1, 5), chunk_size=1024):
    """Image -> caption recall@K by cosine similarity, from embeddings.

    Each image ranks every caption; its rank is the number of other images' captions that
    score higher than or equal to its best own caption (ties settled against the image, as
    in `recall_at_k`). An image without captions is a miss.

    Args:
        text_embeddings: float array `[M, E]`, one row per caption.
        image_embeddings: float array `[N, E]`, one row per image.
        image_of_text: int array `[M]`, the row of each caption's image in `image_embeddings`.
        ks: ints, the K values.
        chunk_size: int, images scored at once (bounds memory to `chunk_size * M` scores).

    Returns:
        dict `{"recall_at_K": float}` for each K in `ks`.

    Example:
        >>> image_to_text_recall_at_k(np.eye(2), np.eye(2), [0, 1], ks=(1,))  # {"recall_at_1": 1.0}
    """
    texts = _unit_rows(text_embeddings)
    images = _unit_rows(image_embeddings)
    image_of_text = np.asarray(image_of_text, dtype=np.int64)
    ranks = []
    for start in range(0, len(images), chunk_size):
        scores = images[start : start + chunk_size] @ texts.T
        own = image_of_text[None, :] == np.arange(start, start + len(scores))[:, None]
        best_own = np.max(np.where(own, scores, -np.inf), axis=1, keepdims=True)
        ranks.append(np.sum((scores >= best_own) & ~own, axis=1))
    ranks = np.concatenate(ranks) if ranks else np.zeros([0], np.int64)
    return {f"recall_at_{k}": float(np.mean(ranks < k)) if len(ranks) else 0.0 for k in ks}


def embed_split(text_encoder, image_encoder, dataset):
    """Runs the two encoders over a split, for `recall_at_k`.

    Args:
        text_encoder: a text encoder (`WordRNNEncoder`, `CharCNNRNNEncoder`): reads the batch
            key named by its `input_key`, returns `"sentence"`.
        image_encoder: an `ImageEncoder`-like model, returns `"global"`.
        dataset: iterable of batches `{"image": float [B, S, S, 3] in [-1, 1],
            input_key: int [B, N, T]}` (N captions per image); all-padding caption rows are
            padding, not queries.

    Returns:
        `(text_embeddings [M, E], image_embeddings [I, E], image_of_text int [M])`.
    """
    texts, images, image_of_text = [], [], []
    for batch in dataset:
        image = np.asarray(image_encoder(batch["image"], training=False)["global"])
        ids = np.asarray(batch[text_encoder.input_key])
        batch_size, captions, length = ids.shape
        flat_ids = ids.reshape(batch_size * captions, length)
        keep = np.any(flat_ids != 0, axis=1)
        text = np.asarray(text_encoder(flat_ids, training=False)["sentence"])[keep]
        owner = np.repeat(np.arange(batch_size), captions)[keep]
        image_of_text.append(owner + sum(len(x) for x in images))
        texts.append(text)
        images.append(image)
    return np.concatenate(texts), np.concatenate(images), np.concatenate(image_of_text)


def caption_to_image_recall(text_encoder, image_encoder, dataset, ks=(1, 5)):
    """Caption -> image recall@K of two encoders over a whole split (see `embed_split`).

    Example:
        >>> caption_to_image_recall(text_encoder, image_encoder, test_batches)
        {"recall_at_1": 0.41, "recall_at_5": 0.83}
    """
    return recall_at_k(*embed_split(text_encoder, image_encoder, dataset), ks=ks)
