from hypothesis import given, strategies as st

from arc_console.arc import score_grid


def test_perfect() -> None:
    s = score_grid([[1, 2], [3, 4]], [[1, 2], [3, 4]])
    assert (s.accuracy, s.has_grid, s.correct_size, s.perfect_match) == (1.0, True, True, True)
    assert s["perfect_match"] is True
    assert s.as_dict() == {"accuracy": 1.0, "has_grid": True, "correct_size": True, "perfect_match": True}


def test_partial_same_size() -> None:
    s = score_grid([[1, 2], [3, 0]], [[1, 2], [3, 4]])
    assert s.accuracy == 0.75 and s.correct_size and not s.perfect_match


def test_missing_cells_count_against() -> None:
    # 2x2 predicted inside a 3x3 target: 4 equal cells out of 9.
    s = score_grid([[1, 1], [1, 1]], [[1, 1, 1], [1, 1, 1], [1, 1, 1]])
    assert s.accuracy == 4 / 9 and not s.correct_size and s.has_grid


def test_extra_cells_count_against() -> None:
    s = score_grid([[1, 1, 1], [1, 1, 1], [1, 1, 1]], [[1, 1], [1, 1]])
    assert s.accuracy == 4 / 9 and not s.perfect_match


def test_different_shapes_union() -> None:
    # 1x3 vs 3x1: union 3x3, only (0,0) overlaps.
    s = score_grid([[5, 5, 5]], [[5], [5], [5]])
    assert s.accuracy == 1 / 9


def test_no_grid() -> None:
    s = score_grid(None, [[1]])
    assert (s.accuracy, s.has_grid, s.correct_size, s.perfect_match) == (0.0, False, False, False)


small = st.lists(st.lists(st.integers(0, 9), min_size=3, max_size=3), min_size=2, max_size=2)


@given(small, small)
def test_accuracy_is_one_exactly_when_perfect(a: list[list[int]], b: list[list[int]]) -> None:
    s = score_grid(a, b)
    assert 0.0 <= s.accuracy <= 1.0
    assert (s.accuracy == 1.0) == s.perfect_match == (a == b)
