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

"""The paper's experiments on the synthetic tabletop world: ``vlm-planner experiment``.

Akiyama et al. 2024 (*Open-loop VLM Robot Planning*) fine-tune a video VLM on planning questions
and ask which choices matter. :func:`~vlm_planner.experiment.runner.run_experiment` asks the
same of this package's own world, end to end, from an empty folder:

* fine-tuning data against test environment: train on one domain, test on its own test split
  and on domains shifted in look (lighting and camera; an unseen look) and in text (goal
  families never trained on), and relate the accuracy drop to the Wasserstein-1 distance;
* the vision encoder frozen against trainable;
* two language-model sizes;
* the four prompting strategies on the trained and on the untrained model.

Modules, one job each:

* :mod:`.config`: the settings (:class:`~.config.ExperimentConfig`, the command's flags);
* :mod:`.plan`: the ``vlm-planner`` commands that make the data, models and results;
* :mod:`.runner`: running them (in parallel where they are independent, resuming after a stop);
* :mod:`.results`: reading what they wrote back into numbers;
* :mod:`.report`: ``experiments.md`` and its plots.
"""
