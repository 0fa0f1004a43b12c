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

"""Fine-tune a video VLM on planning items: ``vlm-planner finetune`` (:func:`finetune`).

One run, in order:

1. the planner parameters (``-p``: keyframes, prompt, strategy, ``model.max_frames``...) are
   completed as the planner completes them, and the reply kind is checked against the scoring
   the model will be asked with (``action`` with ``likelihood``, ``letter`` with ``letter``);
2. the output folder's command record is written, or checked on a rerun (:mod:`.resume`);
3. the data sets are replayed once into item stores (:mod:`.store`), training items with their
   negatives drawn (:mod:`.items`);
4. the model loads, its trainable weights are chosen (:mod:`.modeling`), and the newest
   checkpoint, if any, is restored;
5. optimizer steps: each process takes its share of every step's items in an order that follows
   from the seed and the step alone; gradients accumulate over ``grad_accum`` forward passes and
   are averaged over processes by accelerate (``accelerate launch`` / ``torchrun`` runs it on
   several GPUs or processes); the loss is the mean cross-entropy of the reply tokens;
6. validation (:mod:`.validation`) at the start, every ``eval_every`` steps and at the end;
   checkpoints every ``save_every`` steps; ``metrics.jsonl`` and the learning-curve PNG
   (:mod:`.curves`);
7. the output folder: merged weights (or the LoRA adapter) with the processor, the prompt
   template trained with (``prompt.yaml``) and the model card (``vlm_planner.json``).

Output folder layout::

    OUT/config.json, model.safetensors, ...   the model (or adapter_config.json + adapter)
    OUT/prompt.yaml                           the prompt wording it was trained with
    OUT/vlm_planner.json                      model card: data, command, seed, accuracy
    OUT/training/run.json                     the command (a rerun must match it)
    OUT/training/metrics.jsonl                loss per step, validation accuracy
    OUT/training/learning_curves.png
    OUT/training/val_results.jsonl            the last validation, as eval writes results
    OUT/training/items/{train,val}/           the replayed items
    OUT/training/checkpoints/step-NNNNNNN/    checkpoints (the newest kept)
    OUT/training/finished.json                written last: the run is complete
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
from pathlib import Path
import shutil
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import torch
from tqdm import tqdm
import yaml

from vlm_planner import settings
from vlm_planner.core.prompts import PromptTemplate
from vlm_planner.core.strategies import StrategyConfig
from vlm_planner.data.items import Dataset
from vlm_planner.errors import ConfigError
from vlm_planner.params import flag
from vlm_planner.models.hf import is_adapter_folder
from vlm_planner.models.model_card import ModelCard, read_model_card, write_model_card
from vlm_planner.models.prefix_cache import keep_logits
from vlm_planner.models.spec import apply_model_spec
from vlm_planner.train import curves, modeling, resume
from vlm_planner.train.collate import collate, Encoder, IGNORE, LABELS
from vlm_planner.train.config import describe, FinetuneConfig
from vlm_planner.train.items import Prompter, SCENE, SCORING, with_negatives, without_options
from vlm_planner.train.store import ItemStore
from vlm_planner.train.validation import validate

logger = logging.getLogger(__name__)

TRAINING = 'training'
CHECKPOINTS = 'checkpoints'
FINISHED = 'finished.json'
PROMPT_FILE = 'prompt.yaml'
VAL_RESULTS = 'val_results.jsonl'
#: Planner parameters that shape what the model sees; the model card recommends them as trained.
SEEN_PREFIXES = ('keyframes.', 'model.max_frames', 'model.max_pixels')


@dataclasses.dataclass(frozen=True)
class FinetuneJob:
    """What to fine-tune on what, and where to write it.

    Attributes:
        train: the training data sets.
        model: the model to start from (``--model``: ``tiny``, ``tiny:ARCH``, a model folder or a
            LoRA adapter folder).
        out: the output folder (new, empty, or holding a run of the same job to resume).
        config: the fine-tuning settings.
        val: the validation data sets (none: no accuracy is measured).
        overrides: planner parameters (``-p``) the model will be deployed with: keyframes,
            prompt, strategy, ``model.max_frames`` / ``model.max_pixels``.
        sources: the file each data set was read from, by data set name (for the record).
        command: the command line, for the model card.
    """

    train: Sequence[Dataset]
    model: str
    out: Path
    config: FinetuneConfig = FinetuneConfig()
    val: Sequence[Dataset] = ()
    overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    sources: Mapping[str, str] = dataclasses.field(default_factory=dict)
    command: str = ''


@dataclasses.dataclass(frozen=True)
class FinetuneResult:
    """What a run produced.

    Attributes:
        out: the output folder.
        steps: optimizer steps done in all.
        train_items: training items (before the reply kinds multiply them).
        val_accuracy: the final validation accuracy (None without validation data).
        resumed_from: the step the run resumed from (0: it started fresh).
        already_finished: the folder held this run finished; nothing was done.
    """

    out: Path
    steps: int
    train_items: int
    val_accuracy: float | None
    resumed_from: int = 0
    already_finished: bool = False


@dataclasses.dataclass(frozen=True)
class _Plan:
    """The settings a run derives from its job before anything heavy happens."""

    values: dict[str, Any]  # complete planner parameters
    scoring: str  # how the trained model will be asked
    template: PromptTemplate  # the prompt wording trained with and deployed with
    strategy: StrategyConfig  # the planner's strategy settings with that scoring
    base: Path  # the model folder the run starts from


def plan(job: FinetuneJob) -> _Plan:
    """Check the job's settings against each other; return what follows from them.

    Raises:
        ConfigError: no training data, an unknown or invalid parameter, or a scoring the reply
            kind does not train for.
    """
    if not job.train:
        raise ConfigError('no training data: give --data with annotation files, EgoPlan-Bench '
                          'item files or folders of them.')
    values = settings.complete(apply_model_spec(dict(job.overrides), job.model))
    config = job.config
    given = job.overrides.get('strategy.scoring')
    scoring = SCORING[config.target] if config.target != 'both' else (given or 'likelihood')
    if given and given != scoring:
        raise ConfigError(
            f'--target {config.target} trains the reply that strategy.scoring '
            f'{scoring!r} reads, but -p strategy.scoring:={given} asks the model another way; '
            f'drop that -p, or use --target '
            f'{"letter" if given == "letter" else "action"} (or both).')
    template = settings.load_template(values)
    if not config.lettered:
        template = without_options(template)
    strategy = dataclasses.replace(settings.strategy_config(values), scoring=scoring)
    base = modeling.base_folder(job.model, values)
    if config.save_adapter and is_adapter_folder(base):
        raise ConfigError(f'--model {job.model} is a LoRA adapter folder; an adapter trained on '
                          'it would need its merged weights as base. Drop --save-adapter, or '
                          'start from the base model folder.')
    return _Plan(values={**values, 'strategy.scoring': scoring}, scoring=scoring,
                 template=template, strategy=strategy, base=base)


def command_record(job: FinetuneJob, processes: int) -> dict[str, Any]:
    """Everything that decides a run's result (see :func:`.resume.check_command`)."""
    record: dict[str, Any] = {
        '--data': [job.sources.get(d.name, d.name) for d in job.train],
        'data set names': [d.name for d in job.train],
        '--val': [job.sources.get(d.name, d.name) for d in job.val], '--model': job.model}
    record.update({f'-p {name}': value for name, value in sorted(job.overrides.items())})
    record.update({flag(name): value for name, value in describe(job.config).items()})
    record['processes'] = processes
    return record


