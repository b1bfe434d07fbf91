"""Presets of `tfgan-text train damsm`: AttnGAN's text and image encoders, pretrained alone."""

PRESETS = {
    "quick": {
        "description": (
            "A first DAMSM in well under a minute on 2 CPU cores: the built-in shapes at 64 px (the side of "
            "AttnGAN's first stage), narrow encoders (E 32), 300 steps of batch 32."
        ),
        "settings": {"text_embedding_dim": 32, "text_hidden_dim": 32, "image_encoder_filters": [16, 32, 64, 64],
                     "batch_size": 32, "epochs": 1, "steps_per_epoch": 300},
    },
    "shapes": {
        "description": (
            "The DAMSM that `train attngan --preset attngan-shapes` reads: the built-in shapes at 64 px, "
            "a bi-LSTM over 64-d words and a from-scratch CNN to E 128 (8x8 regions), AttnGAN's losses "
            "and Adam 0.002 (beta1 0.5), 12 epochs of batch 32 (3,744 steps, about 5 minutes on 2 CPU cores); "
            "val R-precision about 0.94."
        ),
        "settings": {"text_embedding_dim": 64, "text_hidden_dim": 128, "image_encoder_filters": [32, 64, 128, 256],
                     "batch_size": 32, "epochs": 12},
    },
    "attngan-cub": {
        "description": (
            "AttnGAN's DAMSM for CUB-200-2011 (--data PATH, AttnGAN's text/ captions): Inception-v3 kept "
            "frozen (--backbone-weights FILE, Keras's InceptionV3 weights without the top), regions from "
            "Mixed_6e (mixed7, 17x17) and the global feature from its last pool, both projected to 256; a "
            "bi-LSTM over 300-d words; gamma1 4, gamma2 5, gamma3 10; 299 px images with 76/64 random "
            "crops and flips; batch 48, Adam 0.002 (beta1 0.5), 600 epochs."
        ),
        "settings": {"image_encoder": "InceptionV3", "backbone_region_layer": "mixed7", "image_size": 299,
                     "text_embedding_dim": 300, "text_hidden_dim": 256, "random_crop": True, "flip": True,
                     "batch_size": 48, "learning_rate": 0.002, "beta_1": 0.5, "epochs": 600},
    },
}
