"""Batch work on the simulator: pre-training and evaluation."""
