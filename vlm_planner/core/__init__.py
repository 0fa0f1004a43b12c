"""Planning logic shared by the live ROS node and the offline tools: pure Python and numpy."""