def finetune(job: FinetuneJob, *, progress: bool = True,
             on_step: Callable[[int], None] | None = None) -> FinetuneResult:
    """Run (or resume) the fine-tuning ``job``; see the module docstring.

    Args:
        job: what to train on what, and where.
        progress: show progress bars.
        on_step: called with the step number after every optimizer step (and its checkpoint).

    Raises:
        ConfigError: a setting is invalid, the output folder holds another run or other files,
            or the loss stops being finite.
        ModelLoadError: the model cannot be loaded.
        AnnotationError, BagError: a data set cannot be read.
    """
    derived = plan(job)
    out = Path(job.out).expanduser()
    training = out / TRAINING
    accelerator = _accelerator(job.config, derived.values)
    main = accelerator.is_main_process
    if main and out.exists() and any(out.iterdir()) and not (training / resume.RUN_FILE).exists():
        raise ConfigError(f'--out {out} is not empty and holds no fine-tuning run; give a new or '
                          'empty folder (a rerun of the same command into it resumes).')
    record = command_record(job, accelerator.num_processes)
    if main:
        progressed = ((training / FINISHED).is_file()
                      or resume.latest_checkpoint(training / CHECKPOINTS) is not None)
        resume.check_command(training, record, progress=progressed)
    accelerator.wait_for_everyone()
    if not main:
        resume.check_command(training, record)
    if (training / FINISHED).is_file():
        done = json.loads((training / FINISHED).read_text(encoding='utf-8'))
        return FinetuneResult(out, done['steps'], done['train_items'], done['val_accuracy'],
                              already_finished=True)
    return _Run(job, derived, accelerator, progress and main).run(on_step)


