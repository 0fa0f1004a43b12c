"""The thin ROS 2 layer: nodes, message conversions and QoS profiles. No planning logic here."""
