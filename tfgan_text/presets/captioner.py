"""Presets of `tfgan-text train captioner`."""

PRESETS = {
    "shapes-demo": {
        "description": (
            "Stage 1 of the shipped saved_models/shapes_captioner: maximum likelihood for 30 epochs "
            "on the built-in shapes at 64 px (max-pool CNN with coordinate channels, 4 attention "
            "heads over its regions, cosine-decayed Adam 1e-3). Then --preset shapes-demo-seqgan."
        ),
        "settings": {"mode": "mle", "epochs": 30},
    },
    "shapes-demo-seqgan": {
        "description": (
            "Stage 2 of the shipped saved_models/shapes_captioner: 400 SeqGAN steps of batch 16 "
            "(2 epochs of 200) with 8 rollouts and an entropy bonus of 0.03, from the MLE run of "
            "--preset shapes-demo, given as --init-from RUN."
        ),
        "settings": {"mode": "seqgan", "epochs": 2, "steps_per_epoch": 200, "batch_size": 16, "rollouts": 8,
                     "entropy_weight": 0.03},
    },
    "fashion-mnist": {
        "description": (
            "Real images: maximum likelihood on Fashion-MNIST (Debian's dataset-fashion-mnist; --data for "
            "another copy) at 32 px with the IDX reader's five caption templates per class, a three-block "
            "CNN, 6 epochs of 300 steps of batch 64. Then --preset fashion-mnist-seqgan."
        ),
        "settings": {"data": "/usr/share/datasets/fashion-mnist", "image_size": 32, "encoder_filters": (32, 64, 128),
                     "embedding_dim": 64, "hidden_dim": 128, "mode": "mle", "epochs": 6, "steps_per_epoch": 300},
    },
    "fashion-mnist-seqgan": {
        "description": (
            "SeqGAN on Fashion-MNIST from the MLE run of --preset fashion-mnist (given as --init-from RUN): "
            "200 steps of batch 16 with 8 rollouts and an entropy bonus of 0.03, as the shapes demo's stage 2."
        ),
        "settings": {"data": "/usr/share/datasets/fashion-mnist", "mode": "seqgan", "epochs": 1, "steps_per_epoch": 200,
                     "batch_size": 16, "rollouts": 8, "entropy_weight": 0.03},
    },
}
