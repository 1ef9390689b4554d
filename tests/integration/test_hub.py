"""rlpipe.hub.publish and client against an in-process Hub stand-in: publish, links, errors."""

from __future__ import annotations

import functools
import json
import logging
import secrets
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import huggingface_hub.constants
import huggingface_hub.utils.logging  # sets the library's log level on import: import it first
import pytest
import torch

from rlpipe.errors import RlpipeError
from rlpipe.hub.client import remote_run_exists
from rlpipe.hub.publish import publish_runs
from rlpipe.report.hub_links import run_url
from rlpipe.rundir import RunFolder
from rlpipe.spec import ResolvedSpec, resolve_spec
from tests.conftest import REPO
from tests.hub_standin import HttpError, HubStandIn, allow_requests_to_standin

REPO_ID = "rlpipe-test/benchmarks"
RUN_KEYS = ("crossq-cartpole", "sac-cartpole")
SEEDS = (0, 1)
TOKEN = f"hf_rlpipeTestSecret{secrets.token_hex(8)}"
WRONG_TOKEN = f"hf_rlpipeWrongSecret{secrets.token_hex(8)}"


@pytest.fixture(autouse=True)
def hub_online(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Let huggingface_hub make requests in this test only, and only to the stand-in."""
    allow_requests_to_standin(monkeypatch, tmp_path)


@pytest.fixture
def hub() -> Iterator[HubStandIn]:
    """A stand-in Hub that requires TOKEN."""
    with HubStandIn(token=TOKEN) as standin:
        yield standin


def write_json(path: Path, document: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, sort_keys=True, indent=2) + "\n")


FAMILY_SPEC = {"crossq-cartpole": ("crossq", "cartpole"), "sac-cartpole": ("sac", "cartpole")}


@functools.cache
def resolved_spec(run_key: str) -> ResolvedSpec:
    family, name = FAMILY_SPEC[run_key]
    return resolve_spec(family, name, [f"meta.seeds={len(SEEDS)}"], REPO / "pipelines")


def spec_hash(run_key: str) -> str:
    return resolved_spec(run_key).spec_hash


def save_weights(path: Path, run_key: str, seed: int) -> None:
    """A small state dict, as `rlpipe train` saves model.pt."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"actor": {"weight": torch.full((2, 3), float(seed))}, "run": run_key}, path)


def make_run(root: Path, run_key: str) -> None:
    """A finished run as `rlpipe train --out runs/K --artifacts artifacts/K` leaves it."""
    run_dir, artifacts = root / "runs" / run_key, root / "artifacts" / run_key
    resolved = resolved_spec(run_key)
    saved_spec = {"spec_hash": resolved.spec_hash, "spec": resolved.spec.model_dump(mode="json")}
    write_json(run_dir / "spec.json", {**saved_spec, "overrides": list(resolved.overrides)})
    write_json(run_dir / "provenance.json", {"spec_hash": resolved.spec_hash, "device": "cpu"})
    write_json(run_dir / "eval.json", {"eval_return": 2.0})
    results = []
    for seed in SEEDS:
        seed_dir = run_dir / f"seed-{seed}"
        result = {"seed": seed, "return_ma": 1.0 + seed, "eval_return": 2.0, "frames": 100,
                  "wall_s": 1.0, "fps": 100.0}  # fmt: skip
        write_json(seed_dir / "result.json", result)
        results.append(result)
        (seed_dir / "metrics.csv").write_text("frame,return_ma\n50,\n100,1.0\n")
        (artifacts / f"seed-{seed}" / "checkpoint").mkdir(parents=True)
        save_weights(artifacts / f"seed-{seed}" / "model.pt", run_key, seed)
        (artifacts / f"seed-{seed}" / "checkpoint" / "state.pt").write_bytes(b"optimizer+buffer")
    RunFolder(run_dir).write_summary(results)
    (run_dir / ".summary.json.123.abcd.tmp").write_text("torn")  # an interrupted atomic write
    # A checkpoint left inside the run folder (training without --artifacts) stays local too.
    (run_dir / "seed-0" / "checkpoint").mkdir()
    (run_dir / "seed-0" / "checkpoint" / "state.pt").write_bytes(b"optimizer+buffer")


def expected_remote_files(run_key: str) -> set[str]:
    files = {f"runs/{run_key}/{name}" for name in ("spec.json", "provenance.json")}
    files |= {f"runs/{run_key}/{name}" for name in ("summary.json", "eval.json")}
    files |= {f"runs/{run_key}/{name}" for name in ("README.md", "learning-curve.png")}  # card
    for seed in SEEDS:
        for name in ("result.json", "metrics.csv", "model.pt"):
            files.add(f"runs/{run_key}/seed-{seed}/{name}")
    return files


def publish(root: Path, hub: HubStandIn, keys=RUN_KEYS, token: str = TOKEN) -> dict[str, str]:
    return publish_runs(
        keys,
        REPO_ID,
        runs_root=root / "runs",
        artifacts_root=root / "artifacts",
        reports_dir=root / "reports",
        endpoint=hub.url,
        token=token,
        replay=False,  # the weights here are made-up tensors, no policy to play
    )


def closed_port_url() -> str:
    """The URL of a localhost port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_run_url_uses_endpoint_argument_then_hf_endpoint_then_huggingface_co(monkeypatch):
    assert run_url("a/b", "k") == "https://huggingface.co/datasets/a/b/tree/main/runs/k"
    monkeypatch.setenv("HF_ENDPOINT", "http://mirror.local/")
    assert run_url("a/b", "k") == "http://mirror.local/datasets/a/b/tree/main/runs/k"
    assert run_url("a/b", "k", "http://x:1") == "http://x:1/datasets/a/b/tree/main/runs/k"


def test_publish_uploads_run_files_and_weights_but_not_checkpoints(tmp_path, hub, caplog, capsys):
    caplog.set_level(logging.DEBUG, logger="huggingface_hub")
    for key in RUN_KEYS:
        make_run(tmp_path, key)
    write_json(tmp_path / "reports" / "hub.json", {"old-run": "https://example.org/old"})

    urls = publish(tmp_path, hub)

    assert urls == {key: run_url(REPO_ID, key, hub.url) for key in RUN_KEYS}
    remote = hub.files(REPO_ID)
    assert set(remote) == expected_remote_files(RUN_KEYS[0]) | expected_remote_files(RUN_KEYS[1])
    assert not any("checkpoint" in path or path.endswith(".tmp") for path in remote)
    for key in RUN_KEYS:
        for seed in SEEDS:
            local = tmp_path / "artifacts" / key / f"seed-{seed}" / "model.pt"
            assert remote[f"runs/{key}/seed-{seed}/model.pt"] == local.read_bytes()
        assert (
            remote[f"runs/{key}/summary.json"]
            == (tmp_path / "runs" / key / "summary.json").read_bytes()
        )
        assert remote_run_exists(REPO_ID, key, endpoint=hub.url, token=TOKEN)
    commits = hub.commits(REPO_ID)
    assert [(c.summary, {p.split("/")[1] for p in c.paths}) for c in commits] == [
        (f"Publish run {key} (spec {spec_hash(key)})", {key}) for key in RUN_KEYS
    ]

    links_text = (tmp_path / "reports" / "hub.json").read_text()
    links = json.loads(links_text)
    assert links == {"old-run": "https://example.org/old", **urls}
    assert list(links) == sorted(links)
    assert not list((tmp_path / "reports").glob(".*"))  # no temp file left by the atomic write

    # The token never lands in a file, a log line or printed output.
    for path in tmp_path.rglob("*"):
        assert not path.is_file() or TOKEN.encode() not in path.read_bytes(), path
    captured = capsys.readouterr()
    assert "(authenticated: True)" in caplog.text  # huggingface_hub's request log was captured
    assert TOKEN not in caplog.text + captured.out + captured.err


def test_defaults_read_runs_from_cwd_and_endpoint_and_token_from_env(tmp_path, hub, monkeypatch):
    """The way `rlpipe publish` and `rlpipe audit --online` call: no endpoint, no token."""
    make_run(tmp_path, RUN_KEYS[0])
    shutil.copytree(REPO / "pipelines", tmp_path / "pipelines")  # a project publishes its runs
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert publish_runs([RUN_KEYS[0]], REPO_ID, replay=False) == {
        RUN_KEYS[0]: run_url(REPO_ID, RUN_KEYS[0])
    }
    assert run_url(REPO_ID, RUN_KEYS[0]).startswith(hub.url + "/datasets/")
    assert json.loads(Path("reports/hub.json").read_text()) == {
        RUN_KEYS[0]: run_url(REPO_ID, RUN_KEYS[0])
    }
    assert remote_run_exists(REPO_ID, RUN_KEYS[0])
    assert not remote_run_exists(REPO_ID, RUN_KEYS[1])


def test_republishing_an_unchanged_run_makes_no_new_commit(tmp_path, hub):
    make_run(tmp_path, RUN_KEYS[0])
    first = publish(tmp_path, hub, keys=[RUN_KEYS[0]])
    second = publish(tmp_path, hub, keys=[RUN_KEYS[0]])
    assert first == second
    assert len(hub.commits(REPO_ID)) == 1


def test_missing_run_folder_is_named_before_anything_is_uploaded(tmp_path, hub):
    make_run(tmp_path, RUN_KEYS[0])
    with pytest.raises(RlpipeError, match="no-such-run") as raised:
        publish(tmp_path, hub, keys=[RUN_KEYS[0], "no-such-run"])
    assert "nothing was uploaded" in str(raised.value)
    assert hub.requests == []
    assert not (tmp_path / "reports" / "hub.json").exists()


def test_corrupt_link_file_is_refused_before_upload(tmp_path, hub):
    make_run(tmp_path, RUN_KEYS[0])
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "hub.json").write_text("{not json")
    with pytest.raises(RlpipeError, match=r"hub\.json is damaged"):
        publish(tmp_path, hub, keys=[RUN_KEYS[0]])
    assert hub.requests == []


def test_run_without_weights_is_refused_before_upload(tmp_path, hub):
    make_run(tmp_path, RUN_KEYS[0])
    (tmp_path / "artifacts" / RUN_KEYS[0] / "seed-1" / "model.pt").unlink()
    with pytest.raises(RlpipeError, match="no weights for seed-1"):
        publish(tmp_path, hub, keys=[RUN_KEYS[0]])
    assert hub.requests == []


def test_a_run_whose_family_has_no_pipeline_file_here_is_refused_before_upload(tmp_path, hub):
    make_run(tmp_path, RUN_KEYS[0])
    family = json.loads(run_file(tmp_path, "spec.json").read_text())["spec"]["family"]
    elsewhere = tmp_path / "other-project-pipelines"
    elsewhere.mkdir()
    with pytest.raises(RlpipeError) as raised:
        publish_runs([RUN_KEYS[0]], REPO_ID, runs_root=tmp_path / "runs",
                     artifacts_root=tmp_path / "artifacts", reports_dir=tmp_path / "reports",
                     endpoint=hub.url, token=TOKEN, replay=False, pipelines=elsewhere)  # fmt: skip
    message = str(raised.value)
    assert f"names family {family!r}, which has no pipeline file" in message
    assert f"{elsewhere / family}.yaml" in message and "nothing was uploaded" in message
    assert hub.requests == []


def test_remote_run_exists_is_false_for_unpublished_run_and_unknown_repo(tmp_path, hub):
    make_run(tmp_path, RUN_KEYS[0])
    publish(tmp_path, hub, keys=[RUN_KEYS[0]])
    assert remote_run_exists(REPO_ID, RUN_KEYS[0], endpoint=hub.url, token=TOKEN)
    assert not remote_run_exists(REPO_ID, RUN_KEYS[1], endpoint=hub.url, token=TOKEN)
    assert not remote_run_exists("rlpipe-test/no-such-repo", RUN_KEYS[0], hub.url, TOKEN)


def test_rejected_token_is_a_clear_error_without_the_token(tmp_path, hub):
    make_run(tmp_path, RUN_KEYS[0])
    with pytest.raises(RlpipeError) as raised:
        publish(tmp_path, hub, keys=[RUN_KEYS[0]], token=WRONG_TOKEN)
    message = str(raised.value)
    assert "HTTP 401" in message and "HF_TOKEN" in message and "hf auth login" in message
    assert hub.url in message and REPO_ID in message
    assert WRONG_TOKEN not in message and raised.value.__cause__ is None
    assert hub.repos == {}

    with pytest.raises(RlpipeError, match=r"HTTP 401.*HF_TOKEN") as raised:
        remote_run_exists(REPO_ID, RUN_KEYS[0], endpoint=hub.url, token=WRONG_TOKEN)
    assert WRONG_TOKEN not in str(raised.value)
    for path in tmp_path.rglob("*"):
        assert not path.is_file() or WRONG_TOKEN.encode() not in path.read_bytes(), path


def test_unreachable_endpoint_fails_fast_with_a_clear_error(tmp_path):
    make_run(tmp_path, RUN_KEYS[0])
    endpoint = closed_port_url()
    started = time.monotonic()
    with pytest.raises(RlpipeError, match="could not reach the Hub") as raised:
        publish_runs(
            [RUN_KEYS[0]],
            REPO_ID,
            runs_root=tmp_path / "runs",
            artifacts_root=tmp_path / "artifacts",
            reports_dir=tmp_path / "reports",
            endpoint=endpoint,
            token=TOKEN,
            replay=False,
        )
    assert endpoint in str(raised.value) and TOKEN not in str(raised.value)
    with pytest.raises(RlpipeError, match=f"checking run {RUN_KEYS[0]}.*could not reach"):
        remote_run_exists(REPO_ID, RUN_KEYS[0], endpoint=endpoint, token=TOKEN)
    assert time.monotonic() - started < 10
    assert not (tmp_path / "reports" / "hub.json").exists()


def test_offline_mode_is_reported_not_retried(tmp_path, hub, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(RlpipeError, match="HF_HUB_OFFLINE"):
        remote_run_exists(REPO_ID, RUN_KEYS[0], endpoint=hub.url, token=TOKEN)
    assert hub.requests == []


# --------------------------------------------------------------------------- damaged runs

KEY = RUN_KEYS[0]


def run_file(root: Path, relative: str) -> Path:
    return root / "runs" / KEY / relative


def weights_file(root: Path, seed: int) -> Path:
    return root / "artifacts" / KEY / f"seed-{seed}" / "model.pt"


def corrupt_summary(root: Path) -> None:
    path = run_file(root, "summary.json")
    path.write_text(path.read_text()[:40])


def summary_with_wrong_types(root: Path) -> None:
    path = run_file(root, "summary.json")
    path.write_text(path.read_text().replace('"frames": 100', '"frames": "100"'))


def summary_of_other_seeds(root: Path) -> None:
    path = run_file(root, "summary.json")
    path.write_text(path.read_text().replace('"seeds": [\n    0,\n    1\n  ]', '"seeds": [0]'))


def missing_seed_folder(root: Path) -> None:
    shutil.rmtree(run_file(root, "seed-1"))


def extra_seed_folder(root: Path) -> None:
    shutil.copytree(run_file(root, "seed-1"), run_file(root, "seed-7"))


def random_bytes_weights(root: Path) -> None:
    weights_file(root, 0).write_bytes(secrets.token_bytes(512))


class Payload:
    """Unpickling this writes a marker file: what a crafted model.pt would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


def pickle_payload_weights(root: Path) -> None:
    torch.save({"actor": Payload(root / "MARKER")}, weights_file(root, 1))


def weights_not_a_state_dict(root: Path) -> None:
    torch.save(torch.zeros(3), weights_file(root, 1))


def torn_metrics_line(root: Path) -> None:
    with run_file(root, "seed-1/metrics.csv").open("a") as metrics:
        metrics.write("150,1.")


def metrics_with_text_cell(root: Path) -> None:
    run_file(root, "seed-0/metrics.csv").write_text("frame,return_ma\n100,oops\n")


def metrics_without_return_ma(root: Path) -> None:
    run_file(root, "seed-0/metrics.csv").write_text("frame,fps\n100,5.0\n")


def missing_result(root: Path) -> None:
    run_file(root, "seed-1/result.json").unlink()


def result_of_another_seed(root: Path) -> None:
    shutil.copy(run_file(root, "seed-0/result.json"), run_file(root, "seed-1/result.json"))


def spec_edited_after_the_run(root: Path) -> None:
    path = run_file(root, "spec.json")
    path.write_text(path.read_text().replace('"gamma": 0.99', '"gamma": 0.9', 1))


def spec_with_infinity(root: Path) -> None:
    path = run_file(root, "spec.json")
    path.write_text(path.read_text().replace('"gamma": 0.99', '"gamma": Infinity', 1))


def provenance_of_another_run(root: Path) -> None:
    write_json(run_file(root, "provenance.json"), {"spec_hash": spec_hash(RUN_KEYS[1])})


def damaged_eval_json(root: Path) -> None:
    run_file(root, "eval.json").write_text('{"eval_return": ')


def empty_metrics(root: Path) -> None:
    run_file(root, "seed-1/metrics.csv").write_bytes(b"")


def symlink_to_a_file_outside(root: Path) -> None:
    secret = root / "outside" / "id_rsa"
    secret.parent.mkdir()
    secret.write_text("PRIVATE KEY")
    run_file(root, "seed-0/notes.txt").symlink_to(secret)


def symlinked_seed_folder(root: Path) -> None:
    shutil.move(run_file(root, "seed-1"), root / "elsewhere")
    run_file(root, "seed-1").symlink_to(root / "elsewhere", target_is_directory=True)


def symlinked_weights(root: Path) -> None:
    real = root / "cache" / "weights.pt"
    real.parent.mkdir()
    shutil.move(weights_file(root, 0), real)
    weights_file(root, 0).symlink_to(real)


def symlinked_run_folder(root: Path) -> None:
    shutil.move(root / "runs" / KEY, root / "real-run")
    (root / "runs" / KEY).symlink_to(root / "real-run", target_is_directory=True)


DAMAGES = {
    corrupt_summary: "summary.json is damaged (not valid JSON",
    summary_with_wrong_types: "summary.json is damaged (frames: Input should be a valid integer",
    summary_of_other_seeds: "summary.json has seeds [0], the spec [0, 1]",
    missing_seed_folder: "seed-1 is missing (the spec's seeds are [0, 1])",
    extra_seed_folder: "has seed-7, not seeds of its spec ([0, 1])",
    random_bytes_weights: "seed-0/model.pt is damaged",
    pickle_payload_weights: "seed-1/model.pt holds objects that cannot be loaded safely",
    weights_not_a_state_dict: "seed-1/model.pt holds a Tensor, not a state dict",
    torn_metrics_line: "seed-1/metrics.csv ends in a torn line",
    empty_metrics: "seed-1/metrics.csv is empty",
    metrics_with_text_cell: "seed-0/metrics.csv, line 2: 'oops' is not a number",
    metrics_without_return_ma: "seed-0/metrics.csv has no rows with a return_ma column",
    missing_result: "seed-1/result.json is missing",
    result_of_another_seed: "seed-1/result.json is seed 0 at 100 frames, not seed 1 at 100",
    spec_edited_after_the_run: "spec.json is damaged: its spec does not hash to its spec_hash",
    spec_with_infinity: "spec.json is damaged (the spec cannot be hashed as canonical JSON",
    provenance_of_another_run: "provenance.json is not the provenance of spec",
    damaged_eval_json: "eval.json is damaged (not valid JSON",
    symlink_to_a_file_outside: "seed-0/notes.txt is a symlink; publish uploads only files",
    symlinked_seed_folder: "seed-1 is a symlink",
    symlinked_weights: "seed-0/model.pt is a symlink",
    symlinked_run_folder: f"runs/{KEY} is a symlink",
}


@pytest.mark.parametrize("damage,message", DAMAGES.items(), ids=[d.__name__ for d in DAMAGES])
def test_a_damaged_run_uploads_nothing(tmp_path, hub, damage, message):
    for key in RUN_KEYS:
        make_run(tmp_path, key)
    damage(tmp_path)
    with pytest.raises(RlpipeError) as raised:
        publish(tmp_path, hub)  # the undamaged run is not uploaded either
    assert message in str(raised.value)
    assert str(raised.value).endswith("nothing was uploaded")
    assert hub.requests == []
    assert not (tmp_path / "reports" / "hub.json").exists()
    assert not (tmp_path / "MARKER").exists()


def test_hub_json_is_written_only_after_a_successful_commit(tmp_path, hub, monkeypatch):
    for key in RUN_KEYS:
        make_run(tmp_path, key)
    commit = hub.commit

    def refuse_the_second_run(repo_type, repo_id, revision, body):
        if f"runs/{RUN_KEYS[1]}/".encode() in body:
            raise HttpError(400, "the stand-in refuses this commit")
        return commit(repo_type, repo_id, revision, body)

    monkeypatch.setattr(hub, "commit", refuse_the_second_run)
    with pytest.raises(RlpipeError, match=f"uploading run {RUN_KEYS[1]}.*HTTP 400") as raised:
        publish(tmp_path, hub)
    rest = ", ".join(RUN_KEYS[1:])
    assert f"; published: {RUN_KEYS[0]} (linked in " in str(raised.value)
    assert f"not published: {rest}; run `rlpipe report` to relink" in str(raised.value)
    links = json.loads((tmp_path / "reports" / "hub.json").read_text())
    assert links == {RUN_KEYS[0]: run_url(REPO_ID, RUN_KEYS[0], hub.url)}
    assert {path.split("/")[1] for path in hub.files(REPO_ID)} == {RUN_KEYS[0]}
