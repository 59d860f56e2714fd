"""Engine version: bump when a rule change would alter plans, so stored plans stay explainable."""

ENGINE_VERSION = "1.1.0"
