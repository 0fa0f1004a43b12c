# Copyright 2026 vlm_planner maintainers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Error classes, one per kind of failure, all under :class:`VlmPlannerError`.

Every message says what was wrong and what to do about it, so callers can show it to a user as is.
"""


class VlmPlannerError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(VlmPlannerError):
    """A configuration value, file or parameter is missing or invalid."""


class ActionLibraryError(ConfigError):
    """The action library file is missing, malformed, or names an action twice."""


class UnknownActionError(VlmPlannerError):
    """A label is not in the action library."""


class ImageConversionError(VlmPlannerError):
    """An image message cannot be turned into an RGB array (bad encoding, size or data)."""


class ModelLoadError(VlmPlannerError):
    """A model folder cannot be loaded by the selected backend."""


class InferenceError(VlmPlannerError):
    """The model failed while answering a planning question."""


class BagError(VlmPlannerError):
    """A rosbag2 recording cannot be played or recorded as asked."""


class BagNotFoundError(BagError):
    """A rosbag2 recording does not exist at the given path."""


class BagFormatError(BagError):
    """A rosbag2 recording is corrupt, incomplete, or not a rosbag2 bag."""


class MessageTypeError(BagError):
    """A recorded message type is malformed or its Python package is not installed."""


class MediaError(VlmPlannerError):
    """A video file or a folder of images cannot be read."""


class AnnotationError(VlmPlannerError):
    """A data set file (annotations, EgoPlan items) is malformed or does not fit its media."""


class NodeCrashedError(VlmPlannerError):
    """A node's callback raised an exception that ended spinning, so its process stops."""