def reply_loss(model: Any, batch: Mapping[str, torch.Tensor],
               inner: Any = None) -> tuple[torch.Tensor, int]:
    """The summed cross-entropy of the reply tokens of ``batch``, and their count.

    Only the logits from the position before the first reply token on are computed where the
    model allows it (``logits_to_keep``).

    Args:
        model: the model to run (possibly wrapped by peft or for distributed training).
        batch: inputs with ``labels``, on the model's device.
        inner: the transformers model inside ``model``, whose signature says whether it can keep
            only the last logits (default: ``model``).
    """
    inputs = {key: value for key, value in batch.items() if key != LABELS}
    labels = batch[LABELS]
    width = labels.shape[1]
    first = int((labels != IGNORE).any(dim=0).nonzero().min())
    keep = width - first + 1
    kwargs = keep_logits(inner if inner is not None else model, keep)
    if not kwargs:
        keep = width
    logits = model(**inputs, **kwargs, use_cache=False).logits[:, -keep:]
    targets = labels[:, width - keep + 1:]
    summed = torch.nn.functional.cross_entropy(
        logits[:, :-1].float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
        ignore_index=IGNORE, reduction='sum')
    return summed, int((targets != IGNORE).sum())


def _accelerator(config: FinetuneConfig, values: Mapping[str, Any]) -> Any:
    """The accelerate engine: CPU or GPU, mixed precision, one or several processes."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, PartialState
    from accelerate.utils import DistributedDataParallelKwargs

    cpu = values['model.device'] == 'cpu' or not torch.cuda.is_available()
    mixed = 'bf16' if config.precision == 'bf16' or (
        config.precision == 'auto' and not cpu) else 'no'
    if PartialState._shared_state and PartialState().num_processes == 1:
        # A run earlier in this process (a test, a sweep) may have set other options.
        AcceleratorState._reset_state()
    return Accelerator(cpu=cpu, mixed_precision=mixed, kwargs_handlers=[
        # Multimodal models leave some weights unused by some batches (no video in a prompt).
        DistributedDataParallelKwargs(find_unused_parameters=True)])


class _Run:
    """One run of a job (see :func:`finetune`)."""

    def __init__(self, job: FinetuneJob, derived: _Plan, accelerator: Any,
                 progress: bool) -> None:
        self.job = job
        self.config = job.config
        self.plan = derived
        self.accelerator = accelerator
        self.progress = progress
        self.out = Path(job.out).expanduser()
        self.training = self.out / TRAINING
        self.checkpoints = self.training / CHECKPOINTS
        self.metrics = curves.MetricsLog(self.training / curves.METRICS_FILE)
        self.model_config = settings.model_config(derived.values)
        self.prompter = Prompter(derived.strategy, derived.template)

    # --- setup --------------------------------------------------------------------------------

    def _stores(self) -> tuple[ItemStore, ItemStore | None]:
        keyframes = settings.keyframe_config(self.plan.values)
        train = ItemStore(self.training / 'items' / 'train')
        val = ItemStore(self.training / 'items' / 'val') if self.job.val else None
        if self.accelerator.is_main_process:
            if not train.complete:
                items = (item for dataset in self.job.train for item in dataset.items(keyframes))
                train.write(with_negatives(items, self.config.negatives, self.config.seed),
                            progress=self.progress, description='training items')
            if val is not None and not val.complete:
                val.write((item for dataset in self.job.val for item in dataset.items(keyframes)),
                          progress=self.progress, description='validation items')
        self.accelerator.wait_for_everyone()
        if not len(train):
            raise ConfigError('the training data holds no decision point; check --data.')
        return train, val

    def _examples(self) -> list[tuple[int, str]]:
        """Every (item, reply kind) pair trained on, in store order.

        Each item comes in each reply kind of the config, and with ``describe_scene`` once more
        as a scene item when it has a description.

        Raises:
            ConfigError: ``describe_scene`` is set and no training item has a description.
        """
        kinds = self.config.kinds
        examples = []
        for index, record in enumerate(self.train_store.records):
            examples += [(index, kind) for kind in kinds]
            if self.config.describe_scene and record.get('scene'):
                examples.append((index, SCENE))
        if self.config.describe_scene and not any(kind == SCENE for _, kind in examples):
            raise ConfigError(
                "--describe-scene: no training decision point has a scene description. Give "
                "data written by vlm-planner generate, add 'scene' to your annotations' decision "
                'points, or drop --describe-scene.')
        return examples

    def _model(self) -> tuple[Any, Any, Path]:
        from vlm_planner.models.hf import load_pretrained

        base = self.plan.base
        dtype = (torch.bfloat16 if self.config.lora and self.accelerator.mixed_precision == 'bf16'
                 else torch.float32)
        processor, model = load_pretrained(
            base, dtype=dtype, attn_implementation=self.model_config.attn_implementation,
            trust_remote_code=self.model_config.trust_remote_code)
        if (self.accelerator.is_main_process and not self.config.train_vision
                and read_model_card(base).untrained):
            logger.warning('%s is randomly initialised and its vision encoder stays frozen: add '
                           '--train-vision to train it from scratch.', base)
        return processor, modeling.make_trainable(model, self.config), base

    def _scheduler(self, optimizer: Any, total: int) -> Any:
        warm = round(self.config.warmup * total)
        schedule = self.config.schedule

        def factor(step: int) -> float:
            if step < warm:
                return (step + 1) / (warm + 1)
            progress = (step - warm) / max(1, total - warm)
            if schedule == 'cosine':
                return 0.5 * (1.0 + math.cos(math.pi * progress))
            return 1.0 - progress if schedule == 'linear' else 1.0

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    # --- the run ------------------------------------------------------------------------------

    def run(self, on_step: Callable[[int], None] | None) -> FinetuneResult:
        accelerator, config = self.accelerator, self.config
        from accelerate.utils import set_seed

        set_seed(config.seed)
        self.train_store, self.val_store = self._stores()
        processor, model, base = self._model()
        self.processor = processor
        self.encoder = Encoder(processor, max_frames=self.model_config.max_frames,
                               max_pixels=self.model_config.pixel_budget, name=base.name,
                               video_fps=self.model_config.video_fps)
        self.examples = self._examples()
        examples = len(self.examples)
        per_step = config.batch_size * config.grad_accum * accelerator.num_processes
        total = config.steps or max(1, math.ceil((config.epochs or 1.0) * examples / per_step))
        parameters = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
        scheduler = self._scheduler(optimizer, total)
        model, optimizer = accelerator.prepare(model, optimizer)
        self.model = model
        start = self._resume(optimizer, scheduler)
        self.metrics.truncate(start if start else -1)
        trainable, count = modeling.trainable_count(accelerator.unwrap_model(model))
        logger.info('fine-tuning %s: %d of %d weights train; %d items, %d steps of %d',
                    base, trainable, count, len(self.train_store), total, per_step)
        accuracy = self._validate(0) if start == 0 and config.eval_every else None
        model.train()
        with tqdm(total=total, initial=start, desc='fine-tuning', unit='step',
                  disable=not self.progress) as bar:
            for step in range(start + 1, total + 1):
                loss = self._step(step, examples, optimizer, scheduler)
                record = {'kind': 'train', 'step': step, 'loss': loss,
                          'lr': scheduler.get_last_lr()[0],
                          'epoch': step * per_step / examples}
                if accelerator.is_main_process:
                    self.metrics.append(record)
                if config.eval_every and step % config.eval_every == 0 and step < total:
                    accuracy = self._validate(step)
                if config.save_every and step % config.save_every == 0 and step < total:
                    self._checkpoint(step, optimizer, scheduler)
                bar.update(1)
                bar.set_postfix(loss=f'{loss:.4f}', **(
                    {'val': f'{accuracy:.1%}'} if accuracy is not None else {}))
                if on_step is not None:
                    on_step(step)
        if self.val_store is not None:
            accuracy = self._validate(total, final=True)
        if accelerator.is_main_process:
            self._write_outputs(base, total, accuracy)
        accelerator.wait_for_everyone()
        return FinetuneResult(self.out, total, len(self.train_store), accuracy,
                              resumed_from=start)

    def _resume(self, optimizer: Any, scheduler: Any) -> int:
        latest = resume.latest_checkpoint(self.checkpoints)
        if latest is None:
            return 0
        state = resume.load_checkpoint(latest, model=self.accelerator.unwrap_model(self.model),
                                       optimizer=optimizer, scheduler=scheduler)
        resume.load_rng(latest, self.accelerator.process_index)
        logger.info('resuming from %s (step %d)', latest, state['step'])
        return int(state['step'])

    def _positions(self, step: int, micro: int, examples: int) -> Iterator[tuple[int, str]]:
        """This process's (item, reply kind) pairs for one forward pass of ``step``."""
        config, accelerator = self.config, self.accelerator
        size = config.batch_size
        per_step = size * config.grad_accum * accelerator.num_processes
        first = ((step - 1) * per_step + micro * size * accelerator.num_processes
                 + accelerator.process_index * size)
        for position in range(first, first + size):
            epoch, offset = divmod(position, examples)
            yield self.examples[int(self._order(epoch, examples)[offset])]

    def _order(self, epoch: int, examples: int) -> np.ndarray:
        """The order of the examples in ``epoch``: a permutation that follows from the seed."""
        cached = getattr(self, '_cached_order', None)
        if cached is None or cached[0] != epoch:
            order = np.random.default_rng([self.config.seed, epoch]).permutation(examples)
            self._cached_order = cached = (epoch, order)
        return cached[1]

    def _step(self, step: int, examples: int, optimizer: Any, scheduler: Any) -> float:
        """One optimizer step; return the step's loss (mean per reply token, all processes).

        The loss is normalised by the reply tokens of the whole step over all processes, so a
        step is the same whether its items come in one batch, several accumulated batches or
        on several processes.
        """
        accelerator, model, config = self.accelerator, self.model, self.config
        device = accelerator.device
        passes = []
        local_tokens = 0
        for micro in range(config.grad_accum):
            encoded = [self.encoder.encode(self.prompter.training_item(self.train_store[i], kind))
                       for i, kind in self._positions(step, micro, examples)]
            local_tokens += sum(int((e[LABELS] != IGNORE).sum()) for e in encoded)
            passes.extend(collate(encoded, self.encoder.pad_id))
        tokens = accelerator.reduce(torch.tensor(float(local_tokens), device=device),
                                    reduction='sum')
        # Gradients are averaged over processes, hence the factor.
        scale = accelerator.num_processes / float(tokens)
        summed_loss = torch.zeros((), dtype=torch.float64, device=device)
        inner = modeling.inner_model(accelerator.unwrap_model(model))
        for number, batch in enumerate(passes):
            last = number == len(passes) - 1
            with contextlib.nullcontext() if last else accelerator.no_sync(model):
                summed, _ = reply_loss(model, {k: v.to(device) for k, v in batch.items()}, inner)
                accelerator.backward(summed * scale)
            summed_loss += summed.detach().double()
        if config.max_grad_norm:
            accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        loss = float(accelerator.reduce(summed_loss, reduction='sum')) / float(tokens)
        if not math.isfinite(loss):
            raise ConfigError(f'the loss became {loss} at step {step}; lower --lr (now '
                              f'{config.lr}) or use --precision fp32.')
        return loss

    # --- validation, checkpoints, outputs -----------------------------------------------------

    def _validate(self, step: int, final: bool = False) -> float | None:
        """Validate on the main process (the others wait); return the accuracy."""
        accelerator = self.accelerator
        if self.val_store is None:
            return None
        accuracy = None
        if accelerator.is_main_process:
            from vlm_planner.models.hf import TransformersBackend

            inner = modeling.inner_model(accelerator.unwrap_model(self.model))
            inner.eval()
            devices = [accelerator.device] if accelerator.device.type == 'cuda' else []
            with torch.random.fork_rng(devices=devices), accelerator.autocast():
                backend = TransformersBackend.from_model(
                    inner, self.processor, name=self.out.name or 'finetune',
                    max_frames=self.model_config.max_frames,
                    max_pixels=self.model_config.pixel_budget,
                    video_fps=self.model_config.video_fps)
                result = validate(backend, self.val_store, self.plan.strategy,
                                  self.plan.template, limit=self.config.val_limit)
            inner.train()
            accuracy = result.accuracy
            self.metrics.append({'kind': 'val', 'step': step, 'accuracy': result.accuracy,
                                 'items': result.items, 'chance': result.chance,
                                 'failed': len(result.failures)})
            if final:
                (self.training / VAL_RESULTS).write_text(
                    ''.join(json.dumps(r) + '\n' for r in result.records), encoding='utf-8')
        accelerator.wait_for_everyone()
        return accuracy

    def _checkpoint(self, step: int, optimizer: Any, scheduler: Any) -> None:
        accelerator = self.accelerator
        path = self.checkpoints / (resume.checkpoint_name(step) + '.partial')
        if accelerator.is_main_process:
            resume.staging(self.checkpoints, step)
        accelerator.wait_for_everyone()
        resume.save_rng(path, accelerator.process_index)
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            resume.finish_checkpoint(
                path, model=accelerator.unwrap_model(self.model), optimizer=optimizer,
                scheduler=scheduler, state={'step': step, 'examples_seen': step * (
                    self.config.batch_size * self.config.grad_accum
                    * accelerator.num_processes), 'seed': self.config.seed},
                keep=self.config.keep_checkpoints)
        accelerator.wait_for_everyone()

    def _write_outputs(self, base: Path, steps: int, accuracy: float | None) -> None:
        """Write the model, prompt, model card, curves and the finished marker."""
        model = self.accelerator.unwrap_model(self.model)
        adapter = self.config.save_adapter
        modeling.save_model(model, self.processor, self.out, adapter=adapter, base=base,
                            dtype=modeling.stored_dtype(base))
        template = dataclasses.asdict(self.plan.template)
        (self.out / PROMPT_FILE).write_text(
            '# The prompt wording this model was fine-tuned with (vlm-planner finetune).\n'
            + yaml.safe_dump(template, sort_keys=False, allow_unicode=True, width=1000),
            encoding='utf-8')
        write_model_card(self.out, self._card(base, steps, accuracy))
        records = self.metrics.records()
        curves.plot_curves(records, self.training / curves.CURVES_FILE,
                           title=f'{self.out.name}: fine-tuned from {base.name}')
        if self.config.keep_checkpoints:
            resume.prune(self.checkpoints, self.config.keep_checkpoints)
        else:
            shutil.rmtree(self.checkpoints, ignore_errors=True)
        (self.training / FINISHED).write_text(json.dumps(
            {'steps': steps, 'train_items': len(self.train_store), 'val_accuracy': accuracy},
            indent=2) + '\n', encoding='utf-8')

    def _card(self, base: Path, steps: int, accuracy: float | None) -> ModelCard:
        job, config = self.job, self.config
        recommended: dict[str, Any] = {'strategy.scoring': self.plan.scoring}
        if self.plan.template != PromptTemplate.default():
            recommended['prompt_file'] = PROMPT_FILE  # relative to the model folder
        recommended.update({name: value for name, value in sorted(job.overrides.items())
                            if name.startswith(SEEN_PREFIXES)})
        counts = self.train_store.counts()
        weights = (f'LoRA rank {config.lora_rank}' if config.lora else 'all weights')
        vision = 'trained' if config.train_vision else 'frozen'
        trained_on = (f'fine-tuned by vlm-planner finetune from {base.name} on '
                      f'{len(self.train_store)} items of {", ".join(counts)}: {config.target} '
                      f'target, {weights}, vision encoder {vision}, {steps} steps, seed '
                      f'{config.seed}')
        if config.describe_scene:
            trained_on += ', scene descriptions as an auxiliary target'
        if accuracy is not None:
            trained_on += f'; validation accuracy {accuracy:.1%}'
        if job.command:
            trained_on += f'; command: {job.command}'
        details: dict[str, Any] = {
            'base_model': str(base), 'base_trained_on': read_model_card(base).trained_on,
            'data': [{'name': name, 'file': job.sources.get(name, name), 'items': count}
                     for name, count in counts.items()],
            'val': (self.val_store.counts() if self.val_store is not None else {}),
            'command': job.command, 'seed': config.seed, 'steps': steps,
            'final_val_accuracy': accuracy, 'adapter': config.save_adapter,
            'finetune': describe(config), 'parameters': dict(job.overrides)}
        return ModelCard(untrained=False, trained_on=trained_on, recommended=recommended,
                         details=details)
