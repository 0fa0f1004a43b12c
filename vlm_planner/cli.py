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

"""The ``vlm-planner`` command: run the nodes, the demo, and the package's tools.

Each subcommand parses its arguments and calls into the package; no logic lives here.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import sys
from typing import Sequence

import yaml

from vlm_planner.data.names import dataset_names
from vlm_planner.errors import ConfigError, VlmPlannerError
from vlm_planner.params import read_params_file


def _override(text: str) -> tuple[str, object]:
    name, sep, value = text.partition(':=')
    if not sep or not name:
        raise argparse.ArgumentTypeError(f'expected NAME:=VALUE, got {text!r}')
    return name, yaml.safe_load(value)


def _add_run_options(parser: argparse.ArgumentParser, log_level: str) -> None:
    parser.add_argument('--log-level', default=log_level,
                        choices=['debug', 'info', 'warn', 'error', 'fatal'],
                        help=f'ROS log level of the nodes (default: {log_level})')
    parser.add_argument('--params', metavar='FILE',
                        help='ROS 2 parameter file (default: the shipped config/planner.yaml)')
    parser.add_argument('--namespace', default='', help='namespace for every node and topic')
    parser.add_argument('-p', '--param', dest='overrides', type=_override, action='append',
                        default=[], metavar='NAME:=VALUE',
                        help='set a parameter on every node that has it, e.g. strategy.name:=cot')


def _add_arm_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--arm', choices=['mock', 'bridge'], default='mock',
                        help='what executes the actions: the mock manipulator, or the skill '
                             'bridge driving a simulated ros2_control arm through a skills file '
                             '(-p skills_file:=FILE; default: mock)')


def _checked_overrides(args) -> dict:
    """The -p overrides, refusing names no node declares (ROS would ignore them silently)."""
    import difflib
    known = {p.name for table in node_parameter_tables().values() for p in table}
    known.add('use_sim_time')
    for name, _ in args.overrides:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=3)
            hint = f' Did you mean {", ".join(close)}?' if close else ''
            raise ConfigError(f'no node has a parameter {name!r}.{hint} '
                              '`vlm-planner params` lists them all.')
    return dict(args.overrides)


def _params_file(args) -> str:
    from vlm_planner.config_paths import default_params_file
    return args.params or str(default_params_file())


def cmd_run(args) -> int:
    """Run the nodes until Ctrl-C."""
    from vlm_planner.ros.runner import run_loop
    run_loop(_params_file(args), namespace=args.namespace, log_level=args.log_level,
             overrides=_checked_overrides(args), mock_manipulator=not args.no_mock_manipulator,
             scene_camera=not args.no_sim_camera, managed=args.managed, arm=args.arm)
    return 0


def format_step(step) -> str:
    """One line of demo output for a finished step."""
    d = step.decision
    scene = step.scene or {}
    line = (f'step {step.number:>2}  {d["action"]:<40} conf {d["confidence"]:.2f}  '
            f'{d["latency_s"] * 1000:5.0f} ms  -> {step.outcome:<9}')
    if scene.get('satisfied'):
        return line + '  GOAL REACHED'
    if scene.get('last_applied') is False:
        line += f'  no effect ({scene.get("last_result")})'
    elif scene:
        line += f'  holding {scene.get("held") or "nothing"}'
    if scene.get('expert_next'):
        line += f'; an expert would now: {scene["expert_next"]}'
    return line


def cmd_demo(args) -> int:
    """Run the closed loop on the embedded defaults and print each decision."""
    from vlm_planner.ros.runner import run_loop
    overrides = _checked_overrides(args)
    if args.episodes:
        return _demo_episodes(args, overrides)
    if args.goal:
        overrides['goal'] = args.goal
    if args.strategy:
        overrides['strategy.name'] = args.strategy
    arm = 'mock manipulator' if args.arm == 'mock' else 'skill bridge -> simulated arm'
    print(f'vlm-planner demo: scene camera -> planner -> {arm}, at most {args.steps} steps',
          flush=True)
    print('Loading the model...', flush=True)
    steps = run_loop(_params_file(args), namespace=args.namespace, log_level=args.log_level,
                     overrides=overrides, max_steps=args.steps, arm=args.arm,
                     on_step=lambda step: print(format_step(step), flush=True))
    if not steps:
        print('No step completed (interrupted?).')
        return 1
    first = steps[0].decision
    reached = bool(steps[-1].scene and steps[-1].scene.get('satisfied'))
    print(f'Goal "{first["goal"]}" {"reached" if reached else "not reached"} after '
          f'{len(steps)} steps (model {first["model"]}, strategy {first["strategy"]}).')
    if first.get('untrained'):
        print('Note: the model is a tiny randomly initialised network, so its choices are '
              'untrained and arbitrary. Point model.path at a trained video VLM for real plans.')
    return 0


def _demo_episodes(args, overrides: dict) -> int:
    """Closed-loop episodes on random layouts and goals; print each and the success rate."""
    from vlm_planner.ros.closed_loop import run_episodes, SLACK_STEPS
    if args.goal:
        raise ConfigError('--episodes draws a goal per episode; leave out --goal.')
    if args.strategy:
        overrides['strategy.name'] = args.strategy
    print(f'vlm-planner demo: {args.episodes} closed-loop episodes from seed {args.seed}; an '
          f'episode succeeds when its goal holds within the expert\'s steps + {SLACK_STEPS}',
          flush=True)

    def report(result) -> None:
        print(f'episode {result.index + 1:>3}  {result.family:<10} {result.goal:<58} '
              f'{result.steps:>2}/{result.expert_steps + SLACK_STEPS} steps  '
              f'{"reached" if result.reached else "NOT reached"}', flush=True)
    results = run_episodes(_params_file(args), args.episodes, args.seed, overrides=overrides,
                           log_level=args.log_level, on_episode=report, arm=args.arm,
                           namespace=args.namespace or '')
    reached = sum(r.reached for r in results)
    print(f'goal reached in {reached} of {len(results)} episodes '
          f'({100.0 * reached / max(len(results), 1):.0f} %)')
    for family in dict.fromkeys(r.family for r in results):
        mine = [r for r in results if r.family == family]
        print(f'  {family:<10} {sum(r.reached for r in mine)}/{len(mine)}')
    return 0


def cmd_plan(args) -> int:
    """One decision on recorded frames, without ROS; print the decision record."""
    from vlm_planner import settings
    from vlm_planner.core.session import replayed_keyframes
    from vlm_planner.data.media import load_frames

    values = dict(args.overrides)
    if args.model:  # else the parameters choose (default: the demo model)
        from vlm_planner.models.spec import apply_model_spec
        values = apply_model_spec(values, args.model)
    if args.actions:
        values['actions_file'] = args.actions
    if args.strategy:
        values['strategy.name'] = args.strategy
    explicit = set(values)  # the model card's recommendations do not override these
    values = settings.check(values, explicit)
    frames = load_frames(args.frames, fps=args.fps)
    planner = settings.build_planner(values, explicit)
    history = replayed_keyframes(frames, settings.keyframe_config(values))
    decision = planner.decide(args.goal, history)
    print(json.dumps(decision.to_record(), indent=2))
    return 0


def cmd_eval(args) -> int:
    """Evaluate models and strategies on recorded data sets; write results and a report."""
    from vlm_planner.data.episodes import load_dataset
    from vlm_planner.eval.export import write_csv
    from vlm_planner.eval.report import write_report
    from vlm_planner.eval.results import labelled
    from vlm_planner.eval.runner import Evaluation

    names = dataset_names(args.data)
    data_options = {'fps': dict(args.frame_rate or ()) or None,
                    'sampling': args.egoplan_sampling}
    datasets = [load_dataset(path, name=name, video_root=args.video_root, **data_options)
                for path, name in zip(args.data, names)]
    strategies = [s.strip() for s in args.strategies.split(',') if s.strip()]
    # A parameter file's values, then -p on top.
    overrides = {**(read_params_file(args.params) if args.params else {}),
                 **dict(args.overrides)}
    models = args.model
    if not models:  # the parameters choose (default: the tiny model)
        from vlm_planner import settings
        from vlm_planner.models.spec import spec_from_parameters
        models = [spec_from_parameters(settings.complete(overrides))]
    run = Evaluation(datasets, models, strategies, args.out, overrides=overrides,
                     limit=args.limit, blank_frames=args.blank_frames, seed=args.seed,
                     data_options=data_options, batch_size=args.batch_size)
    runs = ', '.join(f'{name} as run {run_id}' for name, run_id in run.runs.items())
    print(f'{run.total} decisions: {len(datasets)} data set(s) x {len(models)} model(s) x '
          f'{len(strategies)} strateg{"y" if len(strategies) == 1 else "ies"} ({runs}); '
          f'{run.done} already in {run.store.path}', flush=True)
    if args.ray is None:
        records = run.run(progress=not args.quiet)
    else:
        from vlm_planner.eval.distributed import run_on_ray
        records = run_on_ray(run, address=args.ray, worker_gpus=args.ray_gpus,
                             worker_cpus=args.ray_cpus, shard_size=args.shard_size,
                             progress=not args.quiet)
    report, table = write_report(labelled(records), args.out), write_csv(records, args.out)
    print(f'results: {run.store.path}\nreport:  {report}\ntable:   {table}')
    for failure in run.failures:
        print(f'skipped (rerun to retry): {failure}', file=sys.stderr)
    return 1 if run.failures else 0


def cmd_report(args) -> int:
    """Re-render an evaluation folder's report and CSV table from its results."""
    from vlm_planner.eval.export import write_csv
    from vlm_planner.eval.report import write_report
    from vlm_planner.eval.results import labelled, read_records, RESULTS_FILE

    records = read_records(Path(args.folder) / RESULTS_FILE)
    if not records:
        raise ConfigError(f'{args.folder} has no results yet; run `vlm-planner eval --out '
                          f'{args.folder} ...` first.')
    report, table = write_report(labelled(records), args.folder), write_csv(records, args.folder)
    print(f'{len(records)} results\nreport: {report}\ntable:  {table}')
    return 0


