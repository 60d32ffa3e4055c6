"""The review pair model's weights (services/identity/review_model.py), written by tools/fit_review_model.py:
logistic regression on standardised inputs, fitted on 4420 labelled pairs (330 same) from photos, run
data-dev, run data-strict, every face encoded by opencv-mirror. Do not edit by hand."""

VERSION = 4
ENCODER = 'opencv-mirror'  # whose encodings the model was fitted on: its distances are on that encoder's scale
FEATURES = (
    'd_min', 'd_median', 'close_share', 'quality', 'log_faces', 'same_video', 'log_together',
    'd_median_x_quality', 'people_median', 'people_close',
)
MEAN = (
    0.754164, 0.79302, 0.0754732, 0.662552, 0.957879, 0.00995475, 0.00629947, 0.525886, 0.741709, 0.116351,
)
SCALE = (
    0.128997, 0.125389, 0.255762, 0.112932, 0.290984, 0.0992756, 0.0743311, 0.126961, 0.136813, 0.31723,
)
COEF = (
    -0.785482, -0.855405, 0.721948, 0.242426, 0.206116, 0.239482, -0.00580392, -0.408756, -1.21554, 0.604164,
)
INTERCEPT = -7.43696
