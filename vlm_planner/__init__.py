"""vlm_planner: plan a robot's next action with a locally hosted video-language model."""

__version__ = '0.1.0'
