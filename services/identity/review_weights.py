"""The review pair model's weights (services/identity/review_model.py), written by tools/fit_review_model.py:
logistic regression on standardised inputs, fitted on 4412 labelled pairs (343 same) from photos, run
data-dev, run data-strict. Do not edit by hand."""

VERSION = 3
FEATURES = (
    'd_min', 'd_median', 'close_share', 'quality', 'log_faces', 'same_video', 'log_together',
    'd_median_x_quality', 'people_median', 'people_close',
)
MEAN = (
    0.762575, 0.802005, 0.0732267, 0.661912, 0.965119, 0.0120127, 0.0072389, 0.530971, 0.748094, 0.109302,
)
SCALE = (
    0.127777, 0.124197, 0.252303, 0.113409, 0.292505, 0.108942, 0.0790932, 0.125684, 0.1348, 0.308998,
)
COEF = (
    -0.779942, -0.775462, 0.84717, 0.258889, -0.0388769, 0.25916, -0.00378692, -0.337165, -1.20047, 0.851128,
)
INTERCEPT = -7.50266
