"""benchmarks/test_time_rule_choice.py: a ranking rule for the pooled test-time candidates is chosen on dev pools
only, then reported frozen on test pools; the rules rank what they are given."""

import json
import subprocess
import sys
from pathlib import Path

from paths import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from test_time_rule_choice import CANDIDATES, DEFAULT, choose, run_score  # noqa: E402


def candidate(right: bool, votes: tuple[int, int], scores: tuple[float, float],
              views: tuple[list[float], list[float]] | None = None) -> dict:
    record = {"right": right, "votes": {"base": votes[0], "tuned": votes[1]},
              "score": {"base": scores[0], "tuned": scores[1]}, "mean_sample_logprob": -1.0}
    if views is not None:
        record["view_scores"] = {"base": views[0], "tuned": views[1]}
        record["cells"] = 4
    return record


# the tuned model is confidently wrong; the base model's own favourite is right but third by the summed score
HEDGE = [candidate(False, (0, 3), (-12.0, -1.0)), candidate(False, (0, 2), (-11.0, -3.0)),
         candidate(True, (2, 0), (-4.0, -60.0))]


def run(task: str, seed: int, pool: list[dict]) -> dict:
    return {"task_id": task, "seed": seed, "budget": 1, "sft_steps": 16, "tests": [pool]}


def test_a_two_part_rule_takes_its_second_attempt_from_the_second_ranking():
    assert run_score(run("a", 0, HEDGE), CANDIDATES[DEFAULT]) == 0  # -13, -14 before -64
    assert run_score(run("a", 0, HEDGE), CANDIDATES["1st base+tuned, 2nd base"]) == 1
    assert CANDIDATES["1st base+tuned, 2nd base"](HEDGE) == [0, 2, 1]
    # attempt 2 is never attempt 1 again: here the base model's favourite is the summed score's too
    same = [candidate(True, (1, 1), (-1.0, -1.0)), candidate(False, (1, 0), (-2.0, -9.0))]
    assert CANDIDATES["1st base+tuned, 2nd base"](same) == [0, 1]


def test_per_view_rules_read_each_views_score():
    # one bad view sinks the right answer's sum but not its median
    right = candidate(True, (1, 0), (-30.0, -3.0), ([-1.0, -1.0, -28.0], [-1.0, -1.0, -1.0]))
    wrong = candidate(False, (1, 0), (-9.0, -9.0), ([-3.0, -3.0, -3.0], [-3.0, -3.0, -3.0]))
    other = candidate(False, (1, 0), (-8.0, -10.0), ([-2.0, -3.0, -3.0], [-3.0, -3.0, -4.0]))
    pool = [wrong, other, right]
    assert CANDIDATES[DEFAULT](pool)[:2] == [0, 1]
    assert CANDIDATES["per view: median"](pool)[0] == 2 and CANDIDATES["per view: drop the worst 1"](pool)[0] == 2
    assert CANDIDATES["per view: most views won"](pool)[0] == 2  # best under 5 of the 6 views


def test_the_rule_with_the_best_dev_score_is_chosen_and_ties_keep_the_default():
    plain_pool = [candidate(True, (2, 2), (-1.0, -1.0)), candidate(False, (1, 0), (-5.0, -5.0))]
    chosen, table = choose([run("a", 0, HEDGE), run("b", 0, plain_pool)])
    rows = {row["rule"]: row for row in table}
    assert rows[DEFAULT]["pass_at_2_mean"] == 0.5 and rows[chosen]["pass_at_2_mean"] == 1.0
    assert chosen == "1st base+tuned, 2nd base"  # the first of the rules that solve both
    assert rows[chosen]["gained_vs_default"] == 1 and rows[chosen]["lost_vs_default"] == 0
    assert not any(rule.startswith("per view") for rule in rows)  # these pools have no view_scores
    assert choose([run("b", 0, plain_pool)])[0] == DEFAULT  # every rule solves it: the default stays


def script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "benchmarks/test_time_rule_choice.py"), *args],
                          capture_output=True, text=True, timeout=120)


def test_the_script_chooses_on_dev_and_reports_on_test(tmp_path: Path):
    dev, test, out = tmp_path / "dev.json", tmp_path / "test.json", tmp_path / "choice.json"
    dev.write_text(json.dumps({"pools": [run("d1", 0, HEDGE), run("d1", 1, HEDGE)]}))
    test.write_text(json.dumps({"pools": [run("t1", 0, HEDGE), run("t2", 0, HEDGE[:2])]}))
    result = script("--dev", str(dev), "--test", str(test), "--out", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["chosen"] == "1st base+tuned, 2nd base" and report["dev"]["runs"] == 2
    assert report["test"]["chosen"]["pass_at_2_mean"] == 0.5 and report["test"]["default"]["pass_at_2_mean"] == 0
    assert report["test"]["chosen"]["gained_vs_default"] == 1 and report["test"]["oracle"]["pass_at_2_mean"] == 0.5


def test_the_script_refuses_pools_that_share_tasks(tmp_path: Path):
    dev, out = tmp_path / "dev.json", tmp_path / "choice.json"
    dev.write_text(json.dumps({"pools": [run("same", 0, HEDGE)]}))
    result = script("--dev", str(dev), "--test", str(dev), "--out", str(out))
    assert result.returncode == 2 and "share 1 tasks" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()
    missing = script("--dev", str(tmp_path / "none.json"), "--test", str(dev))
    assert missing.returncode == 2 and "no such results file" in missing.stderr