def cmd_distance(args) -> int:
    """Wasserstein-1 distances between data sets, visual and text; print them, write files."""
    from vlm_planner import settings
    from vlm_planner.data.episodes import load_dataset
    from vlm_planner.distance.embedders import text_embedder, visual_embedder
    from vlm_planner.distance.measure import measure, Options
    from vlm_planner.distance.report import table, unique_names, write_outputs

    if len(args.data) < 2:
        raise ConfigError(f'give two or more data sets to compare, got {len(args.data)}; three or '
                          'more give a matrix of all pairs.')
    options = Options(samples=args.samples, bootstrap=args.bootstrap, seed=args.seed)
    values = settings.complete(dict(args.overrides))
    names = unique_names(dataset_names(args.data), args.data)
    datasets = [load_dataset(path, name=name, video_root=args.video_root,
                             fps=dict(args.frame_rate or ()) or None)
                for path, name in zip(args.data, names)]
    visual = visual_embedder(args.embedder, values)
    text = text_embedder(args.text_embedder, values)
    result = measure(datasets, args.data, visual, text, options, settings.keyframe_config(values),
                     progress=not args.quiet)
    print(table(result))
    for path in write_outputs(result, args.out) if args.out else []:
        print(f'wrote {path}')
    return 0


def cmd_play(args) -> int:
    """Replay a rosbag2 recording on its topics; with --record, record the decisions meanwhile."""
    from vlm_planner.ros.player import parse_remaps, play_bag
    if args.record_topics and not args.record:
        raise ConfigError('--record-topics needs --record OUT (the bag folder to write).')
    count = play_bag(args.bag, rate=args.rate, loop=args.loop, topics=args.topics,
                     remap=parse_remaps(args.remap), start_offset=args.start_offset,
                     clock_rate=args.clock, delay=args.delay, wait_for=args.wait_for,
                     record=args.record, record_topics=args.record_topics, storage=args.storage,
                     linger=args.linger)
    print(f'published {count} messages'
          + (f'; recorded into {args.record}' if args.record else ''))
    return 0


