"""The review pair model's weights (review_model.py). Placeholder until tools/fit_review_model.py writes it."""

VERSION = 0
FEATURES = ("d_min", "d_median", "close_share", "quality", "log_faces", "same_video", "log_together",
            "d_median_x_quality")
MEAN = (0.0,) * 8
SCALE = (1.0,) * 8
COEF = (0.0, -10.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
INTERCEPT = 6.2
