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


def test_plan_preview_explains_a_bad_profile(cli_runner, tmp_path):
    path = tmp_path / "profile.json"
    path.write_text(json.dumps({**PROFILE, "days": [0]}))
    result = cli_runner.invoke(args=["plan-preview", str(path)])
    assert result.exit_code == 1
    assert "days:" in result.output
    path.write_text("{not json")
    assert cli_runner.invoke(args=["plan-preview", str(path)]).exit_code == 1