def cmd_params(args) -> int:
    """Print every node's parameters as Markdown tables, or as a ROS 2 parameter file."""
    from vlm_planner.params import markdown_table
    if args.yaml:
        print(parameter_file(), end='')
        return 0
    for node, table in node_parameter_tables().items():
        if args.node in (None, node):
            print(f'### {node}\n\n{markdown_table(table)}\n')
    return 0


PARAMETER_FILE_HEADER = """\
# ROS 2 parameters of the vlm_planner nodes, with their defaults. Used by
# `ros2 launch vlm_planner planner.launch.py`, `vlm-planner run --params config/planner.yaml` and
# `vlm-planner demo`. `/**/name` matches the node in any namespace.
# Generated from the parameter declarations by `vlm-planner params --yaml`; a test keeps it so.
"""


def parameter_file() -> str:
    """The shipped ``config/planner.yaml``: every node's parameters with their defaults."""
    from vlm_planner.params import yaml_section
    sections = [f'\n/**/{node}:\n  ros__parameters:\n{yaml_section(table)}\n'
                for node, table in node_parameter_tables().items()]
    return PARAMETER_FILE_HEADER + ''.join(sections)


#: The nodes of node_parameter_tables(), for ``params --node`` (without importing ROS).
NODE_NAMES = ['vlm_planner', 'mock_manipulator', 'scene_camera', 'skill_bridge',
              'sim_joint_controller']


def node_parameter_tables() -> dict:
    """Each node's name and parameter table."""
    from vlm_planner.ros.mock_manipulator_node import MOCK_MANIPULATOR_PARAMS
    from vlm_planner.ros.scene_camera_node import SCENE_CAMERA_PARAMS
    from vlm_planner.ros.sim_joint_controller_node import SIM_JOINT_CONTROLLER_PARAMS
    from vlm_planner.ros.skill_bridge_node import SKILL_BRIDGE_PARAMS
    from vlm_planner.settings import PLANNER_PARAMS
    return {'vlm_planner': PLANNER_PARAMS, 'mock_manipulator': MOCK_MANIPULATOR_PARAMS,
            'scene_camera': SCENE_CAMERA_PARAMS, 'skill_bridge': SKILL_BRIDGE_PARAMS,
            'sim_joint_controller': SIM_JOINT_CONTROLLER_PARAMS}


