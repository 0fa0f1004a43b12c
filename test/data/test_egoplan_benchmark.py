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

"""EgoPlan-Bench as published: its data layouts, frame rates per source, uniform sampling."""

from __future__ import annotations

import json
from pathlib import Path
import re

import cv2
import numpy as np
import pytest
import yaml

from test.data.bagfactory import scene_images
from vlm_planner import settings
from vlm_planner.cli import build_parser
from vlm_planner.core.keyframes import KeyframeConfig
from vlm_planner.data.egoplan import EgoPlanDataset, frame_rate, uniform_frames
from vlm_planner.data.episodes import FolderDataset, load_dataset
from vlm_planner.data.media import read_image
from vlm_planner.errors import AnnotationError

#: Keeps every frame offered, so the stamps show which frames were read.
KEEP_ALL = KeyframeConfig(policy='interval', max_count=100, min_interval=0.0)
EPIC_VIDEO = 'P01_13'
EGO4D_VIDEO = '0d270946-95c5-4e71-ae49-b9e802548147'
EGO4D_FPS = 10.0


def write_frames(folder, count):
    """EPIC-KITCHENS-style frames frame_0000000001.jpg ... of ``count`` distinct scenes."""
    folder.mkdir(parents=True)
    for number, rgb in enumerate(scene_images(count, width=64, height=48), start=1):
        cv2.imwrite(str(folder / f'frame_{number:010d}.jpg'), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def write_mp4(path, count, fps=EGO4D_FPS):
    path.parent.mkdir(parents=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps, (64, 48))
    for rgb in scene_images(count, width=64, height=48):
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()


def question(sample_id, current, start, **fields):
    item = {'sample_id': sample_id, 'task_goal': 'store cereal',
            'choice_a': 'put cereal box into cupboard', 'choice_b': 'take cereal bag',
            'choice_c': 'open cupboard', 'choice_d': 'close cupboard',
            'golden_choice_idx': 'A', 'current_observation_frame': current,
            'task_progress_metadata': [{'narration_text': 'take cereal bag',
                                        'start_frame': start, 'stop_frame': current}]}
    return {**item, **fields}


def epic_question(sample_id=115, current=40, start=4, video=EPIC_VIDEO, **fields):
    """An EgoPlan-Bench question on EPIC-KITCHENS frames."""
    return question(sample_id, current, start, video_source='EpicKitchens', video_id=video,
                    **fields)


def ego4d_question(number=0, current=12, start=2, domain='Hobbies', **fields):
    """An EgoPlan-Bench2 question: no video id or source, its sample id names the Ego4D video."""
    return question(f'{EGO4D_VIDEO}_{number}', current, start, domain=domain,
                    scenario='baking', task_start_frame=start, **fields)


def write_items(path, items):
    path.write_text(json.dumps(items))
    return path


@pytest.fixture
def data_root(tmp_path):
    """The official data root: EPIC-KITCHENS frame folders (40 frames) and Ego4D videos (30)."""
    root = tmp_path / 'data'
    write_frames(root / 'EPIC-KITCHENS' / 'P01' / 'rgb_frames' / EPIC_VIDEO, 40)
    write_mp4(root / 'Ego4D' / 'v1_288p' / f'{EGO4D_VIDEO}.mp4', 30)
    return root


def assert_is_frame_40(frame, data_root):
    file = data_root / 'EPIC-KITCHENS' / 'P01' / 'rgb_frames' / EPIC_VIDEO / 'frame_0000000040.jpg'
    np.testing.assert_array_equal(frame.image, read_image(file))


def frame_numbers(item, fps):
    return [round(frame.stamp * fps) for frame in item.frames]


def test_the_official_data_root_serves_both_sources(tmp_path, data_root):
    path = write_items(tmp_path / 'EgoPlan_validation.json',
                       [epic_question(), ego4d_question()])
    epic, ego4d = EgoPlanDataset(path, data_root, sample_fps=5.0).items(KEEP_ALL)

    # Frame folders at the default 30 fps: every 6th frame from the task's start.
    assert frame_numbers(epic, 30.0) == [4, 10, 16, 22, 28, 34, 40]
    assert_is_frame_40(epic.frames[-1], data_root)
    assert (epic.task, epic.domain, epic.benchmark) == ('EpicKitchens', '', 'EgoPlan-Bench')
    # The video's own 10 fps: every 2nd frame.
    assert frame_numbers(ego4d, EGO4D_FPS) == [2, 4, 6, 8, 10, 12]
    assert (ego4d.task, ego4d.domain, ego4d.benchmark) == ('baking', 'Hobbies', 'EgoPlan-Bench2')


def test_two_roots_as_egoplan_scripts_take_them(tmp_path, data_root):
    path = write_items(tmp_path / 'items.json', [epic_question(), ego4d_question()])
    roots = [data_root / 'EPIC-KITCHENS', data_root / 'Ego4D' / 'v1_288p']
    epic, ego4d = EgoPlanDataset(path, roots, sample_fps=5.0).items(KEEP_ALL)
    assert frame_numbers(epic, 30.0) == [4, 10, 16, 22, 28, 34, 40]
    assert frame_numbers(ego4d, EGO4D_FPS) == [2, 4, 6, 8, 10, 12]

    # Roots are searched in order: a first root holding the video wins.
    first = tmp_path / 'first'
    write_frames(first / EPIC_VIDEO, 40)
    [epic] = EgoPlanDataset(write_items(tmp_path / 'epic.json', [epic_question()]),
                            [first, *roots]).items(KEEP_ALL)
    np.testing.assert_array_equal(epic.frames[-1].image,
                                  read_image(first / EPIC_VIDEO / 'frame_0000000040.jpg'))


def test_the_frame_rate_of_frame_folders_is_set_per_source(tmp_path, data_root):
    path = write_items(tmp_path / 'items.json', [epic_question(), ego4d_question()])

    def picked(fps):
        epic, ego4d = EgoPlanDataset(path, data_root, fps=fps, sample_fps=5.0).items(KEEP_ALL)
        return epic, ego4d

    epic, ego4d = picked({'EPIC-KITCHENS': 60})  # sources match without case or punctuation
    assert frame_numbers(epic, 60.0) == [4, 16, 28, 40]  # every 12th frame
    assert epic.decision_time == pytest.approx(40 / 60)
    assert frame_numbers(ego4d, EGO4D_FPS) == [2, 4, 6, 8, 10, 12]  # videos keep their own
    epic, _ = picked({'Ego4D': 15, '*': 10})  # '*': every source not named
    assert frame_numbers(epic, 10.0) == [4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30,
                                         32, 34, 36, 38, 40]
    epic, _ = picked(60)  # a plain number: every source
    assert frame_numbers(epic, 60.0) == [4, 16, 28, 40]

    with pytest.raises(AnnotationError, match=r"the frame rate of 'EpicKitchen' names no video "
                                              r'source; name one of Ego4D, EpicKitchens, or '
                                              r"'\*' for all others\. Give rates as "
                                              r'--frame-rate SOURCE=FPS'):
        EgoPlanDataset(path, data_root, fps={'EpicKitchen': 60})
    with pytest.raises(AnnotationError, match=r"the frame rate of 'Ego4D' must be a positive"):
        EgoPlanDataset(path, data_root, fps={'Ego4D': 0})


def test_a_missing_video_names_the_paths_tried_and_the_flag(tmp_path, data_root):
    other = tmp_path / 'other'
    other.mkdir()
    path = write_items(tmp_path / 'items.json', [epic_question(video='P02_01')])
    with pytest.raises(AnnotationError) as err:
        EgoPlanDataset(path, [data_root, other])
    message = str(err.value)
    assert message.startswith(f"{path}: item '115' (#0): no video or frame folder for 'P02_01' "
                              '(EpicKitchens); tried ')
    for root in (data_root, other):
        for layout in ('P02_01', 'P02_01.{mp4,avi,mkv,mov,webm}', 'P02/rgb_frames/P02_01/',
                       'EPIC-KITCHENS/P02/rgb_frames/P02_01/'):
            assert f'{root}/{layout}' in message
    tried, hint = message.split('. To fix it, ')
    assert 'Ego4D/v1_288p' not in tried  # not a layout of EPIC-KITCHENS videos
    assert hint.startswith('give --video-root (video_root in Python) the EgoPlan data root')

    path = write_items(tmp_path / 'items.json', [ego4d_question(number=3)])
    (data_root / 'Ego4D' / 'v1_288p' / f'{EGO4D_VIDEO}.mp4').unlink()
    tried = re.escape(f'{data_root}/Ego4D/v1_288p/{EGO4D_VIDEO}.{{mp4,avi,mkv,mov,webm}}. To fix '
                      'it, give --video-root')
    with pytest.raises(AnnotationError, match=tried) as err:
        EgoPlanDataset(path, data_root)
    assert 'rgb_frames' not in str(err.value).split('. To fix it, ')[0]
    with pytest.raises(AnnotationError, match=r'video_root .*nowhere is not a folder; give '
                                              r'--video-root'):
        EgoPlanDataset(path, [data_root, tmp_path / 'nowhere'])


def test_uniform_sampling_spreads_the_frames_evenly_to_the_current_observation(tmp_path,
                                                                               data_root):
    path = write_items(tmp_path / 'items.json', [
        epic_question(), ego4d_question(), epic_question(sample_id=2, current=12, start=10)])
    # The 'change' policy would keep none of these similar frames; uniform sampling ignores it.
    keyframes = KeyframeConfig(policy='change', max_count=5, change_threshold=1.0)
    # Items come video by video: both EPIC-KITCHENS questions share a video.
    epic, short, ego4d = EgoPlanDataset(path, data_root, sampling='uniform').items(keyframes)
    assert frame_numbers(epic, 30.0) == [4, 13, 22, 31, 40]
    assert_is_frame_40(epic.frames[-1], data_root)
    assert epic.decision_time == pytest.approx(40 / 30)
    assert frame_numbers(ego4d, EGO4D_FPS) == [2, 4, 7, 9, 12]
    assert frame_numbers(short, 30.0) == [10, 11, 12]  # a span shorter than 5 frames

    [eight] = EgoPlanDataset(write_items(tmp_path / 'one.json', [epic_question()]), data_root,
                             sampling='uniform').items(KeyframeConfig(max_count=8))
    assert len(eight.frames) == 8 and frame_numbers(eight, 30.0)[-1] == 40
    with pytest.raises(AnnotationError, match="sampling 'even' is unknown; choose keyframes or "
                                              'uniform'):
        EgoPlanDataset(path, data_root, sampling='even')


@pytest.mark.parametrize('start, current, count', [
    (0, 656, 8), (36, 760, 8), (9162, 9308, 8), (4, 40, 5), (0, 7, 8), (5, 5, 8), (3, 90, 1)])
def test_uniform_frames_are_egoplan_bench2s_own(start, current, count):
    # EgoPlan-Bench2's eval.py: np.linspace(start, end, frame_number, endpoint=True, dtype=int).
    theirs = np.linspace(start, current, count, endpoint=True, dtype=int).tolist()
    ours = uniform_frames(start, current, count)
    assert ours == list(dict.fromkeys(theirs if count > 1 else [current]))
    assert ours[-1] == current and ours == sorted(set(ours))


def test_progress_counts_across_several_egoplan_files(tmp_path, data_root):
    folder = tmp_path / 'egoplan'
    folder.mkdir()
    write_items(folder / 'EgoPlan_Bench_EpicKitchens.json',
                [epic_question(sample_id=i, current=10 + i) for i in range(3)])
    write_items(folder / 'EgoPlan_Bench_Ego4D.json',  # ids overlap the other file's
                [question(i, 5 + i, 1, video_source='Ego4D', video_id=EGO4D_VIDEO)
                 for i in range(2)])
    dataset = load_dataset(folder, video_root=data_root)
    assert isinstance(dataset, FolderDataset) and len(dataset) == 5
    ids = dataset.item_ids()
    assert ids == ['EgoPlan_Bench_Ego4D/0', 'EgoPlan_Bench_Ego4D/1',
                   'EgoPlan_Bench_EpicKitchens/0', 'EgoPlan_Bench_EpicKitchens/1',
                   'EgoPlan_Bench_EpicKitchens/2']
    assert [item.item_id for item in dataset.items(KEEP_ALL)] == ids

    chosen = dataset.subset({'EgoPlan_Bench_Ego4D/1', 'EgoPlan_Bench_EpicKitchens/0',
                             'EgoPlan_Bench_EpicKitchens/2'})
    assert len(chosen) == 3
    assert chosen.item_ids() == ['EgoPlan_Bench_Ego4D/1', 'EgoPlan_Bench_EpicKitchens/0',
                                 'EgoPlan_Bench_EpicKitchens/2']
    assert [item.item_id for item in chosen.items(KEEP_ALL)] == chosen.item_ids()
    assert len(dataset) == 5  # the whole data set is left whole

    files = sorted(folder.iterdir())
    parts = [load_dataset(path, video_root=data_root) for path in files]
    assert [len(part) for part in parts] == [2, 3]
    part = parts[1].subset({'1'})
    assert len(part) == 1 and part.item_ids() == ['1']
    assert [item.item_id for item in part.items(KEEP_ALL)] == ['1']


def test_the_domain_must_be_a_text(tmp_path, data_root):
    path = write_items(tmp_path / 'items.json', [ego4d_question(domain=3)])
    with pytest.raises(AnnotationError, match=r'"domain" must be a non-empty text when given, '
                                              r'got 3'):
        EgoPlanDataset(path, data_root)


def test_the_command_line_takes_several_roots_rates_and_the_sampling(tmp_path, data_root):
    path = write_items(tmp_path / 'items.json', [epic_question(), ego4d_question()])
    roots = [str(data_root / 'EPIC-KITCHENS'), str(data_root / 'Ego4D' / 'v1_288p')]
    args = build_parser().parse_args([
        'eval', '--data', str(path), '--out', str(tmp_path / 'out'), '--video-root', *roots,
        '--frame-rate', 'EpicKitchens=60', '25', '--egoplan-sampling', 'uniform'])
    assert args.video_root == roots
    assert args.frame_rate == [('EpicKitchens', 60.0), ('*', 25.0)]
    dataset = load_dataset(path, video_root=args.video_root, fps=dict(args.frame_rate),
                           sampling=args.egoplan_sampling)
    epic, _ = dataset.items(KeyframeConfig(max_count=4))
    assert frame_numbers(epic, 60.0) == [4, 16, 28, 40]

    for bad in ('fast', 'EpicKitchens=0', '=30'):
        with pytest.raises(ValueError, match='expected SOURCE=FPS or FPS'):
            frame_rate(bad)
    with pytest.raises(SystemExit):
        build_parser().parse_args(['eval', '--data', 'x', '--out', 'y', '--frame-rate', 'fast'])


def test_the_egoplan_protocol_preset_is_a_planner_parameter_file():
    preset = Path(__file__).resolve().parents[2] / 'config' / 'egoplan_protocol.yaml'
    section = yaml.safe_load(preset.read_text())['/**/vlm_planner']['ros__parameters']

    def flat(tree, prefix=''):
        for key, value in tree.items():
            if isinstance(value, dict):
                yield from flat(value, f'{prefix}{key}.')
            else:
                yield f'{prefix}{key}', value

    values = dict(flat(section))
    assert values == {'strategy.name': 'base', 'strategy.scoring': 'likelihood',
                      'keyframes.max_count': 8}
    assert settings.complete(values)['strategy.scoring'] == 'likelihood'
    assert '--egoplan-sampling uniform' in preset.read_text()


def test_a_video_is_decoded_once_for_all_its_questions(tmp_path, data_root, monkeypatch):
    from vlm_planner.data import media
    path = write_items(tmp_path / 'items.json', [
        ego4d_question(1), epic_question(), ego4d_question(3, current=10)])
    opened = []
    original = media.Video.__init__

    def counting(self, file):
        opened.append(file)
        original(self, file)

    monkeypatch.setattr(media.Video, '__init__', counting)
    items = list(EgoPlanDataset(path, data_root, sampling='uniform').items(
        KeyframeConfig(max_count=4)))
    assert len(opened) == 1  # the Ego4D video, once for both of its questions
    assert [item.item_id for item in items][:2] == [f'{EGO4D_VIDEO}_1', f'{EGO4D_VIDEO}_3']
    first, second = items[0].frames, items[1].frames
    shared = {id(frame) for frame in first} & {id(frame) for frame in second}
    assert shared  # a frame both need is one Frame, so the keyframe cache reuses it
