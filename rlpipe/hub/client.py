"""Talking to the Hub: the repo and run names it accepts, its errors as one-line RlpipeErrors,
and reading a published run (does it exist, its files, its card).

Runs live in a dataset repo under `runs/<run_key>/` at the branch the report links
(rlpipe.report.hub_links: the URL of a published run is report data). The token comes from the
caller or from huggingface_hub's own lookup (HF_TOKEN, `hf auth login`) and is never written
anywhere by this package, nor put in an error message.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

from rlpipe.errors import RlpipeError
from rlpipe.report.hub_links import REVISION, resolve_endpoint
from rlpipe.rundir import CARD_FILE, SUMMARY_FILE

REPO_TYPE = "dataset"
REMOTE_RUNS_DIR = "runs"
_HTTP_CLIENT_ERRORS = (
    ("httpx2", "HTTPError"),
    ("httpx", "HTTPError"),
    ("requests", "RequestException"),
)
"""Base errors of the HTTP clients huggingface_hub has used: 2.x httpx2, 1.x httpx, 0.x requests."""


def check_run_key(run_key: str) -> None:
    """Raise RlpipeError unless `run_key` is a plain folder name."""
    plain = PurePosixPath(run_key).name == run_key and "\\" not in run_key
    if not plain or run_key in ("", ".", ".."):
        raise RlpipeError(f"{run_key!r} is not a run name: give the name of a folder in runs/")


def check_repo_id(repo_id: str) -> None:
    """Raise RlpipeError unless `repo_id` is a valid Hub repo id (namespace/name)."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise RlpipeError(f"invalid Hub repo id {repo_id!r}: {error}") from None
    if repo_id.count("/") != 1:
        raise RlpipeError(
            f"invalid Hub repo id {repo_id!r}: use namespace/name, e.g. your-user/rlpipe-benchmarks"
        )


def remote_run_dir(run_key: str) -> PurePosixPath:
    """The folder of a published run in the dataset repo: runs/<run_key>."""
    return PurePosixPath(REMOTE_RUNS_DIR, run_key)


# --------------------------------------------------------------------------- errors


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Return the exception types that mean the Hub was not reached (DNS, refused, timeout)."""
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module_name, error_name in _HTTP_CLIENT_ERRORS:
        error = getattr(sys.modules.get(module_name), error_name, None)
        if isinstance(error, type) and issubclass(error, BaseException):
            errors.append(error)
    return tuple(errors)


def _without_token(message: str, token: str | None) -> str:
    """Return `message` with the token, if any, masked."""
    return message.replace(token, "***") if token else message


@contextlib.contextmanager
def hub_errors(action: str, endpoint: str, auth_hint: str, token: str | None) -> Iterator[None]:
    """Turn huggingface_hub and network failures inside the block into one-line RlpipeErrors."""
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    try:
        yield
    except OfflineModeIsEnabled:
        message = (
            f"{action}: huggingface_hub is in offline mode (HF_HUB_OFFLINE is set); unset it "
            f"to reach {endpoint}"
        )
        raise RlpipeError(message) from None
    except RepositoryNotFoundError as error:  # the Hub answers 401 for a missing repo too
        status = error.response.status_code if error.response is not None else None
        message = (
            f"{action}: {endpoint} has no such repo, or it is private or gated and the token "
            f"cannot read it (HTTP {status}): check the repo id; if it is private, {auth_hint}"
        )
        raise RlpipeError(_without_token(message, token)) from None
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else None
        if status in (401, 403):
            message = f"{action} was refused by {endpoint} (HTTP {status}): {auth_hint}"
        else:
            detail = (error.server_message or str(error).split("\n", 1)[0]).strip()
            detail = " ".join(detail.split())
            message = f"{action} failed at {endpoint} (HTTP {status}): {detail}"
        raise RlpipeError(_without_token(message, token)) from None
    except _transport_errors() as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        message = (
            f"{action}: could not reach the Hub at {endpoint} ({reason}); check the network "
            "connection, or HF_ENDPOINT if you use a mirror"
        )
        raise RlpipeError(_without_token(message, token)) from None
    except LocalEntryNotFoundError as error:  # hf_hub_download's word for "no answer"
        cause = error.__cause__ or error.__context__
        reason = " ".join(str(cause or error).split()) or type(error).__name__
        message = (
            f"{action}: could not reach the Hub at {endpoint} ({reason}); check the network "
            "connection, or HF_ENDPOINT if you use a mirror"
        )
        raise RlpipeError(_without_token(message, token)) from None
    except OSError as error:  # a local file that vanished or cannot be read during the upload
        raise RlpipeError(_without_token(f"{action} failed: {error}", token)) from None


def auth_hint(repo_id: str, access: str) -> str:
    """Return what to do when the Hub refuses the token."""
    return (
        f"set HF_TOKEN to a Hugging Face token that can {access} {repo_id}, or log in with "
        "`hf auth login`"
    )


# --------------------------------------------------------------------------- reading a run


def remote_run_exists(
    repo_id: str, run_key: str, endpoint: str | None = None, token: str | None = None
) -> bool:
    """Return whether runs/<run_key>/summary.json is in the dataset repo (False if no such repo).

    Raises RlpipeError when the Hub cannot be reached or refuses the request.
    """
    from huggingface_hub import HfApi

    check_run_key(run_key)
    check_repo_id(repo_id)
    hub = resolve_endpoint(endpoint)
    api = HfApi(endpoint=hub, token=token)
    action = f"checking run {run_key} in {repo_id}"
    exists = False
    with hub_errors(action, hub, auth_hint(repo_id, "read"), token):
        exists = api.file_exists(
            repo_id,
            f"{remote_run_dir(run_key)}/{SUMMARY_FILE}",
            repo_type=REPO_TYPE,
            revision=REVISION,
        )
    return exists


def fetch_card(
    repo_id: str, run_key: str, endpoint: str | None = None, token: str | None = None
) -> str | None:
    """Return the text of a published run's model card (runs/<run_key>/README.md), None if
    the run has no card. Raises RlpipeError when the Hub cannot be reached or refuses."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="rlpipe-card-") as folder:
        found = download_run_files(repo_id, run_key, [CARD_FILE], Path(folder), endpoint, token)
        if not found:
            return None
        try:
            return found[0].read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise RlpipeError(f"the card of run {run_key} in {repo_id} is not UTF-8 text") from None


