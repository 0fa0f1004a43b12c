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

"""Write synthetic data sets of tabletop episodes: ``vlm-planner generate``.

Episodes (:mod:`vlm_planner.sim.episodes`) are filmed (:mod:`vlm_planner.sim.filming`) with a
random look (:mod:`vlm_planner.sim.appearance`) and written (:mod:`vlm_planner.sim.recording`)
in the format ``vlm-planner eval`` reads (docs/datasets.md, "Generated episodes")::

    OUT/manifest.json                     counts, seeds, settings, appearance ranges, command
    OUT/actions.yaml                      the action library the labels come from
    OUT/<split>/eNNNNN.yaml               annotation file per episode: 4 candidates per step
    OUT/<split>-all-actions/eNNNNN.yaml   the same steps with the whole library as candidates
    OUT/bags/<split>/eNNNNN/              the episode's rosbag2 recording
    OUT/episodes/<split>.jsonl            per episode: seed, goal, worlds, steps, appearance

One recording per episode, so a replay never carries a frame of one episode into another.
Splits ``train``/``val``/``test`` (or as ``--splits`` says) draw disjoint start layouts (each
layout belongs to one split by a hash of it) and disjoint seeds; the ``ood`` split uses the test
split's layouts. The in-domain splits draw their appearances from one range of
:data:`~vlm_planner.sim.appearance.LOOKS` (``--look``, default ``in-domain``), the ``ood`` split
from another (``--ood-look``, default ``out-of-domain``); a look changes only the pixels, never
the episodes, goals or labels of the same seeds.

Everything follows from the seed: the same options give the same annotation files, episode
files and bag contents, whatever the number of worker processes.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import functools
import hashlib
import json
import multiprocessing
import os
from pathlib import Path
import re
import shlex
import shutil
import tempfile
from typing import Iterable, Iterator
import zlib

import numpy as np

from vlm_planner import __version__
from vlm_planner.config_paths import default_actions_file
from vlm_planner.core.actions import ActionLibrary
from vlm_planner.data.bag_io import STORAGES
from vlm_planner.errors import ActionLibraryError, ConfigError
from vlm_planner.sim.appearance import AppearanceSpace, IN_DOMAIN, LOOKS, OUT_OF_DOMAIN
from vlm_planner.sim.episodes import DETOURS, FAMILIES, make_episode, RolloutConfig
from vlm_planner.sim.filming import film, FilmConfig
from vlm_planner.sim.recording import EpisodeFiles, IMAGE_FORMATS, TOPIC, write_episode
from vlm_planner.sim.tasks import pick_label, PUT_IN_BIN, PUT_ON_TABLE, stack_label
from vlm_planner.sim.world import COLOURS, TabletopWorld

#: Bumped whenever the same options would give different data.
GENERATOR_VERSION = 2

DEFAULT_SPLITS = 'train:0.8,val:0.1,test:0.1'
OOD_SPLIT = 'ood'
ACTIONS_FILE = 'actions.yaml'
ALL_ACTIONS = '-all-actions'
MANIFEST = 'manifest.json'
GENERATOR = 'vlm-planner generate'

_SPLIT_NAME = re.compile(r'[A-Za-z0-9_]+')


@dataclasses.dataclass(frozen=True)
class Split:
    """A split of the data set and its share of the episodes and start layouts."""

    name: str
    fraction: float


def parse_splits(text: str) -> tuple[Split, ...]:
    """Read a split spec such as ``train:0.8,val:0.1,test:0.1``.

    Raises:
        ConfigError: an entry is not ``NAME:FRACTION``, a name repeats or is ``ood``, a fraction
            is not positive, or the fractions do not add up to 1.
    """
    hint = f'write NAME:FRACTION,... with fractions adding up to 1, e.g. {DEFAULT_SPLITS}'
    splits: list[Split] = []
    for entry in text.split(','):
        name, sep, value = entry.strip().partition(':')
        try:
            fraction = float(value)
        except ValueError:
            fraction = float('nan')
        if not sep or not _SPLIT_NAME.fullmatch(name) or not fraction > 0:
            raise ConfigError(f'cannot read split {entry.strip()!r} of --splits {text!r}; {hint} '
                              '(names: letters, digits, _).')
        if name == OOD_SPLIT or name in (s.name for s in splits):
            why = 'reserved for the out-of-domain split' if name == OOD_SPLIT else 'given twice'
            raise ConfigError(f'split name {name!r} of --splits {text!r} is {why}; {hint}.')
        splits.append(Split(name, fraction))
    total = sum(s.fraction for s in splits)
    if abs(total - 1.0) > 1e-6:
        raise ConfigError(f'the fractions of --splits {text!r} add up to {total:g}, not 1; '
                          f'{hint}.')
    return tuple(splits)


def parse_families(text: str) -> tuple[str, ...]:
    """Read a comma-separated list of goal families (``all`` for every one).

    Raises:
        ConfigError: a family is unknown or the list is empty.
    """
    names = [n.strip() for n in text.split(',') if n.strip()]
    if names == ['all']:
        return FAMILIES
    unknown = [n for n in names if n not in FAMILIES]
    if unknown or not names:
        raise ConfigError(f'unknown goal famil{"y" if len(unknown) == 1 else "ies"} '
                          f'{", ".join(unknown) or repr(text)}; choose from {", ".join(FAMILIES)} '
                          '(comma-separated) or all.')
    return tuple(dict.fromkeys(names))


@dataclasses.dataclass(frozen=True)
class GenerateOptions:
    """What to generate.

    Attributes:
        episodes: episodes over the in-domain splits.
        seed: the seed everything is drawn from.
        splits: the in-domain splits.
        ood_episodes: episodes of the out-of-domain split; None: as many as the test split
            (the last split when none is called ``test``); 0: no such split.
        storage: ``sqlite3`` or ``mcap``.
        image_format: ``raw`` (sensor_msgs/Image rgb8) or ``png`` (lossless CompressedImage).
        families: goal families, cycled through in each split.
        film: frame size and timing.
        rollout: layouts, head starts and detours.
        actions_file: the action library; None: the shipped tabletop library.
        in_domain: appearance range of the in-domain splits (``--look``).
        out_of_domain: appearance range of the ``ood`` split (``--ood-look``).
    """

    episodes: int
    seed: int = 0
    splits: tuple[Split, ...] = parse_splits(DEFAULT_SPLITS)
    ood_episodes: int | None = None
    storage: str = 'sqlite3'
    image_format: str = 'raw'
    families: tuple[str, ...] = FAMILIES
    film: FilmConfig = FilmConfig()
    rollout: RolloutConfig = RolloutConfig()
    actions_file: str | None = None
    in_domain: AppearanceSpace = IN_DOMAIN
    out_of_domain: AppearanceSpace = OUT_OF_DOMAIN

    def __post_init__(self) -> None:
        if isinstance(self.episodes, bool) or not isinstance(self.episodes, int) or \
                self.episodes < len(self.splits):
            raise ConfigError(
                f'--episodes must be a whole number of at least {len(self.splits)} (one per '
                f'split: {", ".join(s.name for s in self.splits)}), got {self.episodes!r}.')
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f'--seed must be a whole number of 0 or more, got {self.seed!r}.')
        if self.ood_episodes is not None and self.ood_episodes < 0:
            raise ConfigError(f'--ood-episodes must be 0 or more, got {self.ood_episodes!r}.')
        if self.image_format not in IMAGE_FORMATS:
            raise ConfigError(f'--image-format must be one of {", ".join(IMAGE_FORMATS)}, got '
                              f'{self.image_format!r}.')
        if self.storage not in STORAGES:
            raise ConfigError(f'--storage must be one of {", ".join(STORAGES)}, got '
                              f'{self.storage!r}.')
        if not self.families or any(f not in FAMILIES for f in self.families):
            raise ConfigError(f'families must be some of {", ".join(FAMILIES)}, got '
                              f'{self.families!r}.')

    @property
    def held_out(self) -> Split:
        """The split whose layouts the out-of-domain split shares."""
        return next((s for s in self.splits if s.name == 'test'), self.splits[-1])

    def sizes(self) -> dict[str, int]:
        """Episodes per split, ``ood`` included (largest remainders, at least one each)."""
        exact = [s.fraction * self.episodes for s in self.splits]
        sizes = [max(1, int(x)) for x in exact]
        order = sorted(range(len(exact)), key=lambda i: (sizes[i] - exact[i], i))
        i = 0
        while sum(sizes) != self.episodes:
            j = order[i % len(order)]
            if sum(sizes) < self.episodes:
                sizes[j] += 1
            elif sizes[j] > 1:
                sizes[j] -= 1
            i += 1
        result = {s.name: n for s, n in zip(self.splits, sizes)}
        ood = result[self.held_out.name] if self.ood_episodes is None else self.ood_episodes
        if ood:
            result[OOD_SPLIT] = ood
        return result

    def layout_ranges(self) -> dict[str, tuple[float, float]]:
        """The share of start layouts (see :func:`layout_position`) each split draws from."""
        ranges, low = {}, 0.0
        for i, split in enumerate(self.splits):
            high = 1.0 if i == len(self.splits) - 1 else low + split.fraction
            ranges[split.name] = (low, high)
            low = high
        ranges[OOD_SPLIT] = ranges[self.held_out.name]
        return ranges

    def library(self) -> ActionLibrary:
        """Load the action library.

        Raises:
            ConfigError: the library cannot be read.
        """
        return _library(self.actions_file or str(default_actions_file()))

    def to_dict(self) -> dict[str, object]:
        """Return the options as JSON-ready data (for the manifest)."""
        return {
            'episodes': self.episodes, 'seed': self.seed,
            'splits': {s.name: s.fraction for s in self.splits},
            'ood_episodes': self.sizes().get(OOD_SPLIT, 0), 'storage': self.storage,
            'image_format': self.image_format,
            'families': list(self.families), 'topic': TOPIC,
            'film': dataclasses.asdict(self.film),
            'rollout': {k: list(v) if isinstance(v, tuple) else v
                        for k, v in dataclasses.asdict(self.rollout).items()},
            'look': self.in_domain.name, 'ood_look': self.out_of_domain.name,
        }


@functools.lru_cache(maxsize=4)
def _library(path: str) -> ActionLibrary:
    try:
        library = ActionLibrary.from_yaml(path)
    except ActionLibraryError as exc:
        raise ConfigError(f'cannot generate episodes: {exc}') from None
    expert = [pick_label(c) for c in COLOURS] + [stack_label(c) for c in COLOURS] + \
        [PUT_IN_BIN, PUT_ON_TABLE]
    missing = [label for label in expert if label not in library]
    if missing:
        raise ConfigError(f'action library {path} lacks the expert\'s actions '
                          f'{"; ".join(missing)}; extend config/actions/tabletop.yaml instead.')
    return library


def layout_position(world: TabletopWorld) -> float:
    """Return where a start layout falls in 0..1: a hash of it, the same on every machine."""
    key = json.dumps(world.to_dict(), sort_keys=True).encode()
    return int(hashlib.sha256(key).hexdigest()[:13], 16) / 16 ** 13


def episode_seed(seed: int, split: str, index: int) -> int:
    """Return the seed of episode ``index`` of ``split``: distinct across splits and indices."""
    words = np.random.SeedSequence([seed, zlib.crc32(split.encode()), index]).generate_state(2)
    return (int(words[0]) << 32 | int(words[1])) >> 1


@dataclasses.dataclass(frozen=True)
class Job:
    """One episode to make and write, as a worker process gets it."""

    root: Path
    split: str
    index: int
    seed: int
    family: str
    layouts: tuple[float, float]
    space: AppearanceSpace
    options: GenerateOptions

    @property
    def episode_id(self) -> str:
        """The episode's name in its split, e.g. ``e00012``."""
        return f'e{self.index:05d}'

    @property
    def files(self) -> EpisodeFiles:
        """Where the episode's files go, relative to the data set folder."""
        name = self.episode_id
        return EpisodeFiles(bag=Path('bags', self.split, name),
                            annotation=Path(self.split, f'{name}.yaml'),
                            all_actions=Path(f'{self.split}{ALL_ACTIONS}', f'{name}.yaml'),
                            actions_file=Path(ACTIONS_FILE))