def cmd_make_tiny_model(args) -> int:
    """Build a tiny random model of a real architecture into a folder."""
    from vlm_planner.models.tiny import build_tiny_model, TinySize
    size = TinySize(hidden_size=args.hidden_size, layers=args.layers,
                    vision_hidden_size=args.vision_hidden_size, vision_layers=args.vision_layers,
                    attention_init_std=args.attention_init_std, max_pixels=args.max_pixels)
    path = build_tiny_model(args.out, arch=args.arch, seed=args.seed, size=size)
    print(f'wrote an untrained tiny {args.arch} model to {path}')
    return 0


def cmd_generate(args) -> int:
    """Write synthetic tabletop episodes: rosbag2 recordings, annotation files and a manifest."""
    import time
    from vlm_planner.sim.appearance import look
    from vlm_planner.sim.episodes import RolloutConfig
    from vlm_planner.sim.filming import FilmConfig
    from vlm_planner.sim.generate import (generate, GenerateOptions, parse_families,
                                          parse_splits, summary)
    options = GenerateOptions(
        episodes=args.episodes, seed=args.seed, splits=parse_splits(args.splits),
        ood_episodes=args.ood_episodes, storage=args.storage, image_format=args.image_format,
        families=parse_families(args.families), actions_file=args.actions,
        film=FilmConfig(width=args.width, height=args.height, fps=args.fps),
        rollout=RolloutConfig(detour_rate=args.detour_rate),
        in_domain=look(args.look), out_of_domain=look(args.ood_look))
    start = time.monotonic()
    manifest = generate(args.out, options, workers=args.workers, overwrite=args.overwrite,
                        progress=not args.quiet)
    for line in summary(manifest):
        print(line)
    print(f'wrote {args.out} in {time.monotonic() - start:.1f} s; evaluate with: vlm-planner '
          f'eval --data {Path(args.out) / "test"}/*.yaml --out RESULTS')
    return 0


def cmd_finetune(args) -> int:
    """Fine-tune a model on planning items from recordings; write a model folder that plans."""
    from vlm_planner.data.episodes import load_dataset
    from vlm_planner.train.config import command_line, from_arguments
    from vlm_planner.train.trainer import finetune, FinetuneJob
    config = from_arguments(args)
    files = [*args.data, *args.val]
    names = dataset_names(files)
    datasets = [load_dataset(path, name=name, video_root=args.video_root,
                             fps=dict(args.frame_rate or ()) or None)
                for path, name in zip(files, names)]
    overrides = dict(args.overrides)
    job = FinetuneJob(
        train=datasets[:len(args.data)], val=datasets[len(args.data):], model=args.model,
        out=Path(args.out), config=config, overrides=overrides,
        sources={name: str(Path(path).resolve()) for name, path in zip(names, files)},
        command=command_line(config, data=args.data, val=args.val, model=args.model,
                             out=args.out, overrides=overrides,
                             video_root=' '.join(args.video_root or ())))
    try:
        result = finetune(job, progress=not args.quiet)
    except KeyboardInterrupt:
        print('vlm-planner finetune: interrupted; rerun the same command to resume from the '
              'newest checkpoint.', file=sys.stderr)
        return 130
    if os.environ.get('RANK', '0') != '0':
        return 0  # one report per run, from the main process
    state = 'was already finished' if result.already_finished else 'finished'
    accuracy = ('' if result.val_accuracy is None
                else f'; validation accuracy {result.val_accuracy:.1%}')
    print(f'{args.out}: {state} after {result.steps} steps on {result.train_items} items'
          f'{accuracy}.\nUse it by path: vlm-planner eval --model {args.out} --data ... '
          f'(its model card vlm_planner.json says how it is best asked; curves in '
          f'{Path(args.out) / "training"}).')
    return 0


def cmd_experiment(args) -> int:
    """Run the paper's experiments on the synthetic world and write experiments.md."""
    from vlm_planner.experiment.config import ExperimentConfig
    from vlm_planner.experiment.report import write_report
    from vlm_planner.experiment.results import collect
    from vlm_planner.experiment.runner import elapsed_minutes, prepare, run_steps
    from vlm_planner.params import from_flags
    out = Path(args.out)
    plan = prepare(out, from_flags(ExperimentConfig, args))
    pending = sum(not step.done.is_file() for step in plan.steps)
    print(f'{len(plan.steps)} steps, {len(plan.steps) - pending} already done in {out}; logs in '
          f'{out / "logs"}', flush=True)
    run_steps(plan, progress=not args.quiet)
    report = write_report(plan, collect(plan), Path(args.docs or out),
                          [step.command for step in plan.steps], elapsed_minutes(plan))
    print(f'report: {report}')
    return 0


