"""Model cards, `rlpipe pull` and `rlpipe audit --online` against the local Hub stand-in.

A tiny CrossQ Pendulum run (two seeds, a few hundred frames) is trained once and published
with its card and replay GIF; each test tampers with its own copy on a fresh stand-in.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import huggingface_hub.utils._http
import pytest
import torch
import yaml
from typer.testing import CliRunner

from rlpipe.cli import app
from rlpipe.errors import RlpipeError
from rlpipe.hub.audit import check_hub_runs
from rlpipe.hub.card import EVAL_RTOL, sha256_file
from rlpipe.hub.publish import left_out_files, publish_runs
from rlpipe.hub.pull import pull_run
from rlpipe.launch import TrainOptions, train_run
from rlpipe.report.audit import AuditPaths, offline_audit, sorted_findings
from rlpipe.report.benchmarks import write_report
from rlpipe.report.plots import plot_suite
from rlpipe.rundir import RunFolder
from rlpipe.spec import resolve_spec
from rlpipe.spec.suite import load_suite
from tests.conftest import REPO
from tests.fixtures import make_run, make_suite_file
from tests.hub_standin import HubStandIn, allow_requests_to_standin
from tests.integration.test_hub import TOKEN
from tests.integration.test_watch import frames_played

pytest.importorskip("moviepy", reason="the video extra is not installed: pip install '.[video]'")

REPO_ID = "rlpipe-test/cards"
KEY = "crossq-pendulum"
OVERRIDES = [
    "seeds=2", "max_frame=300", "algorithm.learning_starts=200", "algorithm.batch_size=32",
    "algorithm.actor.hidden=[32, 32]", "algorithm.critic.hidden=[64, 64]",
    "meta.log_interval=100", "meta.eval_interval=300", "meta.eval_episodes=2",
]  # fmt: skip


@pytest.fixture(autouse=True)
def hub_online(monkeypatch, tmp_path) -> None:
    """huggingface_hub may make requests in these tests, to the stand-in only (test_hub.py)."""
    allow_requests_to_standin(monkeypatch, tmp_path)


@pytest.fixture
def hub() -> Iterator[HubStandIn]:
    """A stand-in Hub that requires TOKEN."""
    with HubStandIn(token=TOKEN) as standin:
        yield standin


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """runs/crossq-pendulum: a finished two-seed run with its weights, trained once."""
    root = tmp_path_factory.mktemp("trained")
    resolved = resolve_spec("crossq", "pendulum", OVERRIDES, REPO / "pipelines")
    train_run(resolved, TrainOptions(device="cpu", out=root / "runs" / KEY))
    return root


@pytest.fixture
def published(trained, tmp_path, hub) -> Path:
    """A copy of the trained project, its run published with card and replay to `hub`."""
    shutil.copytree(trained, tmp_path / "project")
    root = tmp_path / "project"
    publish_runs([KEY], REPO_ID, root / "runs", root / "artifacts", root / "reports",
                 endpoint=hub.url, token=TOKEN)  # fmt: skip
    return root


def remote(hub: HubStandIn, name: str) -> bytes:
    return hub.files(REPO_ID)[f"runs/{KEY}/{name}"]


def card_metadata(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n", 2)[1])  # the Hub reads it as YAML 1.1


def replace_remote(hub: HubStandIn, name: str, content: bytes) -> None:
    """Commit new content for a file of the published run, as a tamperer with the token could."""
    from huggingface_hub import HfApi

    HfApi(endpoint=hub.url, token=TOKEN).upload_file(
        path_or_fileobj=io.BytesIO(content), path_in_repo=f"runs/{KEY}/{name}",
        repo_id=REPO_ID, repo_type="dataset", commit_message="tamper",
    )  # fmt: skip


def pull(hub: HubStandIn, out: Path, overwrite: bool = False):
    return pull_run(REPO_ID, KEY, out, overwrite=overwrite, endpoint=hub.url, token=TOKEN)


# --------------------------------------------------------------------------- the card


def test_card_states_hub_metadata_results_with_ci_and_frames(published, hub):
    summary = RunFolder(published / "runs" / KEY).read_summary()
    spec_hash = RunFolder(published / "runs" / KEY).read_spec().spec_hash
    metadata = card_metadata(remote(hub, "README.md").decode())

    assert metadata["library_name"] == "rlpipe"
    assert {"reinforcement-learning", "Pendulum-v1", "crossq"} <= set(metadata["tags"])
    (entry,) = metadata["model-index"]
    assert {r["dataset"]["name"] for r in entry["results"]} == {"Pendulum-v1"}
    metrics = {m["type"]: m for r in entry["results"] for m in r["metrics"]}
    score = metrics["mean_reward"]
    assert score["value"] == pytest.approx(summary.score)
    assert score["args"]["ci95"] == pytest.approx(list(summary.score_ci95))
    assert score["args"]["frames"] == summary.frames == 300 and score["args"]["seeds"] == 2
    evaluation = metrics["eval_return"]
    assert evaluation["value"] == pytest.approx(summary.eval_return)
    low, high = evaluation["args"]["ci95"]
    per_seed = [seed.eval_return for seed in summary.per_seed]
    assert evaluation["args"]["per_seed"] == pytest.approx(per_seed)
    assert min(per_seed) <= low <= summary.eval_return <= high <= max(per_seed)
    assert metadata["rlpipe"]["spec_hash"] == spec_hash


def test_card_lists_every_published_file_with_its_sha256(published, hub):
    files = {
        path.removeprefix(f"runs/{KEY}/"): content for path, content in hub.files(REPO_ID).items()
    }
    listed = card_metadata(files.pop("README.md").decode())["rlpipe"]["files"]
    assert set(listed) == set(files)
    assert {"seed-0/model.pt", "seed-1/model.pt", "spec.json", "replay.gif"} <= set(listed)
    for path, content in files.items():
        local = published / "check"
        local.write_bytes(content)
        assert listed[path] == sha256_file(local), path


def test_card_text_has_spec_hash_provenance_pictures_and_reproduce_commands(published, hub):
    from PIL import Image

    text = remote(hub, "README.md").decode()
    spec_hash = RunFolder(published / "runs" / KEY).read_spec().spec_hash
    provenance = RunFolder(published / "runs" / KEY).read_provenance()
    assert f"(sha256 `{spec_hash}`)" in text
    assert f"| git commit | {provenance['git_commit']} |" in text
    assert f"| torch | {provenance['torch']} |" in text
    assert f"rlpipe pull {REPO_ID} {KEY} && rlpipe eval runs/{KEY}" in text
    retrain = "rlpipe train crossq pendulum " + " ".join(f"-s {o}" for o in OVERRIDES[:3])
    assert retrain in text.replace("'", "")
    assert "![training return against env frames](learning-curve.png)" in text
    assert "![replay](replay.gif)" in text
    assert remote(hub, "learning-curve.png").startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(remote(hub, "replay.gif"))) as gif:
        assert gif.format == "GIF"
        assert frames_played(gif, fps=30) == 201  # one 200-step Pendulum episode


# --------------------------------------------------------------------------- pull


def test_pull_round_trip_gives_a_run_that_eval_reproduces(published, hub, tmp_path):
    out = tmp_path / "pulled" / KEY
    pulled = pull(hub, out)
    assert pulled.path == out and pulled.facts.run == KEY
    for seed in (0, 1):
        local = RunFolder(published / "runs" / KEY).seed(seed).model
        assert RunFolder(out).seed(seed).model.read_bytes() == local.read_bytes()
    result = CliRunner().invoke(app, ["eval", str(out), "--output", str(tmp_path / "e.json")])
    assert result.exit_code == 0, result.output
    again = json.loads((tmp_path / "e.json").read_text())["return_mean"]
    assert again == pytest.approx(pulled.facts.eval_return, rel=EVAL_RTOL)
    enjoyed = CliRunner().invoke(app, ["enjoy", str(out), "--max-steps", "5"])
    assert enjoyed.exit_code == 0, enjoyed.output


def test_pull_refuses_a_file_that_differs_from_the_card(published, hub, tmp_path):
    summary = json.loads(remote(hub, "summary.json"))
    summary["score"] = 0.0
    replace_remote(hub, "summary.json", json.dumps(summary).encode())
    out = tmp_path / "pulled"
    with pytest.raises(RlpipeError, match=r"summary\.json: sha256 differs from the card") as raised:
        pull(hub, out)
    assert "nothing was written" in str(raised.value)
    assert not out.exists()


class _BackoffClock:
    """Stands in for the `time` module of huggingface_hub's retry loop: records each wait
    instead of sleeping it (1 + 2 + 4 + 8 + 8 s per failed download with the real clock)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)

    def __getattr__(self, name: str) -> object:
        return getattr(time, name)


