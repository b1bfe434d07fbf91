"""Image-to-text models: the captioner (CNN -> LSTM), its discriminator, SeqGAN and Gumbel-softmax GANs, decoding."""