def list_run_files(
    repo_id: str, run_key: str, endpoint: str | None = None, token: str | None = None
) -> list[str]:
    """Return the files of a published run, as paths relative to runs/<run_key>/, sorted."""
    from huggingface_hub import HfApi

    check_run_key(run_key)
    check_repo_id(repo_id)
    hub = resolve_endpoint(endpoint)
    api = HfApi(endpoint=hub, token=token)
    prefix = f"{remote_run_dir(run_key)}/"
    with hub_errors(f"listing run {run_key} in {repo_id}", hub, auth_hint(repo_id, "read"), token):
        info = api.dataset_info(repo_id, revision=REVISION)
    names = [sibling.rfilename for sibling in info.siblings or []]
    return sorted(name.removeprefix(prefix) for name in names if name.startswith(prefix))


def download_run_files(
    repo_id: str,
    run_key: str,
    paths: Iterable[str],
    folder: Path,
    endpoint: str | None = None,
    token: str | None = None,
) -> list[Path]:
    """Download files of a published run (paths relative to runs/<run_key>/) into
    folder/<path>; return the local paths of those that exist in the repo, in order."""
    import shutil
    import tempfile

    from huggingface_hub import HfApi
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    check_run_key(run_key)
    check_repo_id(repo_id)
    hub = resolve_endpoint(endpoint)
    api = HfApi(endpoint=hub, token=token)
    hint = auth_hint(repo_id, "read")
    found = []
    with tempfile.TemporaryDirectory(prefix=".rlpipe-download-", dir=folder.parent) as staging:
        for path in paths:
            remote = str(remote_run_dir(run_key) / path)
            with hub_errors(f"downloading {remote} from {repo_id}", hub, hint, token):
                try:
                    local = api.hf_hub_download(
                        repo_id, remote, repo_type=REPO_TYPE, revision=REVISION, local_dir=staging
                    )
                except LocalEntryNotFoundError:
                    raise  # the Hub did not answer (network, 5xx): not the same as "no such file"
                except EntryNotFoundError:
                    continue
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(local, target)
            found.append(target)
    return found
