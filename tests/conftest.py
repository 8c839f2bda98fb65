"""pytest configuration: hypothesis profiles.

``fast`` (the default) keeps the property-based tests to a few seconds per file;
``HYPOTHESIS_PROFILE=slow`` runs many more examples per property.
"""

import os

try:
    from hypothesis import settings
except ImportError:  # hypothesis is in the `test` extra; tests that need it skip without it
    pass
else:
    settings.register_profile("fast", max_examples=150, deadline=None)
    settings.register_profile("slow", max_examples=3000, deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))
