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
}
