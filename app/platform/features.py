"""Experimental UI features a user can switch on in preferences (UserPreferences.enabled_features)."""
from flask_login import current_user

EXPERIMENTAL_FEATURES = {
    "relative_times": "Relative times (\u201c5 minutes ago\u201d, exact time on hover)",
    "compact_tables": "Compact tables (more rows on screen)",
}


def feature_enabled(name: str) -> bool:
    if not current_user or not current_user.is_authenticated or current_user.preferences is None:
        return False
    return name in (current_user.preferences.enabled_features or [])
