"""Presets of `tfgan-text train attngan`."""

PRESETS = {
    "attngan-cub": {
        "description": (
            "AttnGAN as Xu et al. 2018 trained it on CUB birds: three stages 64/128/256, z and the "
            "conditioned code 100 each, ngf 32, ndf 64, two residual blocks per stage, lambda 5, "
            "batch 20, Adam 2e-4 (beta1 0.5), 600 epochs. Give --data with the CUB folder and --damsm "
            "with a DAMSM run of `train damsm --preset attngan-cub` (Inception-v3 regions from your "
            "weights file)."
        ),
        "settings": {
            "damsm_preset": "attngan-cub",
            "base_size": 64,
            "stages": 3,
            "latent_dim": 100,
            "condition_dim": 100,
            "ngf": 32,
            "ndf": 64,
            "residual_blocks": 2,
            "damsm_weight": 5.0,
            "batch_size": 20,
            "learning_rate": 2e-4,
            "beta_1": 0.5,
            "epochs": 600,
        },
    },
    "attngan-shapes": {
        "description": (
            "The recipe of the shipped saved_models/attngan_shapes on the built-in shapes: two stages "
            "32->64 px, z and code 64 each, ngf 32, ndf 32, two residual blocks, lambda 5, batch 16, "
            "guided by a DAMSM of preset shapes trained first; sized for about 30 minutes on 2 CPU cores."
        ),
        "settings": {
            "damsm_preset": "shapes",
            "base_size": 32,
            "stages": 2,
            "latent_dim": 64,
            "condition_dim": 64,
            "ngf": 32,
            "ndf": 32,
            "residual_blocks": 2,
            "damsm_weight": 5.0,
            "batch_size": 16,
            "epochs": 8,
        },
    },
    "quick": {
        "description": (
            "A tiny AttnGAN for tests and a first look: two stages 16->32 px, small networks, one "
            "short epoch, guided by a DAMSM of preset quick trained first. Seconds on a CPU; it does "
            "not learn to draw."
        ),
        "settings": {
            "damsm_preset": "quick",
            "base_size": 16,
            "stages": 2,
            "latent_dim": 16,
            "condition_dim": 16,
            "ngf": 8,
            "ndf": 8,
            "residual_blocks": 1,
            "batch_size": 8,
            "epochs": 1,
            "steps_per_epoch": 8,
            "checkpoint_every": 4,
        },
    },
}
