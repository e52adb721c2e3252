import time

from strongroom.ui.chat.frame_pacer import FramePacer


def busy(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_cheap_frames_run_at_sixty_a_second():
    pacer = FramePacer()
    assert pacer.wait_ms() == 0
    pacer.frame_shown()
    pacer.frame_shown()
    assert pacer.interval == FramePacer.FASTEST


def test_expensive_frames_are_spaced_to_the_budget():
    pacer = FramePacer()
    pacer.frame_shown()
    busy(0.004)
    pacer.frame_shown()
    assert abs(pacer.interval - 0.004 / FramePacer.BUDGET) < 0.06
    assert pacer.wait_ms() > 50
    busy(0.5)
    pacer.frame_shown()
    assert pacer.interval == FramePacer.SLOWEST


def test_other_work_does_not_count_against_frames():
    pacer = FramePacer()
    pacer.frame_shown()
    busy(0.004)
    pacer.frame_shown(other_work=0.004)
    assert pacer.interval < 0.03
