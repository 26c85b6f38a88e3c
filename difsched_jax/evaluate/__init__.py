"""Vectorised evaluation, confidence intervals, plots and reports."""
