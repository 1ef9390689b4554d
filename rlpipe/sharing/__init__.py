"""Sharing runs on the Hugging Face Hub: the model card, its pictures, and pulling a run."""