def make(job: Job) -> dict[str, object]:
    """Roll out, dress, film and write one episode (runs in a worker process).

    Returns:
        The episode's line of the split's episode file.
    """
    library = job.options.library()
    low, high = job.layouts

    def accept(world: TabletopWorld) -> bool:
        return low <= layout_position(world) < high

    episode = make_episode(job.seed, job.family, library, job.options.rollout, accept)
    # A generator of its own, so the look does not depend on how many layouts were tried.
    appearance = job.space.sample(np.random.default_rng([job.seed, 1]))
    filmed = film(episode, appearance, library, job.options.film)
    files = job.files
    times = write_episode(job.root, files, job.episode_id, episode, filmed, library,
                          job.options.storage, job.options.image_format)
    return {'split': job.split, 'id': job.episode_id, 'seed': episode.seed,
            'family': episode.family, 'goal': episode.goal,
            'annotation': files.annotation.as_posix(), 'bag': files.bag.as_posix(),
            'frames': len(filmed.frames), 'decision_times': times,
            'appearance': appearance.to_dict(), 'episode': episode.to_dict()}


def jobs(root: Path, options: GenerateOptions) -> list[Job]:
    """Return every episode to make, split by split."""
    ranges = options.layout_ranges()
    result = []
    for split, count in options.sizes().items():
        space = options.out_of_domain if split == OOD_SPLIT else options.in_domain
        offset = zlib.crc32(split.encode()) % len(options.families)
        for index in range(count):
            family = options.families[(offset + index) % len(options.families)]
            result.append(Job(root, split, index, episode_seed(options.seed, split, index),
                              family, ranges[split], space, options))
    return result