@pytest.mark.parametrize("name", ["README.md", "summary.json", "seed-1/model.pt"])
def test_a_download_the_hub_does_not_answer_is_an_unreachable_hub_not_a_missing_file(
    published, hub, tmp_path, monkeypatch, name
):
    clock = _BackoffClock()
    monkeypatch.setattr(huggingface_hub.utils._http, "time", clock)
    path = f"runs/{KEY}/{name}"
    hub.unavailable.add(path)
    out = tmp_path / "pulled"
    with pytest.raises(RlpipeError, match=f"downloading {path} from {REPO_ID}: could "
                       f"not reach the Hub at {hub.url}"):  # fmt: skip
        pull(hub, out)
    assert not out.exists() and list(tmp_path.glob(".pulled.pull-*")) == []
    # A 503 is retried, with waits between, before rlpipe reports the Hub unreachable.
    asked = [p for _, p in hub.requests if p.endswith("/" + path)]
    assert len(asked) > len(clock.waits) >= 3


def test_a_repo_that_is_not_there_is_named_as_such_not_as_a_token_problem(hub, tmp_path):
    with pytest.raises(RlpipeError, match="has no such repo, or it is private or gated") as raised:
        pull_run("rlpipe-test/no-such-repo", KEY, tmp_path / "run", endpoint=hub.url, token=TOKEN)
    assert "check the repo id" in str(raised.value)


