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

"""Tests of the data sets: annotated bag replays, EgoPlan-Bench items, and load_dataset."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import yaml

from test.data.bagfactory import scene_images, write_camera_bag
from vlm_planner.core.frames import Frame
from vlm_planner.core.keyframes import KeyframeConfig
from vlm_planner.core.session import replayed_keyframes
from vlm_planner.data.episodes import BagDataset, EgoPlanDataset, load_dataset
from vlm_planner.data.media import load_frames
from vlm_planner.errors import AnnotationError, BagError

CONFIG = KeyframeConfig(policy='interval', max_count=3, min_interval=0.25)
GOAL_A = 'put the red block in the bin'
GOAL_B = 'put all blocks in the bin'
CANDIDATES = ['pick up the red block', 'pick up the green block', 'pick up the blue block']


def assert_same_frames(got, want):
    assert [f.stamp for f in got] == [f.stamp for f in want]
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a.image, b.image)


def write_annotation(path, points, **top):
    data = {'bag': 'bag', 'decision_points': points, **top}
    path.write_text(json.dumps(data) if path.suffix == '.json' else yaml.safe_dump(data))
    return path


def decision(time, goal=GOAL_A, **fields):
    return {'time': time, 'goal': goal, 'candidates': CANDIDATES, 'answer': 0, **fields}


@pytest.fixture(params=['sqlite3', 'mcap'])
def recording(tmp_path, request):
    """20 rendered frames stamped 100.0, 100.1, ... 101.9 in a bag of either storage."""
    return write_camera_bag(tmp_path / 'bag', request.param, count=20)


def test_bag_replay_is_the_live_pipeline(tmp_path, recording):
    frames = recording.frames
    notes = write_annotation(tmp_path / 'notes.yaml', [
        decision(0.9, id='a2'),
        decision(0.45, id='a1', task='reach'),
        decision(1.25, GOAL_B, id='b1', answer='pick up the blue block'),
        decision(101.9, GOAL_B, id='b2', time_is_absolute=True),
        decision(1.3, GOAL_B, id='b1-again'),
    ])
    dataset = BagDataset(notes)
    assert len(dataset) == 5 and dataset.name == 'notes'
    items = list(dataset.items(CONFIG))
    assert [i.item_id for i in items] == ['a1', 'a2', 'b1', 'b1-again', 'b2']
    assert [i.decision_time for i in items] == pytest.approx([100.45, 100.9, 101.25, 101.3,
                                                              101.9])
    for item in items:
        assert item.dataset == 'notes' and item.frames[-1].stamp <= item.decision_time
        assert all(f.stamp <= item.decision_time for f in item.frames)
    a1, a2, b1, b1_again, b2 = items
    assert (a1.task, a2.task, a1.goal, b1.goal, b1.answer) == ('reach', 'notes', GOAL_A, GOAL_B, 2)

    def upto(t, since=None):
        return [f for f in frames if (since is None or f.stamp > since) and f.stamp <= t + 1e-9]
    # The first task: everything up to each decision, through the same buffer code.
    assert_same_frames(a1.frames, replayed_keyframes(upto(100.45), CONFIG))
    assert_same_frames(a2.frames, replayed_keyframes(upto(100.9), CONFIG))
    # The goal changed: a new task starts with the newest frame seen at the last old decision.
    start_b = upto(100.9)[-1:]
    assert_same_frames(b1.frames, replayed_keyframes(start_b + upto(101.25, 100.9), CONFIG))
    assert_same_frames(b1_again.frames, replayed_keyframes(start_b + upto(101.3, 100.9), CONFIG))
    assert_same_frames(b2.frames, replayed_keyframes(start_b + upto(101.9, 100.9), CONFIG))
    assert b2.frames[-1].stamp == pytest.approx(101.9)


def test_bag_replay_with_change_policy_and_header_free_frames(tmp_path):
    bag = write_camera_bag(tmp_path / 'bag', 'mcap', 'png', count=12, zero_stamps=True)
    notes = write_annotation(tmp_path / 'notes.yaml', [decision(0.75)])
    (item,) = BagDataset(notes, name='run').items(KeyframeConfig())
    visible = [f for f in bag.frames if f.stamp <= bag.frames[0].stamp + 0.75]
    assert item.dataset == 'run'
    assert_same_frames(item.frames, replayed_keyframes(visible, KeyframeConfig()))


def test_bag_replay_checks_the_recording_before_any_item(tmp_path, recording):
    outside = write_annotation(tmp_path / 'late.yaml', [decision(0.5), decision(2.5, id='late')])
    with pytest.raises(AnnotationError, match=r"late.yaml: decision point 'late' \(#1\) at time "
                                              r'2.5 s points outside the recording'):
        BagDataset(outside).items(CONFIG)
    wrong_topic = write_annotation(tmp_path / 'topic.yaml', [decision(0.5)], topic='/front')
    with pytest.raises(BagError, match=r'topic.yaml: topic /front is not in bag .*; its topics '
                                       r'are: /camera/image_raw \(sensor_msgs/msg/Image\)'):
        BagDataset(wrong_topic).items(CONFIG)


def write_video(path, images, fps=10.0):
    height, width = images[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), fps, (width, height))
    for rgb in images:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()


def egoplan_item(**fields):
    item = {'sample_id': 1, 'video_id': 'vid1', 'task_goal': GOAL_B,
            'question': 'what action should I take next?',
            'choice_a': 'pick up the red block', 'choice_b': 'put the held block in the bin',
            'choice_c': 'pick up the blue block', 'choice_d': 'put the held block on the table',
            'golden_choice_idx': 'B', 'answer': 'put the held block in the bin',
            'current_observation_frame': 20,
            'task_progress_metadata': [
                {'narration_text': 'pick up the red block', 'start_frame': 4, 'stop_frame': 10},
                {'narration_text': 'put the held block in the bin', 'start_frame': 12,
                 'stop_frame': 18},
                {'narration_text': 'later, never shown', 'start_frame': 22, 'stop_frame': 25}]}
    item.update(fields)
    return {k: v for k, v in item.items() if v is not None}


@pytest.fixture
def egoplan(tmp_path):
    """A video vid1.avi (30 frames, 10 fps) and a folder vid2/ of Epic-style numbered frames."""
    root = tmp_path / 'videos'
    root.mkdir()
    write_video(root / 'vid1.avi', scene_images(30, width=64, height=48))
    (root / 'vid2').mkdir()
    for i, rgb in enumerate(scene_images(10, width=64, height=48)):
        cv2.imwrite(str(root / 'vid2' / f'frame_{i + 1:010d}.png'),
                    cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    def _write(items):
        path = tmp_path / 'egoplan.json'
        path.write_text(json.dumps(items))
        return path
    return root, _write


def test_egoplan_items_from_a_video_and_a_frame_folder(egoplan):
    root, write = egoplan
    path = write([
        egoplan_item(),
        # EgoPlan-Bench2 style: no video_id (the sample id names the video), a start frame, an
        # index answer, and a scenario.
        egoplan_item(sample_id='vid2_0', video_id=None, golden_choice_idx=2, answer=None,
                     task_start_frame=2, current_observation_frame=7, scenario='tidying'),
    ])
    dataset = EgoPlanDataset(path, root, sample_fps=5.0)
    assert len(dataset) == 2 and dataset.name == 'egoplan'
    video, folder = dataset.items(CONFIG)

    assert (video.item_id, video.goal, video.answer, video.task) == ('1', GOAL_B, 1, 'egoplan')
    assert [c.label for c in video.candidates][1] == 'put the held block in the bin'
    decoded = load_frames(root / 'vid1.avi')  # the same decoder, every frame
    progress = [Frame(decoded[n].image, n / 10) for n in range(4, 21, 2)]
    assert_same_frames(video.frames, replayed_keyframes(progress, CONFIG))
    assert video.decision_time == pytest.approx(2.0) == video.frames[-1].stamp

    assert (folder.item_id, folder.answer, folder.task) == ('vid2_0', 2, 'tidying')
    images = scene_images(10, width=64, height=48)
    # fps 30 (the default for folders) at 5 samples a second: every 6th frame, then the current.
    progress = [Frame(images[n - 1], n / 30) for n in (2, 7)]
    assert_same_frames(folder.frames, replayed_keyframes(progress, CONFIG))


@pytest.mark.parametrize('fields, message', [
    ({'video_id': 'nowhere'}, r"item '1' \(#0\): no video or frame folder for 'nowhere'"),
    ({'golden_choice_idx': 'E'}, r"golden_choice_idx 'E' is not among the 4 choices"),
    ({'answer': 'pick up the red block'}, r"\"answer\" 'pick up the red block' is not choice B"),
    ({'choice_b': None, 'choice_c': None, 'choice_d': None}, r'needs at least "choice_a" and'),
    ({'current_observation_frame': None}, r'"current_observation_frame" must be a frame number'),
    ({'task_start_frame': 30}, r'the task starts at frame 30, after the current observation'),
    ({'sample_id': None, 'video_id': None}, r'no "video_id"'),
])
def test_egoplan_item_errors_name_file_and_item(egoplan, fields, message):
    root, write = egoplan
    path = write([egoplan_item(**fields)])
    with pytest.raises(AnnotationError, match=message) as err:
        EgoPlanDataset(path, root)
    assert str(err.value).startswith(str(path))


def test_egoplan_frames_missing_from_the_media(egoplan):
    root, write = egoplan
    path = write([egoplan_item(current_observation_frame=40)])
    with pytest.raises(AnnotationError, match=r"item '1' \(#0\): .*vid1.avi ends before frame "
                                              r'30; the item needs frames up to 40'):
        next(EgoPlanDataset(path, root).items(CONFIG))
    path = write([egoplan_item(sample_id=2, video_id='vid2', current_observation_frame=12)])
    with pytest.raises(AnnotationError, match=r"item '2' \(#0\): frame 12 is not in .*vid2 "
                                              r'\(it has frames 1 to 10\)'):
        next(EgoPlanDataset(path, root).items(CONFIG))
    with pytest.raises(AnnotationError, match='item id .1. appears twice'):
        EgoPlanDataset(write([egoplan_item(), egoplan_item()]), root)


def test_load_dataset_dispatches_on_content(tmp_path, egoplan):
    root, write = egoplan
    write_camera_bag(tmp_path / 'bag', count=3)
    notes = write_annotation(tmp_path / 'notes.json', [decision(0.1)])
    assert isinstance(load_dataset(notes, video_root=None), BagDataset)
    assert load_dataset(notes, name='x').name == 'x'
    items = write([egoplan_item()])
    dataset = load_dataset(items, video_root=root, sample_fps=2.0)
    assert isinstance(dataset, EgoPlanDataset) and dataset.sample_fps == 2.0
    with pytest.raises(AnnotationError, match='EgoPlan-Bench item file; give video_root'):
        load_dataset(items)
    # One --video-root serves a mix of both kinds: annotation files ignore it.
    assert isinstance(load_dataset(notes, video_root=root), BagDataset)
    with pytest.raises(AnnotationError, match=r'is an annotation file; option\(s\) fps do'):
        load_dataset(notes, fps=10.0)
    other = tmp_path / 'other.yaml'
    other.write_text('model: qwen\n')
    with pytest.raises(AnnotationError, match='other.yaml is of no known data-set kind. Known '
                                              'kinds: an annotation file'):
        load_dataset(other)


def test_a_folder_of_annotation_files_is_one_data_set(tmp_path):
    folder = tmp_path / 'split'
    folder.mkdir()
    for name in ('e1', 'e2'):
        write_camera_bag(folder / f'{name}-bag', count=4)
        write_annotation(folder / f'{name}.yaml', [decision(0.1), decision(0.2)],
                         bag=f'{name}-bag')
    dataset = load_dataset(folder)
    assert dataset.name == 'split' and len(dataset) == 4
    assert dataset.item_ids() == ['e1/0', 'e1/1', 'e2/0', 'e2/1']
    items = list(dataset.items(CONFIG))
    assert [i.item_id for i in items] == dataset.item_ids()
    assert {i.dataset for i in items} == {'split'}
    with pytest.raises(AnnotationError, match='is a rosbag2 recording, not a data set'):
        load_dataset(tmp_path / 'split' / 'e1-bag')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(AnnotationError, match='holds no data-set file'):
        load_dataset(tmp_path / 'empty')
