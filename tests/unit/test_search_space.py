"""Search space files, override files and the study bookkeeping, without training."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from rlpipe.commands.common import RAY_LOCAL, ray_without_address
from rlpipe.errors import RlpipeError
from rlpipe.search.overrides import read_overrides_file, write_overrides_file
from rlpipe.search.space import (
    Categorical,
    FloatRange,
    IntRange,
    LogFloatRange,
    check_space,
    decode_params,
    load_space,
    suggest,
)
from rlpipe.search.study import (
    SearchOptions,
    counted_trials,
    open_study,
    requeue_interrupted,
    settings_for,
)
from rlpipe.search.trial import logged_values
from rlpipe.spec import resolve_spec

SPACE = """\
algorithm.critic_lr: {type: log_float, low: 1e-4, high: 3e-3}
algorithm.gamma: {type: float, low: 0.9, high: 0.99}
algorithm.batch_size: {type: int, low: 64, high: 256, step: 64}
algorithm.critic.hidden: {type: categorical, choices: [[64, 64], [256, 256]]}
"""


def space_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return path


def checked(tmp_path, fixture_pipelines, text, overrides=()):
    space = load_space(space_file(tmp_path, text))
    check_space(space, "sac", "pendulum", list(overrides), fixture_pipelines)
    return space


def test_space_file_reads_each_distribution(tmp_path, fixture_pipelines):
    space = checked(tmp_path, fixture_pipelines, SPACE)
    assert space.params == {
        "algorithm.critic_lr": LogFloatRange(type="log_float", low=1e-4, high=3e-3),
        "algorithm.gamma": FloatRange(type="float", low=0.9, high=0.99),
        "algorithm.batch_size": IntRange(type="int", low=64, high=256, step=64),
        "algorithm.critic.hidden": Categorical(type="categorical", choices=[[64, 64], [256, 256]]),
    }


def test_unknown_key_gives_the_error_set_gives_naming_the_space_file_and_key(
    tmp_path, fixture_pipelines
):
    text = "algorithm.critic_lrr: {type: log_float, low: 1e-4, high: 3e-3}\n"
    with pytest.raises(RlpipeError) as from_set:
        resolve_spec("sac", "pendulum", ["algorithm.critic_lrr=0.0001"], fixture_pipelines)
    with pytest.raises(RlpipeError) as from_space:
        checked(tmp_path, fixture_pipelines, text)
    message = str(from_space.value)
    assert message == f"{tmp_path / 'space.yaml'}, key algorithm.critic_lrr = 0.0001: " + str(
        from_set.value
    )
    assert "did you mean 'critic_lr'?" in message


def test_undeclared_top_level_name_is_rejected_like_set(tmp_path, fixture_pipelines):
    with pytest.raises(RlpipeError, match=r"key learning_rate = 0.1: .*not a declared var"):
        checked(tmp_path, fixture_pipelines, "learning_rate: {type: float, low: 0.1, high: 0.2}\n")


def test_float_distribution_on_an_integer_field_is_rejected(tmp_path, fixture_pipelines):
    text = "algorithm.batch_size: {type: float, low: 64, high: 256}\n"
    with pytest.raises(RlpipeError, match=r"key algorithm.batch_size = .*valid integer"):
        checked(tmp_path, fixture_pipelines, text)


def test_int_distribution_on_a_boolean_field_is_rejected(tmp_path, fixture_pipelines):
    text = "algorithm.autotune_alpha: {type: int, low: 0, high: 1}\n"
    with pytest.raises(RlpipeError, match=r"does not fit this field .*use type categorical"):
        checked(tmp_path, fixture_pipelines, text)


def test_value_outside_the_fields_range_is_rejected_at_its_bound(tmp_path, fixture_pipelines):
    text = "algorithm.gamma: {type: float, low: 0.9, high: 1.5}\n"
    with pytest.raises(RlpipeError, match=r"key algorithm.gamma = 1.5: .*less than or equal to 1"):
        checked(tmp_path, fixture_pipelines, text)


@pytest.mark.parametrize(
    "text,message",
    [
        (
            "algorithm.gamma: {type: float, low: 0.99, high: 0.9}",
            r"empty bounds: low \(0.99\) must be below high \(0.9\)",
        ),
        ("algorithm.gamma: {type: float, low: 0.9, high: 0.9}", "empty bounds"),
        ("algorithm.tau: {type: log_float, low: 0, high: 0.1}", "low: Input should be greater"),
        ("algorithm.tau: {type: logfloat, low: 0.001, high: 0.1}", "'logfloat' .* does not match"),
        ("algorithm.tau: {type: float, lo: 0.001, high: 0.1}", "lo: Extra inputs"),
        ("algorithm.utd: {type: categorical, choices: [1]}", "at least 2 items"),
        ("algorithm.utd: {type: categorical, choices: [1, 1]}", "choices repeat a value"),
        ("algorithm.tau: 0.01", "expected a distribution mapping"),
    ],
)
def test_bad_distribution_is_a_clear_error_with_file_and_key(
    tmp_path, fixture_pipelines, text, message
):
    key = text.split(":")[0]
    with pytest.raises(RlpipeError, match=f"space.yaml, key {key}: .*{message}"):
        checked(tmp_path, fixture_pipelines, text + "\n")


def test_empty_space_file_is_rejected(tmp_path, fixture_pipelines):
    with pytest.raises(RlpipeError, match="expected a mapping of dotted spec keys"):
        checked(tmp_path, fixture_pipelines, "# nothing\n")


def test_key_both_searched_and_set_with_s_is_rejected(tmp_path, fixture_pipelines):
    text = "algorithm.gamma: {type: float, low: 0.9, high: 0.99}\n"
    with pytest.raises(RlpipeError, match=r"key algorithm\.gamma: also set with -s"):
        checked(tmp_path, fixture_pipelines, text, overrides=["algorithm.gamma=0.95"])


def test_suggested_values_resolve_through_the_set_mechanism(tmp_path, fixture_pipelines):
    space = checked(tmp_path, fixture_pipelines, SPACE)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    trial = study.ask()
    values = suggest(trial, space)
    assert values["algorithm.critic.hidden"] in ([64, 64], [256, 256])
    assert decode_params(trial.params, space) == values
    overrides_path = tmp_path / "best.yaml"
    write_overrides_file(overrides_path, values, "best values\nsecond line")
    assert overrides_path.read_text().startswith("# best values\n# second line\n")
    spec = resolve_spec(
        "sac", "pendulum", read_overrides_file(overrides_path), fixture_pipelines
    ).spec
    assert spec.algorithm.critic.hidden == values["algorithm.critic.hidden"]
    assert spec.algorithm.critic_lr == values["algorithm.critic_lr"]
    assert spec.algorithm.batch_size == values["algorithm.batch_size"]
    assert spec.algorithm.gamma == values["algorithm.gamma"]


def test_override_file_that_is_not_a_mapping_is_rejected(tmp_path):
    path = tmp_path / "o.yaml"
    path.write_text("- algorithm.gamma\n")
    with pytest.raises(RlpipeError, match=r"--overrides .*o.yaml: expected a mapping"):
        read_overrides_file(path)


def test_ray_option_takes_an_address_only_when_one_follows():
    assert ray_without_address(["search", "--ray", "--trials", "2"]) == [
        "search", "--ray", RAY_LOCAL, "--trials", "2"
    ]  # fmt: skip
    assert ray_without_address(["suite", "run", "--ray"]) == ["suite", "run", "--ray", RAY_LOCAL]
    assert ray_without_address(["--ray", "10.0.0.1:6379"]) == ["--ray", "10.0.0.1:6379"]
    assert ray_without_address(["--ray", "auto"]) == ["--ray", "auto"]


def test_logged_values_are_means_over_seeds_at_frames_every_seed_reached(tmp_path):
    for seed, rows in ((0, ["1,-10", "2,-8", "3,-6"]), (1, ["1,-20", "2,"])):
        folder = tmp_path / f"seed-{seed}"
        folder.mkdir()
        (folder / "metrics.csv").write_text("frame,return_ma\n" + "\n".join(rows) + "\n")
    assert logged_values(tmp_path, [0, 1], "return_ma") == [(1, -15.0)]
    assert logged_values(tmp_path, [0], "return_ma") == [(1, -10.0), (2, -8.0), (3, -6.0)]
    assert logged_values(tmp_path, [5], "return_ma") == []


# ------------------------------------------------------------------- the study


def search_settings(tmp_path, fixture_pipelines, seed=0, overrides=("max_frame=1000",)):
    space = load_space(space_file(tmp_path, SPACE))
    resolved = resolve_spec("sac", "pendulum", list(overrides), fixture_pipelines)
    settings = settings_for(resolved, space, tuple(overrides), 1, "score", "median", 2, 0, seed)
    return settings, space


def drawn_values(tmp_path, fixture_pipelines, name, seed, trials=4):
    settings, space = search_settings(tmp_path, fixture_pipelines, seed)
    study = open_study(settings, SearchOptions(name, trials, root=tmp_path / "searches"))
    drawn = []
    for k in range(trials):
        trial = study.ask()
        drawn.append(suggest(trial, space))
        study.tell(trial, -100.0 * k)  # the same outcomes in both searches
    return drawn


def test_same_search_seed_draws_the_same_trial_values(tmp_path, fixture_pipelines):
    first = drawn_values(tmp_path, fixture_pipelines, "a", seed=7)
    again = drawn_values(tmp_path, fixture_pipelines, "b", seed=7)
    other = drawn_values(tmp_path, fixture_pipelines, "c", seed=8)
    assert first == again
    assert first != other
    assert (tmp_path / "searches" / "a" / "study.db").is_file()


def test_existing_search_needs_resume_and_resume_needs_the_same_settings(
    tmp_path, fixture_pipelines
):
    settings, _ = search_settings(tmp_path, fixture_pipelines)
    options = SearchOptions("s", 2, root=tmp_path / "searches")
    open_study(settings, options)
    with pytest.raises(RlpipeError, match=r"already exists .* continue it with --resume"):
        open_study(settings, options)
    resumed = SearchOptions("s", 2, root=tmp_path / "searches", resume=True)
    open_study(settings, resumed)
    longer, _ = search_settings(tmp_path, fixture_pipelines, overrides=("max_frame=2000",))
    with pytest.raises(RlpipeError, match=r"other settings .*overrides: was \['max_frame=1000'\]"):
        open_study(longer, resumed)
    with pytest.raises(RlpipeError, match="no search 'new'"):
        open_study(settings, SearchOptions("new", 2, root=tmp_path / "searches", resume=True))


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_trial_cut_off_by_a_killed_search_is_failed_and_requeued_once(tmp_path, fixture_pipelines):
    import socket

    settings, space = search_settings(tmp_path, fixture_pipelines)
    study = open_study(settings, SearchOptions("k", 3, root=tmp_path / "searches"))
    finished = study.ask()
    suggest(finished, space)
    study.tell(finished, -300.0)
    cut_off = study.ask()
    values = suggest(cut_off, space)
    cut_off.set_user_attr("driver", {"host": socket.gethostname(), "pid": dead_pid()})
    elsewhere = study.ask()
    suggest(elsewhere, space)
    elsewhere.set_user_attr("driver", {"host": "another-node", "pid": 1})

    assert requeue_interrupted(study) == [cut_off.number]
    assert requeue_interrupted(study) == []  # queued once only
    states = {t.number: t.state.name for t in study.get_trials()}
    assert states[finished.number] == "COMPLETE"
    assert states[cut_off.number] == "FAIL"
    assert states[elsewhere.number] == "RUNNING"  # another machine's trial is left alone
    waiting = [t for t in study.get_trials() if t.state.name == "WAITING"]
    assert len(waiting) == 1 and waiting[0].user_attrs["retry_of"] == cut_off.number
    assert counted_trials(study) == 1  # the cut-off trial does not count towards --trials
    rerun = study.ask()  # the queued trial comes first, with the cut-off trial's values
    assert rerun.number == waiting[0].number
    assert suggest(rerun, space) == values


def test_journal_file_storage_holds_a_study_that_resumes(tmp_path, fixture_pipelines):
    settings, space = search_settings(tmp_path, fixture_pipelines)
    journal = str(tmp_path / "shared" / "study.log")
    (tmp_path / "shared").mkdir()
    options = SearchOptions("j", 2, root=tmp_path / "searches", storage=journal)
    study = open_study(settings, options)
    trial = study.ask()
    suggest(trial, space)
    study.tell(trial, -1.0)
    resumed = SearchOptions("j", 2, root=tmp_path / "searches", storage=journal, resume=True)
    again = open_study(settings, resumed)
    assert [t.value for t in again.trials] == [-1.0]
    assert not (tmp_path / "searches" / "j").exists()  # nothing in the default place