def _init_worker() -> None:
    import cv2
    cv2.setNumThreads(1)


def _made(todo: list[Job], workers: int) -> Iterator[dict[str, object]]:
    """Make the episodes in ``workers`` processes; yield their records in ``todo`` order."""
    if workers <= 1:
        yield from map(make, todo)
        return
    context = multiprocessing.get_context('spawn')
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context,
                                                initializer=_init_worker) as pool:
        futures = [pool.submit(make, job) for job in todo]
        try:
            for future in futures:
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def check_out(out: Path, overwrite: bool) -> None:
    """Refuse an output folder that holds anything but a data set to overwrite.

    Raises:
        ConfigError: ``out`` is a file, or a non-empty folder without ``overwrite``, or with
            ``overwrite`` a folder this command did not write.
    """
    if out.exists() and not out.is_dir():
        raise ConfigError(f'--out {out} is a file; give a folder for the data set.')
    if not out.exists() or not any(out.iterdir()):
        return
    if not overwrite:
        raise ConfigError(f'--out {out} is not empty; choose a new folder, or pass --overwrite '
                          'to replace a data set written by vlm-planner generate.')
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding='utf-8'))
    except (OSError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get('generator') != GENERATOR:
        raise ConfigError(f'--overwrite refuses to delete {out}: it holds no {MANIFEST} of '
                          'vlm-planner generate. Remove it yourself or choose a new folder.')


def generate(out: str | Path, options: GenerateOptions, workers: int | None = None,
             overwrite: bool = False, progress: bool = True,
             command: str | None = None) -> dict[str, object]:
    """Write a data set into ``out`` (layout in the module docstring) and return its manifest.

    The data set is written into a hidden folder next to ``out`` and moved into place at the
    end, so an interrupted run leaves nothing under ``out``.

    Args:
        out: the data set folder; it must be new or empty, or with ``overwrite`` a data set
            written before by this function.
        options: what to generate.
        workers: worker processes (default: ``os.cpu_count()``); 1 makes episodes in this
            process.
        overwrite: replace a data set in ``out``.
        progress: show a progress bar.
        command: the command line recorded in the manifest; None: the ``vlm-planner
            generate`` command with these options (empty when options are set that the command
            line cannot express).

    Raises:
        ConfigError: a bad option or output folder.
        BagError: a recording cannot be written.
    """
    out = Path(out)
    if command is None:
        command = command_line(out, options)
    if workers is None:
        workers = os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f'--workers must be a whole number of at least 1, got {workers!r}.')
    check_out(out, overwrite)
    options.library()  # a bad library fails here, not in every worker
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f'.{out.name}.partial-', dir=out.parent))
    try:
        manifest = _write(staging, options, workers, progress, command)
        if out.exists():
            shutil.rmtree(out)
        os.rename(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _write(root: Path, options: GenerateOptions, workers: int, progress: bool,
           command: str) -> dict[str, object]:
    from tqdm import tqdm
    shutil.copyfile(options.actions_file or default_actions_file(), root / ACTIONS_FILE)
    todo = jobs(root, options)
    records: dict[str, list[dict[str, object]]] = {split: [] for split in options.sizes()}
    with tqdm(total=len(todo), unit='episode', desc='generate', disable=not progress) as bar:
        for record in _made(todo, min(workers, len(todo))):
            records[str(record['split'])].append(record)
            bar.update()
    (root / 'episodes').mkdir()
    ranges = options.layout_ranges()
    splits = {}
    for split, lines in records.items():
        (root / 'episodes' / f'{split}.jsonl').write_text(
            ''.join(json.dumps(line) + '\n' for line in lines), encoding='utf-8')
        splits[split] = _split_entry(split, lines, options, ranges[split])
    manifest = {
        'generator': GENERATOR, 'generator_version': GENERATOR_VERSION,
        'package_version': __version__, 'command': command, 'seed': options.seed,
        'options': options.to_dict(), 'action_library': ACTIONS_FILE,
        'appearance': {space.name: space.to_dict()
                       for space in (options.in_domain, options.out_of_domain)},
        'splits': splits,
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2) + '\n', encoding='utf-8')
    return manifest


