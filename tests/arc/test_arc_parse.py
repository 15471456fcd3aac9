"""parse_response: the rules of issue #2, the seed's formats, and properties over any text."""

from hypothesis import given, strategies as st

from arc_console.arc import grid_to_text, parse_response

SEED_CHANNEL_RESPONSE = (
    "<|channel|>analysis<|return|>\n"
    "Looking at the examples, I can see the pattern is...\n"
    "The transformation rule appears to be...\n\n"
    "<|channel|>final<|return|>\n"
    "2 0 1\n"
    "1 2 0\n"
    "<|end|>"
)
SEED_SIMPLE_RESPONSE = "Based on the pattern analysis:\n2 0 1  \n1 2 0"


def test_seed_channel_format() -> None:
    assert parse_response(SEED_CHANNEL_RESPONSE) == [[2, 0, 1], [1, 2, 0]]


def test_seed_simplified_format() -> None:
    assert parse_response(SEED_SIMPLE_RESPONSE) == [[2, 0, 1], [1, 2, 0]]


def test_decoy_grid_in_analysis_is_ignored_when_final_channel_exists() -> None:
    text = (
        "<|channel|>analysis<|message|>Maybe:\n9 9\n9 9\nno wait<|end|>"
        "<|start|>assistant<|channel|>final<|message|>\n1 2\n3 4\n<|return|>\n5 5\n5 5"
    )
    assert parse_response(text) == [[1, 2], [3, 4]]


def test_last_final_channel_wins() -> None:
    text = "<|channel|>final<|message|>1 1\n<|end|><|channel|>final<|message|>2 2\n2 2<|return|>"
    assert parse_response(text) == [[2, 2], [2, 2]]


def test_final_channel_without_grid_is_none_even_if_analysis_has_one() -> None:
    text = "<|channel|>analysis<|message|>1 2\n3 4<|end|><|channel|>final<|message|>I cannot tell.<|return|>"
    assert parse_response(text) is None


def test_generated_continuation_of_the_prompt() -> None:
    # The prompt ends with the final channel's opening, so the model's text is the bare answer.
    assert parse_response("3 3 0\n0 3 3\n<|return|>") == [[3, 3, 0], [0, 3, 3]]


def test_last_block_wins() -> None:
    assert parse_response("1 1\n1 1\n\nthen\n2 2 2\n2 2 2\n") == [[2, 2, 2], [2, 2, 2]]


def test_ragged_last_block_is_none() -> None:
    assert parse_response("1 1\n1 1\n\n2 2 2\n2 2\n") is None


def test_commas_brackets_and_trailing_commas() -> None:
    text = "[1, 2, 3],\n[4, 5, 6],\n[7,8,9]"
    assert parse_response(text) == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]


def test_digits_only_lines() -> None:
    assert parse_response("Answer:\n012\n340") == [[0, 1, 2], [3, 4, 0]]


def test_two_digit_token_breaks_a_row() -> None:
    assert parse_response("1 10 2\n3 4 5") == [[3, 4, 5]]
    assert parse_response("1 2 3\n1 10 2") == [[1, 2, 3]]


def test_json_grid_and_code_fences() -> None:
    assert parse_response('```json\n[[1, 2], [3, 4]]\n```') == [[1, 2], [3, 4]]
    assert parse_response("```\n1 2\n3 4\n```\nDone.") == [[1, 2], [3, 4]]
    assert parse_response("grid = [[0,0,1],\n        [1,0,0]] ok") == [[0, 0, 1], [1, 0, 0]]


def test_json_then_later_rows_take_the_later() -> None:
    assert parse_response("[[1, 2], [3, 4]]\nbut really\n5 6\n7 8") == [[5, 6], [7, 8]]
    assert parse_response("5 6\n7 8\nas JSON: [[1, 2], [3, 4]]") == [[1, 2], [3, 4]]


def test_crlf_line_endings() -> None:
    assert parse_response("Output:\r\n1 2\r\n3 4\r\n") == [[1, 2], [3, 4]]


def test_thirty_by_thirty() -> None:
    grid = [[(r * 7 + c) % 10 for c in range(30)] for r in range(30)]
    assert parse_response("Here:\n" + grid_to_text(grid) + "\n") == grid


def test_no_grid_answers() -> None:
    for text in ["", "no idea", "<|return|>", "[[]]", "[[1, 12]]", "1 2 x\n"]:
        assert parse_response(text) is None, text


grids = st.integers(1, 30).flatmap(
    lambda height: st.integers(1, 30).flatmap(
        lambda width: st.lists(
            st.lists(st.integers(0, 9), min_size=width, max_size=width), min_size=height, max_size=height
        )
    )
)


@given(st.text())
def test_never_raises_on_any_text(text: str) -> None:
    result = parse_response(text)
    assert result is None or (result and len({len(row) for row in result}) == 1)


@given(st.text(alphabet=st.sampled_from(list("0123456789 ,[]\n\r\t<|>finalchanesgtr{}\"`")), max_size=300))
def test_never_raises_on_grid_like_text(text: str) -> None:
    parse_response(text)


@given(grids)
def test_format_then_parse_round_trips(grid: list[list[int]]) -> None:
    assert parse_response(grid_to_text(grid)) == grid
    assert parse_response("<|channel|>final<|message|>" + grid_to_text(grid) + "<|return|>") == grid
