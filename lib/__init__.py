"""Helpers behind the MNIST course-report notebooks.

Flat modules, each with one job:
paths (where things live), utils (seeding, device, threads), params (notebook
parameters and profiles), data (MNIST), models, train, cache (trained-model cache),
analysis (PCA, correlations, judge scores), plots, metrics (headline numbers as JSON)
and build (papermill + nbconvert report builder).
"""