def _split_entry(split: str, lines: list[dict[str, object]], options: GenerateOptions,
                 layouts: tuple[float, float]) -> dict[str, object]:
    """Return a split's entry of the manifest."""
    families: collections.Counter = collections.Counter()
    detours: collections.Counter = collections.Counter()
    points = frames = 0
    for line in lines:
        episode = line['episode']
        assert isinstance(episode, dict)
        families[episode['family']] += 1
        for step in episode['steps']:
            detours[step['detour'] or 'none'] += 1
            points += 1
        frames += int(line['frames'])  # type: ignore[call-overload]
    space = options.out_of_domain if split == OOD_SPLIT else options.in_domain
    return {
        'annotations': f'{split}/*.yaml',
        'annotations_all_actions': f'{split}{ALL_ACTIONS}/*.yaml',
        'bags': f'bags/{split}', 'episodes_file': f'episodes/{split}.jsonl',
        'episodes': len(lines), 'decision_points': points, 'frames': frames,
        'families': {f: families[f] for f in FAMILIES if families[f]},
        'detours': {k: detours[k] for k in ('none',) + DETOURS if detours[k]},
        'layout_range': list(layouts), 'appearance': space.name,
        'seeds': [line['seed'] for line in lines],
    }


def command_line(out: str | Path, options: GenerateOptions) -> str:
    """Return the ``vlm-planner generate`` command that writes this data set.

    Returns:
        The command, or ``''`` when ``options`` set something the command line cannot (such as
        an appearance range that is not one of :data:`~vlm_planner.sim.appearance.LOOKS`).
    """
    film = options.film
    expressed = dataclasses.replace(
        options, film=FilmConfig(width=film.width, height=film.height, fps=film.fps),
        rollout=RolloutConfig(detour_rate=options.rollout.detour_rate),
        in_domain=LOOKS.get(options.in_domain.name, IN_DOMAIN),
        out_of_domain=LOOKS.get(options.out_of_domain.name, OUT_OF_DOMAIN))
    if expressed != options:
        return ''
    words = ['vlm-planner', 'generate', '--out', str(out), '--episodes', str(options.episodes),
             '--seed', str(options.seed), '--width', str(film.width), '--height',
             str(film.height), '--fps', repr(film.fps),
             '--splits', ','.join(f'{s.name}:{s.fraction!r}' for s in options.splits),
             '--families', ','.join(options.families),
             '--detour-rate', repr(options.rollout.detour_rate), '--storage', options.storage,
             '--image-format', options.image_format]
    if options.ood_episodes is not None:
        words += ['--ood-episodes', str(options.ood_episodes)]
    if options.actions_file:
        words += ['--actions', options.actions_file]
    if options.in_domain != IN_DOMAIN:
        words += ['--look', options.in_domain.name]
    if options.out_of_domain != OUT_OF_DOMAIN:
        words += ['--ood-look', options.out_of_domain.name]
    return shlex.join(words)


def summary(manifest: dict[str, object]) -> Iterable[str]:
    """Yield one line per split: episodes, decision points and frames."""
    splits = manifest['splits']
    assert isinstance(splits, dict)
    for name, entry in splits.items():
        yield (f'{name:>6}: {_count(entry["episodes"], "episode")}, '
               f'{_count(entry["decision_points"], "decision point")}, '
               f'{_count(entry["frames"], "frame")} -> {entry["annotations"]}')


def _count(n: int, noun: str) -> str:
    return f'{n} {noun}{"" if n == 1 else "s"}'
