"""Shared test configuration: hypothesis profiles.

The default profile keeps the property-based tests fast (the suite runs on 2 cores in CI);
``HYPOTHESIS_PROFILE=slow python -m pytest`` runs 20x more examples per property.
"""

import os

from hypothesis import settings

settings.register_profile("default", max_examples=50, deadline=None, derandomize=True, print_blob=True)
settings.register_profile("slow", max_examples=1000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
