import json

from programs.engine import Plan
from tests.programs.portal.test_api import PROFILE


def test_plan_preview_prints_the_plan_as_json(cli_runner, tmp_path):
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(PROFILE))
    result = cli_runner.invoke(args=["plan-preview", str(path)])
    assert result.exit_code == 0, result.output
    plan = Plan.from_json(result.output)
    assert plan.profile.race_type == "rundisney" and plan.weeks


def test_plan_preview_as_text(cli_runner, tmp_path):
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(PROFILE))
    result = cli_runner.invoke(args=["plan-preview", str(path), "--format", "text"])
    assert result.exit_code == 0
    assert "Week 1" in result.output


def test_plan_preview_text_shows_taper_rehearsal_and_hip_grid_per_week(cli_runner, tmp_path):
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(PROFILE))
    out = cli_runner.invoke(args=["plan-preview", str(path), "--format", "text"]).output
    plan = Plan.from_json(cli_runner.invoke(args=["plan-preview", str(path)]).output)
    assert "Taper:" in out and "% less); nothing the day before." in out
    assert "Dress rehearsal:" in out and "[rehearsal]" in out
    assert out.count("hip grid ") == len(plan.weeks)
    training = [w for w in plan.weeks if not w.recovery]
    assert out.count("hip grid 12/12: forward SB, back SB, out SB, in SB") >= len(training)
    assert "rung" not in out


def test_plan_preview_explains_a_bad_profile(cli_runner, tmp_path):
    path = tmp_path / "profile.json"
    path.write_text(json.dumps({**PROFILE, "days": [0]}))
    result = cli_runner.invoke(args=["plan-preview", str(path)])
    assert result.exit_code == 1
    assert "days:" in result.output
    path.write_text("{not json")
    assert cli_runner.invoke(args=["plan-preview", str(path)]).exit_code == 1
