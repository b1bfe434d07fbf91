"""Metrics of generated images and captions; each takes activations, so any feature network fits."""
