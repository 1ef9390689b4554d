"""`rlpipe eval --only-seeds` and `--merge`: a run evaluated one seed group at a time gives the
file one evaluation of the whole run gives, and a wrong set of group files is refused."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from rlpipe.algos.registry import build_agent
from rlpipe.cli import app
from rlpipe.envs import env_shapes, make_vec_env
from rlpipe.errors import RlpipeError
from rlpipe.evaluation import evaluate_run
from rlpipe.group_eval import evaluate_group, merge_group_evals
from rlpipe.rundir import RunFolder
from rlpipe.rundir.folder import SeedGroup

SEEDS = [0, 1, 2]
GROUPS = [(0, 1), (2,)]


@pytest.fixture
def trained(tmp_path, pipelines_dir):
    """A PPO Pendulum run of 3 seeds trained as two groups (untrained weights, a different
    init per seed), its weights in a separate artifacts folder, not yet summarised."""
    from rlpipe.spec import resolve_spec

    resolved = resolve_spec("ppo", "pendulum", ["seeds=3"], pipelines_dir)
    document = resolved.spec.model_dump(mode="json")
    run = RunFolder(tmp_path / "runs" / "ppo-pendulum", tmp_path / "artifacts" / "ppo-pendulum")
    envs = make_vec_env(resolved.spec.env, 0, num_envs=1, rescale_actions=False)
    for seed in SEEDS:
        torch.manual_seed(seed)
        agent = build_agent(resolved.spec, env_shapes(envs), torch.device("cpu"))
        run.seed(seed).save_weights(agent.state_dict(with_optimizers=False))
    envs.close()
    for seeds in GROUPS:
        group = SeedGroup(
            seeds=list(seeds), spec_hash=resolved.spec_hash, spec=document,
            overrides=["seeds=3"], provenance={"rlpipe": "test"},
        )  # fmt: skip
        run.write_group(group)
    return run, resolved, document


def test_groups_evaluated_apart_and_merged_equal_one_evaluation_of_the_run(trained, tmp_path):
    run, resolved, document = trained
    files = [tmp_path / "evals" / f"g{i}.json" for i in range(len(GROUPS))]
    first = evaluate_group(run, GROUPS[0], files[0])
    assert [entry["seed"] for entry in first["per_seed"]] == [0, 1]
    assert first["spec_hash"] == resolved.spec_hash  # the run's spec, not the narrowed one
    evaluate_group(run, GROUPS[1], files[1])
    run.write_spec(document, resolved.spec_hash, ["seeds=3"])  # as `rlpipe summarize` does

    merged = merge_group_evals(run, files, tmp_path / "evals" / "run.json")
    whole = evaluate_run(run, output=tmp_path / "whole.json")
    assert merged == whole
    assert json.loads((tmp_path / "evals" / "run.json").read_text()) == json.loads(
        (tmp_path / "whole.json").read_text()
    )
    returns = [entry["return_mean"] for entry in merged["per_seed"]]
    assert len(set(returns)) == 3  # three policies, not one evaluated three times


def test_the_cli_evaluates_a_group_and_merges_and_says_what_is_missing(trained, tmp_path):
    run, resolved, document = trained
    runner = CliRunner()
    base = ["eval", str(run.path), "--artifacts", str(run.artifacts)]
    result = runner.invoke(app, [*base, "--only-seeds", "2"], terminal_width=200)
    assert result.exit_code == 2 and "give --output" in result.output

    out = tmp_path / "seeds-2.json"
    result = runner.invoke(app, [*base, "--only-seeds", "2", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert [e["seed"] for e in json.loads(out.read_text())["per_seed"]] == [2]

    result = runner.invoke(app, [*base, "--only-seeds", "1", "--output", str(out)])
    assert result.exit_code == 2
    assert "has no seed group [1]" in result.output and "--only-seeds 1" in result.output

    run.write_spec(document, resolved.spec_hash, ["seeds=3"])
    merged = tmp_path / "merged.json"
    result = runner.invoke(
        app, ["eval", str(run.path), "--merge", str(out), "--output", str(merged)],
        terminal_width=200,
    )  # fmt: skip
    assert result.exit_code == 2 and not merged.exists()
    assert "cover seeds [2], but" in result.output and "trains seeds [0, 1, 2]" in result.output


def test_a_group_file_from_another_spec_or_other_episodes_is_refused(trained, tmp_path):
    run, resolved, document = trained
    files = [tmp_path / f"g{i}.json" for i in range(len(GROUPS))]
    for seeds, path in zip(GROUPS, files, strict=True):
        evaluate_group(run, seeds, path, episodes=2)
    run.write_spec(document, resolved.spec_hash, ["seeds=3"])

    stale = json.loads(files[1].read_text())
    files[1].write_text(json.dumps({**stale, "spec_hash": "0" * 64}))
    with pytest.raises(RlpipeError, match=r"evaluated spec 000000000000, but .* holds spec"):
        merge_group_evals(run, files, tmp_path / "out.json")

    evaluate_group(run, GROUPS[1], files[1], episodes=1)
    with pytest.raises(RlpipeError, match=r"different episodes per seed \(\[1, 2\]\)"):
        merge_group_evals(run, files, tmp_path / "out.json")
    assert not (tmp_path / "out.json").exists()
