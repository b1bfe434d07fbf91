"""Text-to-image models: the GAN-INT-CLS DCGAN (Reed et al. 2016), its networks and generator terms."""
