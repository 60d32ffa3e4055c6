"""The review pair model's weights (services/identity/review_model.py), written by tools/fit_review_model.py:
logistic regression on standardised inputs, fitted on 4400 labelled pairs (343 same) from photos, run dev, run
dev-strict. Do not edit by hand."""

VERSION = 2
FEATURES = (
    'd_min', 'd_median', 'close_share', 'quality', 'log_faces', 'same_video', 'log_together',
    'd_median_x_quality', 'people_median', 'people_close',
)
MEAN = (
    0.762497, 0.801982, 0.0733886, 0.661943, 0.964758, 0.0122727, 0.00711219, 0.530958, 0.747972, 0.10964,
)
SCALE = (
    0.12787, 0.124301, 0.252491, 0.113356, 0.292278, 0.1101, 0.0805814, 0.125602, 0.134915, 0.309354,
)
COEF = (
    -0.754432, -1.12668, 0.389488, 0.372982, -0.0262596, 0.224407, -0.00185645, -0.440361, -1.98418, 0.417422,
)
INTERCEPT = -7.53249
