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

"""``vlm-planner distance``: how far apart data sets of planning items are, visually and in text.

Following Akiyama et al. 2024 (*Open-loop VLM Robot Planning*), who explain why fine-tuning
helps on one test set and not another by the Wasserstein-1 distance between the embedding
distributions of the data sets. For each data set a seeded random sample of items is drawn; one
random frame of each item is embedded by a visual embedder and the item's goal by a text
embedder; then for every pair of data sets the exact W1 between the two sets of embeddings
(Euclidean ground cost, uniform weights, POT's ``ot.emd2``) is computed with a bootstrap
interval. See docs/distance.md.

Modules, one job each:

* :mod:`.sampling`: the seeded sample of items, one random frame and the goal of each;
* :mod:`.embedders`: embedder specifications (``vision:MODEL``, ``clip:FOLDER``,
  ``tokens:MODEL``, ``clip-text:FOLDER``, ``fasttext:FILE``) and the common interface;
* :mod:`.planner_model`, :mod:`.clip`, :mod:`.word_vectors`: the embedders themselves;
* :mod:`.wasserstein`: exact W1 and its bootstrap interval;
* :mod:`.measure`: embedding the samples and measuring every pair;
* :mod:`.report`: the table, ``distance.json`` and the heat maps.
"""
