"""pytest configuration: hypothesis profiles.

``fast`` (the default) keeps the property-based tests to a few seconds per file and draws the
same examples on every run (CI never flakes on a new example); ``HYPOTHESIS_PROFILE=slow`` runs
20x more, freshly drawn, examples per property.
"""

import os

try:
    from hypothesis import settings
except ImportError:  # hypothesis is in the `test` extra; tests that need it skip without it
    pass
else:
    settings.register_profile("fast", max_examples=150, deadline=None, derandomize=True, print_blob=True)
    settings.register_profile("slow", max_examples=3000, deadline=None, print_blob=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))
