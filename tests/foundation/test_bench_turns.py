"""The bench's rounds across scales (bench/__main__.py): the order of turns and the merge of
a scale's rounds into one result, so growth compares scales measured in the same minutes."""

from bench.__main__ import turns
from bench.harness import Stats
from bench.measures import Context, Result


def _stats(latencies, errors=0, wall=1.0, size=10):
    return Stats(latencies=list(latencies), errors=errors, wall=wall, bytes=size)


def test_scales_take_turns_up_and_down():
    assert turns([1, 10, 50], 3) == [1, 10, 50, 50, 10, 1, 1, 10, 50]
    assert turns([1, 50], 1) == [1, 50]


def test_rounds_merge_latencies_errors_and_wall():
    first = Result(app=_stats([0.010, 0.020], errors=1, wall=2.0), same=_stats([0.005]), notes=["first"],
                   statements={"app": 5})
    later = Result(app=_stats([0.030], wall=1.5, size=99), same=_stats([0.006, 0.007]), base=_stats([0.001]),
                   notes=["later"], statements={"app": 5, "same": 5})
    merged = first.merge(later)
    assert merged.app.latencies == [0.010, 0.020, 0.030]
    assert merged.app.errors == 1 and merged.app.wall == 3.5 and merged.app.bytes == 99
    assert merged.app.throughput == 3 / 3.5
    assert merged.same.latencies == [0.005, 0.006, 0.007]
    assert merged.base.latencies == [0.001]  # a series only the later round had
    assert merged.notes == ["later"] and merged.statements == {"app": 5, "same": 5}


def test_a_share_of_the_requests_is_never_zero():
    ctx = Context(db=None, app_port=0, base_port=0, rules=[], facts={}, share=1 / 3)
    assert ctx.portion(60) == 20 and ctx.portion(200) == 67 and ctx.portion(1) == 1
