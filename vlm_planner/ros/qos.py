"""QoS profiles shared by every node, so publishers and subscribers always match."""

from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy,
                       qos_profile_sensor_data)

#: Camera frames: best effort, keep only the newest; a late frame is worth nothing.
SENSOR_QOS = qos_profile_sensor_data

#: State that a late joiner must still get (goal, manipulator status): the last value, reliably.
LATCHED_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)

#: Commands and records (action, decision, estop): reliable, a short queue, nothing replayed to
#: late joiners.
COMMAND_QOS = QoSProfile(depth=10, history=HistoryPolicy.KEEP_LAST,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)
