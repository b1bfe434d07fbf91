"""Presets of `tfgan-text train dcgan` (and of `train text-encoder`, its stage 1)."""

PRESETS = {
    "reed2016": {
        "description": (
            "GAN-INT-CLS as Reed et al. 2016 published it: char-CNN-RNN text encoder with a 1024-d "
            "embedding, condition averaged over 4 captions, ngf 128, ndf 64, batch 64, Adam 2e-4 "
            "(beta1 0.5) halved every 100 epochs, 600 epochs, 76->64 random crops and flips. For "
            "CUB or Oxford-102 (--data PATH); on the built-in shapes add --no-flip (its captions "
            "name left and right)."
        ),
        "settings": {
            "text_encoder": "char_cnn_rnn",
            "text_hidden_dim": 1024,
            "captions_per_image": 4,
            "ngf": 128,
            "ndf": 64,
            "batch_size": 64,
            "learning_rate": 2e-4,
            "beta_1": 0.5,
            "learning_rate_halving_epochs": 100,
            "epochs": 600,
            "loss": "gan_cls",
            "gan_int": True,
            "interpolation_beta": 0.5,
            "random_crop": True,
            "flip": True,
        },
    },
    "shapes-demo": {
        "description": (
            "The recipe of the shipped saved_models/dcgan_shapes on the built-in shapes at 64 px: "
            "stage 1 for 12 epochs with shape- and colour-swapped hard negatives, the max-pool image "
            "encoder and DAMSM's word loss; then 9 epochs of batch 16 (5,625 GAN steps) with D as "
            "heads on stage 1's frozen encoder, resize-convolution G with conditional batch norm and "
            "word attention at 8 and 16 px, DAMSM sentence and word matching (weight 5) with the same "
            "hard negatives, DiffAugment translation by up to 1/8 of the side, Adam 4e-4, label "
            "smoothing 0.1, no GAN-INT. About 30 minutes on 2 CPU cores."
        ),
        "settings": {
            "batch_size": 16,
            "epochs": 9,
            "learning_rate": 4e-4,
            "label_smoothing": 0.1,
            "discriminator": "encoder_features",
            "generator_upsampling": "resize",
            "generator_conditioning": "batch_norm",
            "generator_attention_sizes": [8, 16],
            "gan_int": False,
            "text_encoder_epochs": 12,
            "text_encoder_image_downsampling": "max_pool",
            "text_encoder_shape_negatives": 7,
            "text_encoder_color_negatives": 3,
            "text_encoder_word_weight": 1.0,
            "matching_weight": 5.0,
            "matching_shape_negatives": 7,
            "matching_color_negatives": 3,
            "matching_word_weight": 1.0,
            "augment_shift": 0.125,
        },
    },
    "quick": {
        "description": (
            "A first model in about 5 minutes on 2 CPU cores: the built-in shapes at 32 px, 2 epochs of "
            "stage 1 with DAMSM's word loss, then 4 epochs of batch 16 (2,500 GAN steps) with the "
            "shapes-demo's networks and DAMSM terms but no shapes-only hard negatives and no word "
            "attention; most generated images show the caption's colours, few its shapes."
        ),
        "settings": {
            "image_size": 32,
            "batch_size": 16,
            "epochs": 4,
            "learning_rate": 4e-4,
            "label_smoothing": 0.1,
            "discriminator": "encoder_features",
            "generator_upsampling": "resize",
            "generator_conditioning": "batch_norm",
            "gan_int": False,
            "text_encoder_epochs": 2,
            "text_encoder_image_downsampling": "max_pool",
            "text_encoder_word_weight": 1.0,
            "matching_weight": 5.0,
            "matching_word_weight": 1.0,
            "augment_shift": 0.125,
        },
    },
    "fashion-mnist": {
        "description": (
            "Real images: Fashion-MNIST (Debian's dataset-fashion-mnist; --data for another copy) at 32 px, "
            "captions from the IDX reader's five templates per class name. Reed's networks and losses "
            "(D on pixels, GAN-CLS, GAN-INT), batch 32, plus DAMSM's sentence and word matching in G's loss "
            "(weight 1) and DAMSM's word loss in stage 1 (one epoch); 10 epochs of 500 GAN steps. No "
            "shapes-only option: the recipe would run on CUB unchanged. About 10 minutes on 2 CPU cores."
        ),
        "settings": {
            "data": "/usr/share/datasets/fashion-mnist",
            "image_size": 32,
            "batch_size": 32,
            "epochs": 10,
            "steps_per_epoch": 500,
            "text_encoder_epochs": 1,
            "text_encoder_word_weight": 1.0,
            "matching_weight": 1.0,
            "matching_word_weight": 1.0,
        },
    },
}
