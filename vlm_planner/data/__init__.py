"""Data in and out of the planner: image folders, video files, recordings."""