def test_pull_into_a_folder_under_a_file_is_a_clear_error(published, hub, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(RlpipeError, match=r"--out .*a-file/run: cannot make its folder"):
        pull(hub, tmp_path / "a-file" / "run")


def test_publish_leaves_out_files_pull_would_refuse_and_the_run_still_pulls(trained, hub, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(trained, root)
    run_dir = root / "runs" / KEY
    (run_dir / "seed-0" / "profile.json").write_text("{}")
    (run_dir / "replay.mp4").write_bytes(b"not really a video")
    assert left_out_files(run_dir) == ["replay.mp4", "seed-0/profile.json"]
    publish_runs([KEY], REPO_ID, root / "runs", root / "artifacts", root / "reports",
                 endpoint=hub.url, token=TOKEN, replay=False)  # fmt: skip
    remote_names = set(hub.files(REPO_ID))
    assert f"runs/{KEY}/summary.json" in remote_names
    assert not {f"runs/{KEY}/replay.mp4", f"runs/{KEY}/seed-0/profile.json"} & remote_names
    assert pull(hub, tmp_path / "pulled").path == tmp_path / "pulled"


# --------------------------------------------------------------------------- a local folder


def test_publish_into_a_folder_and_pull_back_offline(trained, tmp_path, monkeypatch):
    root = tmp_path / "project"
    shutil.copytree(trained, root)
    shared = tmp_path / "shared drive"
    written = publish_runs([KEY], "unused/repo", root / "runs", root / "artifacts",
                           root / "reports", replay=False, folder=shared)  # fmt: skip
    assert written == {KEY: (shared / "runs" / KEY).as_posix()}
    assert not (root / "reports" / "hub.json").exists()  # the report keeps its local links
    card = (shared / "runs" / KEY / "README.md").read_text()
    assert f"rlpipe pull '{shared.resolve().as_posix()}' {KEY}" in card
    assert [p.name for p in shared.iterdir()] == ["runs"]  # no staging left beside the run

    monkeypatch.chdir(tmp_path)
    pulled = pull_run(f"./{shared.name}", KEY, tmp_path / "pulled")
    assert pulled.facts.run == KEY
    for name in ("spec.json", "summary.json", "seed-1/model.pt"):
        assert (tmp_path / "pulled" / name).read_bytes() == (
            shared / "runs" / KEY / name
        ).read_bytes()


def test_a_pull_from_a_folder_has_the_same_checks_as_from_the_hub(trained, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(trained, root)
    shared = tmp_path / "shared"
    publish_runs([KEY], "unused/repo", root / "runs", root / "artifacts", root / "reports",
                 replay=False, folder=shared)  # fmt: skip
    summary = shared / "runs" / KEY / "summary.json"
    summary.write_text(summary.read_text().replace('"frames": 300', '"frames": 301'))
    with pytest.raises(RlpipeError, match="was refused, nothing was written") as raised:
        pull_run(shared.as_posix(), KEY, tmp_path / "pulled")
    assert "summary.json" in str(raised.value)
    assert not (tmp_path / "pulled").exists()
    with pytest.raises(RlpipeError, match=r"has no run other-run \(no files under"):
        pull_run(shared.as_posix(), "other-run", tmp_path / "pulled")
    with pytest.raises(RlpipeError, match="no folder /no/such/folder to pull from"):
        pull_run("/no/such/folder", KEY, tmp_path / "pulled")


def test_a_full_disk_mid_publish_leaves_the_folders_older_copy_whole(
    trained, tmp_path, monkeypatch
):
    import errno

    import rlpipe.hub.folder_target

    root = tmp_path / "project"
    shutil.copytree(trained, root)
    shared = tmp_path / "shared"

    def publish() -> dict[str, str]:
        return publish_runs([KEY], "unused/repo", root / "runs", root / "artifacts",
                            root / "reports", replay=False, folder=shared)  # fmt: skip

    publish()
    before = {p.relative_to(shared): p.read_bytes() for p in shared.rglob("*") if p.is_file()}
    copies, copy = [], shutil.copyfile

    def disk_fills(source, target):
        copies.append(target)
        if len(copies) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return copy(source, target)

    monkeypatch.setattr(rlpipe.hub.folder_target.shutil, "copyfile", disk_fills)
    with pytest.raises(RlpipeError, match=rf"publishing run {KEY} into .* failed \(No space left "
                       r"on device\); the run's folder there is as it was"):  # fmt: skip
        publish()
    after = {p.relative_to(shared): p.read_bytes() for p in shared.rglob("*") if p.is_file()}
    assert len(copies) == 3 and after == before


def test_publish_cli_takes_the_hub_or_a_folder_not_both(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app, ["publish", KEY, "--repo", "a/b", "--folder", "shared"], terminal_width=200
    )
    assert result.exit_code == 2
    assert "give --repo (the Hub) or --folder (a local folder), not both" in result.output


def test_pull_refuses_a_card_whose_spec_hash_is_not_the_runs(published, hub, tmp_path):
    text = remote(hub, "README.md").decode()
    spec_hash = card_metadata(text)["rlpipe"]["spec_hash"]
    replace_remote(hub, "README.md", text.replace(spec_hash, "ab" * 32).encode())
    with pytest.raises(RlpipeError, match=r"spec hash [0-9a-f]{12}, the card abababababab"):
        pull(hub, tmp_path / "pulled")
    assert not (tmp_path / "pulled").exists()


def test_pull_cli_refuses_an_occupied_folder_without_overwrite(
    published, hub, tmp_path, monkeypatch
):
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    out = tmp_path / "pulled"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = CliRunner().invoke(app, ["pull", REPO_ID, KEY, "--out", str(out)])
    assert result.exit_code == 2 and "already exists" in result.output
    result = CliRunner().invoke(app, ["pull", REPO_ID, KEY, "--out", str(out), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert "files checked against the card" in result.output
    assert not (out / "keep.txt").exists()


@pytest.mark.parametrize(
    "name",
    ["evil.py", "big.bin", "seed-0/checkpoint/state.pt", "seed-0/model.pt/x"],
)
def test_pull_refuses_a_card_listing_files_publish_never_uploads(published, hub, tmp_path, name):
    content = b"print('hello')\n"
    text = remote(hub, "README.md").decode()
    _, front, body = text.split("---\n", 2)
    metadata = yaml.safe_load(front)
    metadata["rlpipe"]["files"][name] = hashlib.sha256(content).hexdigest()
    card = "---\n" + yaml.safe_dump(metadata, sort_keys=False) + "---\n" + body
    replace_remote(hub, "README.md", card.encode())
    if "/x" not in name:
        replace_remote(hub, name, content)
    with pytest.raises(RlpipeError, match="rlpipe publish never uploads") as raised:
        pull(hub, tmp_path / "pulled")
    assert name in str(raised.value) and not (tmp_path / "pulled").exists()


def test_pull_refuses_weights_above_the_size_limit(published, hub, tmp_path, monkeypatch):
    import rlpipe.hub.pull as pull_module

    monkeypatch.setattr(pull_module, "MODEL_SIZE_LIMIT", 16)  # every real model.pt is above
    with pytest.raises(RlpipeError, match=r"above rlpipe's size limits: seed-0/model.pt \("):
        pull(hub, tmp_path / "pulled")
    assert not (tmp_path / "pulled").exists()


@pytest.mark.parametrize("where", ["current", "parent", "symlink"])
def test_pull_never_replaces_the_current_folder_its_parents_or_a_symlink(
    published, hub, tmp_path, monkeypatch, where
):
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    (project / "keep.txt").write_text("mine")
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    (project / "link").symlink_to(target)
    monkeypatch.chdir(project / "sub" if where == "parent" else project)
    out = {"current": ".", "parent": "..", "symlink": "link"}[where]
    with pytest.raises(RlpipeError, match=r"symlink|current folder or a folder above it"):
        pull(hub, Path(out), overwrite=True)
    assert (project / "keep.txt").read_text() == (target / "keep.txt").read_text() == "mine"


def test_an_overwritten_folder_is_replaced_only_by_a_complete_pull(published, hub, tmp_path):
    out = tmp_path / "dest" / "pulled"
    out.mkdir(parents=True)
    (out / "keep.txt").write_text("mine")
    summary = json.loads(remote(hub, "summary.json"))
    summary["score"] = 0.0
    replace_remote(hub, "summary.json", json.dumps(summary).encode())
    with pytest.raises(RlpipeError, match="sha256 differs from the card"):
        pull(hub, out, overwrite=True)
    assert (out / "keep.txt").read_text() == "mine"  # the refused pull left it as it was
    assert [p.name for p in out.parent.iterdir()] == ["pulled"]  # and no staging folder behind


# --------------------------------------------------------------------------- audit --online


ENVS = {"cartpole": ("CartPole-v1", "classic", 400, 200_000)}
SUITE = Path("params/suite.yaml")


@pytest.fixture
def suite_project(tmp_path, monkeypatch, hub) -> Path:
    """A one-run suite (made-up numbers, real spec, made-up weights) published to `hub` with
    its card, its report linking the Hub, as the working folder with HF_ENDPOINT set."""
    shutil.copytree(REPO / "pipelines", tmp_path / "pipelines")
    shutil.copytree(REPO / "references", tmp_path / "references")
    make_suite_file(tmp_path / SUITE, ENVS, [("dqn", "cartpole", 2000)], hub_repo=REPO_ID)
    run_dir = make_run(tmp_path / "runs", "dqn-cartpole", "dqn", "cartpole", "CartPole-v1",
                       frames=2000, pipelines=tmp_path / "pipelines")  # fmt: skip
    for seed in (0, 1):
        torch.save({"q_net": {"weight": torch.full((2, 4), float(seed))}},
                   RunFolder(run_dir).seed(seed).model)  # fmt: skip
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    publish_runs(["dqn-cartpole"], REPO_ID, replay=False)
    plot_suite(load_suite(SUITE))
    write_report(load_suite(SUITE), SUITE)
    return tmp_path


def online_findings() -> list[tuple[str, str, str]]:
    """What `rlpipe audit --online` finds: the offline audit and the Hub checks of its Hub runs."""
    suite = load_suite(SUITE)
    offline = offline_audit(suite, AuditPaths())
    found = sorted_findings([*offline.findings, *check_hub_runs(suite.hub_repo, offline.hub_runs)])
    return [(f.check, f.row, f.message) for f in found]


def test_audit_online_passes_a_published_card_that_matches_the_run(suite_project):
    assert online_findings() == []


def test_audit_online_finds_a_tampered_card_number(suite_project, hub):
    path = "runs/dqn-cartpole/README.md"
    text = hub.files(REPO_ID)[path].decode()
    score = RunFolder(Path("runs/dqn-cartpole")).read_summary().score
    tampered = text.replace(f"  value: {score}\n", f"  value: {score + 50}\n", 1)
    assert tampered != text
    from huggingface_hub import HfApi

    HfApi(endpoint=hub.url, token=TOKEN).upload_file(
        path_or_fileobj=tampered.encode(), path_in_repo=path, repo_id=REPO_ID,
        repo_type="dataset",
    )  # fmt: skip
    found = online_findings()
    assert [(check, row) for check, row, _ in found] == [("card-mismatch", "dqn-cartpole")]
    assert f"the card says {score + 50}, the run gives {score}" in found[0][2]
    result = CliRunner().invoke(app, ["audit", "--online"], terminal_width=200)
    assert result.exit_code == 1 and "card-mismatch" in result.output


def test_audit_online_finds_a_run_published_without_a_card(suite_project, hub):
    from huggingface_hub import HfApi

    HfApi(endpoint=hub.url, token=TOKEN).delete_file(
        "runs/dqn-cartpole/README.md", repo_id=REPO_ID, repo_type="dataset"
    )
    found = online_findings()
    assert [(check, row) for check, row, _ in found] == [("card-mismatch", "dqn-cartpole")]
    assert "README.md is missing" in found[0][2]


def audit_cli(*options: str) -> tuple[int, list[tuple[str, str]]]:
    """`rlpipe audit --json [options]`: its exit code and its findings as (check, row)."""
    result = CliRunner().invoke(app, ["audit", "--json", *options])
    assert result.exit_code in (0, 1), result.output
    document = json.loads(result.stdout)
    assert document["ok"] == (result.exit_code == 0)
    return result.exit_code, [(found["check"], found["row"]) for found in document["findings"]]


def test_audit_online_cli_combines_the_offline_audit_with_the_hub_checks(suite_project, hub):
    assert audit_cli("--online") == (0, [])
    Path("reports/plots/cartpole.png").unlink()  # an offline finding: missing-plot
    path = "runs/dqn-cartpole/README.md"  # a Hub finding: the card's score is not the run's
    text = hub.files(REPO_ID)[path].decode()
    score = RunFolder(Path("runs/dqn-cartpole")).read_summary().score
    tampered = text.replace(f"  value: {score}\n", f"  value: {score + 50}\n", 1)
    from huggingface_hub import HfApi

    HfApi(endpoint=hub.url, token=TOKEN).upload_file(
        path_or_fileobj=tampered.encode(), path_in_repo=path, repo_id=REPO_ID, repo_type="dataset"
    )

    hub.requests.clear()
    code, offline = audit_cli()
    assert hub.requests == []  # the offline audit never asks the Hub
    assert code == 1 and {check for check, _ in offline} == {"missing-plot"}
    assert ("missing-plot", "dqn-cartpole") in offline
    # both halves, each finding once, in the order of CHECKS (card-mismatch comes last)
    assert audit_cli("--online") == (1, [*offline, ("card-mismatch", "dqn-cartpole")])
    table = CliRunner().invoke(app, ["audit", "--online"], terminal_width=200)
    assert table.exit_code == 1
    assert f"audit: {len(offline) + 1} findings" in table.output
    assert "missing-plot" in table.output and "card-mismatch" in table.output

    hub.stop()  # the Hub out of reach: the offline findings stand, the run cannot be checked
    assert audit_cli() == (1, offline)
    assert audit_cli("--online") == (1, [("missing-run", "dqn-cartpole"), *offline])