#: How --model of plan and eval names a model (parsed by vlm_planner.models.spec).
MODEL_HELP = ("'tiny', 'tiny:ARCH', 'demo' (the shipped trained tabletop planner), a local model "
              "folder, or a served model as "
              "'openai:http://HOST:PORT/v1[#SERVED_NAME]' (default: as the model.* parameters "
              'say, whose default is tiny; -p model.* may refine --model, not contradict it)')


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``vlm-planner``."""
    from vlm_planner.core.strategies import STRATEGIES
    from vlm_planner.data.bag_io import STORAGES
    from vlm_planner.sim.recording import IMAGE_FORMATS
    from vlm_planner.models.tiny import SUPPORTED_ARCHS, TinySize
    parser = argparse.ArgumentParser(
        prog='vlm-planner', description='Plan robot actions with a locally hosted video VLM.')
    sub = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')

    run = sub.add_parser('run', help='run planner, mock manipulator and scene camera in one '
                                     'process')
    _add_run_options(run, 'info')
    _add_arm_option(run)
    run.add_argument('--no-mock-manipulator', action='store_true',
                     help='do not start the mock manipulator (a real one is running)')
    run.add_argument('--no-sim-camera', action='store_true',
                     help='do not start the synthetic camera (a real camera publishes image)')
    run.add_argument('--managed', action='store_true',
                     help='run the planner as a lifecycle node, brought up (configure, '
                          'activate) at start')
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser('demo', help='run the closed loop on the defaults and print each step')
    _add_run_options(demo, 'warn')
    _add_arm_option(demo)
    demo.add_argument('--steps', type=int, default=6, help='step limit (default: 6)')
    demo.add_argument('--goal', help='task goal, e.g. "stack the blue block on the green block"')
    demo.add_argument('--strategy', choices=STRATEGIES)
    demo.add_argument('--episodes', type=int, default=0, metavar='N',
                      help='run N closed-loop episodes on random layouts and goals of every '
                           'family and print the success rate (default: one run on the '
                           'parameters\' goal)')
    demo.add_argument('--seed', type=int, default=0,
                      help='first layout seed of --episodes (default: 0)')
    demo.set_defaults(func=cmd_demo)

    plan = sub.add_parser('plan', help='decide the next action for a video or image folder, '
                                       'without ROS, and print the decision record as JSON')
    plan.add_argument('--frames', required=True, metavar='PATH',
                      help='video file, or folder of images taken in name order')
    plan.add_argument('--goal', required=True,
                      help='task goal, e.g. "put the red block in the bin"')
    plan.add_argument('--model', metavar='MODEL', help='the model: ' + MODEL_HELP)
    plan.add_argument('--actions', metavar='FILE', help='action library YAML (default: tabletop)')
    plan.add_argument('--strategy', choices=STRATEGIES)
    plan.add_argument('--fps', type=float, default=1.0,
                      help='frame rate of an image folder (default: 1)')
    plan.add_argument('-p', '--param', dest='overrides', type=_override, action='append',
                      default=[], metavar='NAME:=VALUE',
                      help='any planner parameter, e.g. strategy.scoring:=likelihood')
    plan.set_defaults(func=cmd_plan)

    from vlm_planner.data.egoplan import frame_rate, SAMPLINGS
    video_root_help = ('folders of the videos or frame folders of EgoPlan-Bench files, searched '
                       'in order: the EgoPlan data root (EPIC-KITCHENS/, Ego4D/v1_288p/), or an '
                       'EPIC-KITCHENS frame root and an Ego4D video folder')
    frame_rate_help = ('frame rate of EgoPlan-Bench frame folders, per video source (e.g. '
                       'EpicKitchens=60) or for every source not named (e.g. 50); videos carry '
                       'their own (default: 30)')
    evaluate = sub.add_parser('eval', help='score models and strategies on recorded decision '
                                           'points (rosbag2 + annotations, EgoPlan-Bench)')
    evaluate.add_argument('--data', nargs='+', required=True, metavar='PATH',
                          help='annotation files (YAML/JSON next to rosbag2 recordings) or '
                               'EgoPlan-Bench JSON files')
    evaluate.add_argument('--model', nargs='+', metavar='MODEL',
                          help='models to compare, each ' + MODEL_HELP)
    evaluate.add_argument('--strategies', default='base', metavar='LIST',
                          help='comma-separated, e.g. base,cot,reflect,consistency')
    evaluate.add_argument('--video-root', nargs='+', metavar='DIR', help=video_root_help)
    evaluate.add_argument('--frame-rate', nargs='+', type=frame_rate, metavar='SOURCE=FPS',
                          help=frame_rate_help)
    evaluate.add_argument('--egoplan-sampling', choices=SAMPLINGS,
                          help="frames of EgoPlan-Bench items: 'keyframes', the robot's keyframe "
                               "buffer over the task's progress (default), or 'uniform', "
                               "EgoPlan-Bench's protocol: keyframes.max_count frames evenly "
                               'spaced, the current observation last (config/'
                               'egoplan_protocol.yaml)')
    evaluate.add_argument('--out', required=True, metavar='DIR',
                          help='output folder; rerun with the same folder to resume')
    evaluate.add_argument('--limit', type=int, default=0,
                          help='at most this many items per data set (default: all)')
    evaluate.add_argument('--blank-frames', action='store_true',
                          help='control run: every frame replaced by a uniform grey one, so '
                               'the accuracy shows what the model gets without looking (it '
                               'should fall to chance); models are named NAME+blank-frames')
    evaluate.add_argument('--params', metavar='FILE',
                          help='ROS 2 parameter file of planner parameters for every run, e.g. '
                               'config/egoplan_protocol.yaml (-p values override it)')
    evaluate.add_argument('--ray', nargs='?', const='', default=None, metavar='ADDRESS',
                          help='spread the work over Ray workers (one per GPU): on a running '
                               'cluster (ADDRESS: auto, HOST:6379 or ray://HOST:10001), or on '
                               'a Ray instance started on this machine (no ADDRESS); see '
                               'docs/datasets.md')
    evaluate.add_argument('--ray-gpus', type=float, default=None, metavar='N',
                          help='GPUs per Ray worker (default: 1 where the cluster has GPUs, '
                               'else 0)')
    evaluate.add_argument('--ray-cpus', type=float, default=1.0, metavar='N',
                          help='CPU cores per Ray worker (default 1)')
    evaluate.add_argument('--shard-size', type=int, default=16, metavar='N',
                          help='items per Ray task of a data set that loads items one by one '
                               '(EgoPlan-Bench; a recording is always one task; default 16)')
    evaluate.add_argument('--batch-size', type=int, default=1, metavar='N',
                          help='items asked together: the base strategy scores them in one '
                               'batched forward pass (Qwen-VL models) or sends them to a model '
                               'server at once (model.max_in_flight); default 1, one by one with '
                               'the keyframe and prompt caches')
    evaluate.add_argument('--seed', type=int, default=0,
                          help='seed of sampled replies (self-consistency), one per item derived '
                               'from it, so a rerun repeats them (default 0); part of the run')
    evaluate.add_argument('--quiet', action='store_true', help='no progress bar')
    evaluate.add_argument('-p', '--param', dest='overrides', type=_override, action='append',
                          default=[], metavar='NAME:=VALUE',
                          help='planner parameter for every run, e.g. '
                               'strategy.scoring:=likelihood')
    evaluate.set_defaults(func=cmd_eval)

    report = sub.add_parser('report', help='re-render the report and results.csv of an eval '
                                           'output folder from its results.jsonl')
    report.add_argument('folder', metavar='DIR', help='output folder of `vlm-planner eval`')
    report.set_defaults(func=cmd_report)

    from vlm_planner.distance.embedders import (DEFAULT_TEXT, DEFAULT_VISUAL, TEXT_FORMS,
                                                VISUAL_FORMS)
    distance = sub.add_parser('distance', help='Wasserstein-1 distance between data sets of '
                                               'planning items: frames and goals (see '
                                               'docs/distance.md)')
    distance.add_argument('data', nargs='+', metavar='PATH',
                          help='two or more data sets, as eval --data takes them; three or more '
                               'give matrices of all pairs and heat maps')
    distance.add_argument('--embedder', default=DEFAULT_VISUAL, metavar='SPEC',
                          help='visual embedder of one random frame per item: '
                               f'{" or ".join(VISUAL_FORMS)} (MODEL as --model of eval takes a '
                               f'local one; default: {DEFAULT_VISUAL})')
    distance.add_argument('--text-embedder', default=DEFAULT_TEXT, metavar='SPEC',
                          help=f'text embedder of each item\'s goal: {", ".join(TEXT_FORMS)} '
                               f'(default: {DEFAULT_TEXT})')
    distance.add_argument('--samples', type=int, default=200, metavar='N',
                          help='random items per data set, all when it has fewer (default: 200)')
    distance.add_argument('--bootstrap', type=int, default=200, metavar='B',
                          help='bootstrap rounds of the 95%% intervals; 0: no interval '
                               '(default: 200)')
    distance.add_argument('--seed', type=int, default=0,
                          help='seed of the item, frame and bootstrap draws (default: 0)')
    distance.add_argument('--video-root', nargs='+', metavar='DIR', help=video_root_help)
    distance.add_argument('--frame-rate', nargs='+', type=frame_rate, metavar='SOURCE=FPS',
                          help=frame_rate_help)
    distance.add_argument('--out', metavar='DIR',
                          help='also write distance.json here, and with three or more data sets '
                               'distance_visual.png and distance_text.png (default: print only)')
    distance.add_argument('--quiet', action='store_true', help='no progress bar')
    distance.add_argument('-p', '--param', dest='overrides', type=_override, action='append',
                          default=[], metavar='NAME:=VALUE',
                          help='planner parameter, e.g. keyframes.max_count:=4 (which frames an '
                               'item has) or model.tiny_arch:=qwen3_vl')
    distance.set_defaults(func=cmd_distance)

    play = sub.add_parser('play', help='republish a rosbag2 recording with its timing (like '
                                       'ros2 bag play), optionally recording the decisions')
    play.add_argument('bag', metavar='BAG', help='rosbag2 folder (sqlite3 or mcap)')
    play.add_argument('--rate', type=float, default=1.0,
                      help='speed factor, 2 plays twice as fast (default: 1)')
    play.add_argument('--loop', action='store_true', help='start over at the end until Ctrl-C')
    play.add_argument('--topics', nargs='+', action='extend', default=[], metavar='TOPIC',
                      help='play only these recorded topics (default: all)')
    play.add_argument('--remap', nargs='+', action='extend', default=[], metavar='FROM:=TO',
                      help='publish a recorded topic under another name, e.g. '
                           '/camera/image_raw:=/image')
    play.add_argument('--start-offset', type=float, default=0.0, metavar='S',
                      help='start this many seconds into the recording (default: 0)')
    play.add_argument('--clock', type=float, nargs='?', const=40.0, default=0.0, metavar='HZ',
                      help="publish the recording's time on /clock (default 40 Hz when given), "
                           'for nodes run with -p use_sim_time:=true')
    play.add_argument('--delay', type=float, default=1.0, metavar='S',
                      help='wait this long before the first message, so subscribers in other '
                           'processes are matched (default: 1)')
    play.add_argument('--wait-for', nargs='+', action='extend', default=[], metavar='TOPIC',
                      help='first wait until these topics (as published, after --remap) have a '
                           'subscriber, e.g. /image for a planner still loading its model')
    play.add_argument('--record', metavar='OUT',
                      help="meanwhile record the planner's decision and action topics into this "
                           "new bag folder, stamped with the recording's time")
    play.add_argument('--record-topics', nargs='+', action='extend', default=[],
                      metavar='TOPIC[:TYPE]',
                      help='topics to record (default: decision action); TYPE defaults to '
                           'std_msgs/msg/String')
    play.add_argument('--storage', choices=STORAGES, default='sqlite3',
                      help='storage of the --record bag (default: sqlite3)')
    play.add_argument('--linger', type=float, default=2.0, metavar='S',
                      help='with --record, keep recording this long after the last message '
                           '(default: 2)')
    play.set_defaults(func=cmd_play)

    params = sub.add_parser('params', help="print the nodes' parameters as Markdown tables "
                                           '(or --yaml: as a ROS 2 parameter file)')
    params.add_argument('--yaml', action='store_true',
                        help='print config/planner.yaml: every parameter with its default')
    params.add_argument('--node', choices=NODE_NAMES, help='only this node (default: all)')
    params.set_defaults(func=cmd_params)

    tiny = sub.add_parser('make-tiny-model',
                          help='build a tiny randomly initialised model offline (tests, demos)')
    tiny.add_argument('--arch', choices=SUPPORTED_ARCHS, default=SUPPORTED_ARCHS[0])
    tiny.add_argument('--out', required=True, help='folder to write the model to')
    tiny.add_argument('--seed', type=int, default=0)
    default_size = TinySize()
    tiny.add_argument('--hidden-size', type=int, default=default_size.hidden_size,
                      help='language-model width, a multiple of 32 (default: %(default)s)')
    tiny.add_argument('--layers', type=int, default=default_size.layers,
                      help='language-model layers (default: %(default)s)')
    tiny.add_argument('--vision-hidden-size', type=int, default=default_size.vision_hidden_size,
                      help='vision-tower width, a multiple of 16 (default: %(default)s)')
    tiny.add_argument('--vision-layers', type=int, default=default_size.vision_layers,
                      help='vision-tower layers (default: %(default)s; 128/6/64/4 make a '
                           'Qwen2.5-VL of about 1.3 M parameters that learns the tabletop)')
    tiny.add_argument('--attention-init-std', type=float,
                      default=default_size.attention_init_std,
                      help="standard deviation of the language model's query and key weights "
                           "(default: %(default)s, the architecture's own 0.02); 0.2 for a model "
                           'trained from scratch, which otherwise never learns to look at the '
                           'frames (docs/training.md)')
    tiny.add_argument('--max-pixels', type=int, default=default_size.max_pixels,
                      help='largest frame the processor passes on, in pixels (qwen2_5_vl and '
                           'video_llama_3; default: %(default)s, i.e. 112 x 112)')
    tiny.set_defaults(func=cmd_make_tiny_model)

    from vlm_planner.sim.appearance import LOOKS
    gen = sub.add_parser('generate', help='write synthetic tabletop episodes (rosbag2 + '
                                          'annotations) for fine-tuning and evaluation')
    gen.add_argument('--out', required=True, metavar='DIR', help='new or empty output folder')
    gen.add_argument('--episodes', type=int, required=True, metavar='N',
                     help='episodes over the in-domain splits')
    gen.add_argument('--seed', type=int, default=0, help='seed of everything (default: 0)')
    gen.add_argument('--workers', type=int, metavar='W',
                     help='worker processes (default: the number of CPUs)')
    gen.add_argument('--width', type=int, default=112, help='frame width (default: 112)')
    gen.add_argument('--height', type=int, default=112, help='frame height (default: 112)')
    gen.add_argument('--fps', type=float, default=5.0, help='frames per second (default: 5)')
    gen.add_argument('--splits', default='train:0.8,val:0.1,test:0.1', metavar='SPEC',
                     help='NAME:FRACTION,... adding up to 1 (default: train:0.8,val:0.1,test:0.1)')
    gen.add_argument('--ood-episodes', type=int, metavar='M',
                     help='episodes of the out-of-domain split (default: as many as test; 0: '
                          'none)')
    gen.add_argument('--families', default='all', metavar='LIST',
                     help='goal families, comma-separated: bin-single, bin-multi, bin-all, '
                          'table, stack-pair, tower (default: all)')
    gen.add_argument('--detour-rate', type=float, default=0.15, metavar='P',
                     help='chance that a step is a detour: a wrong pick or placement, or a '
                          'failed action (default: 0.15)')
    gen.add_argument('--actions', metavar='FILE',
                     help='action library YAML (default: the shipped tabletop library)')
    gen.add_argument('--storage', choices=STORAGES, default='sqlite3',
                     help='rosbag2 storage (default: sqlite3)')
    gen.add_argument('--image-format', choices=IMAGE_FORMATS, default='raw',
                     help='frames as sensor_msgs/Image rgb8 (raw) or lossless PNG '
                          'CompressedImage (png: about 10x smaller) (default: raw)')
    gen.add_argument('--look', choices=list(LOOKS), default='in-domain', metavar='NAME',
                     help='appearance range of the in-domain splits (train/val/test): in-domain '
                          '(training range), shifted (darker or brighter light, stronger colour '
                          'cast, larger camera moves, same textures and blocks), out-of-domain '
                          '(unseen textures, round blocks, extreme light) (default: in-domain)')
    gen.add_argument('--ood-look', choices=list(LOOKS), default='out-of-domain', metavar='NAME',
                     help='appearance range of the ood split: in-domain, shifted or '
                          'out-of-domain, as for --look (default: out-of-domain)')
    gen.add_argument('--overwrite', action='store_true',
                     help='replace a data set that vlm-planner generate wrote into --out')
    gen.add_argument('--quiet', action='store_true', help='no progress bar')
    gen.set_defaults(func=cmd_generate)
    tune = sub.add_parser('finetune', help='fine-tune a video VLM (all weights or LoRA) on the '
                                           'decision points of annotated recordings')
    tune.add_argument('--data', nargs='+', required=True, metavar='PATH',
                      help='training data: annotation files (next to rosbag2 recordings), '
                           'EgoPlan-Bench item files, or folders of them')
    tune.add_argument('--val', nargs='+', default=[], metavar='PATH',
                      help='validation data of the same kinds; its accuracy is measured while '
                           'training (--eval-every) and at the end')
    tune.add_argument('--model', required=True, metavar='MODEL',
                      help="the model to start from: 'tiny', 'tiny:ARCH', a local model folder "
                           'or a LoRA adapter folder')
    tune.add_argument('--out', required=True, metavar='DIR',
                      help='output folder, new or empty; rerun the same command to resume')
    tune.add_argument('--video-root', nargs='+', metavar='DIR', help=video_root_help)
    tune.add_argument('--frame-rate', nargs='+', type=frame_rate, metavar='SOURCE=FPS',
                      help=frame_rate_help)
    tune.add_argument('--quiet', action='store_true', help='no progress bars')
    tune.add_argument('-p', '--param', dest='overrides', type=_override, action='append',
                      default=[], metavar='NAME:=VALUE',
                      help='planner parameter the model will be used with (keyframes.*, '
                           'prompt_file, strategy.*, model.max_frames, model.max_pixels), '
                           'e.g. keyframes.max_count:=4')
    from vlm_planner.train.config import add_arguments as add_finetune_arguments
    add_finetune_arguments(tune)
    tune.set_defaults(func=cmd_finetune)
    from vlm_planner.experiment.config import ExperimentConfig
    from vlm_planner.params import add_flags
    experiment = sub.add_parser('experiment', help="the paper's experiments on the synthetic "
                                                   'world: generate, fine-tune, evaluate, '
                                                   'measure distances, write experiments.md')
    experiment.add_argument('--out', required=True, metavar='DIR',
                            help='work folder for data, models and results; rerun the same '
                                 'command to resume')
    experiment.add_argument('--docs', metavar='DIR',
                            help='write experiments.md and its plots here (default: --out)')
    experiment.add_argument('--quiet', action='store_true', help='no progress bar')
    add_flags(experiment, ExperimentConfig)
    experiment.set_defaults(func=cmd_experiment)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``vlm-planner``."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except VlmPlannerError as exc:
        print(f'vlm-planner {args.command}: error: {exc}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == '__main__':
    sys.exit(main())
