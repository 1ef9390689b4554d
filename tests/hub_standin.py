"""An in-process stand-in for the Hugging Face Hub HTTP API, enough for rlpipe.hub's calls.

It serves, on 127.0.0.1 from a background thread, the endpoints that huggingface_hub 2.4 uses
for create_repo, create_commit (preupload + commit) and file_exists, storing files in memory:

    POST /api/repos/create                              create_repo (409 if it exists)
    GET  /api/{type}s/{ns}/{name}[/revision/{rev}]      repo_info (a commit that changes nothing)
    POST /api/{type}s/{ns}/{name}/preupload/{rev}       upload mode of each file: always "regular"
    POST /api/{type}s/{ns}/{name}/commit/{rev}          NDJSON commit, files inline in base64
    HEAD /{prefix}{ns}/{name}/resolve/{rev}/{path}      file_exists / file metadata
    GET  /{prefix}{ns}/{name}/resolve/{rev}/{path}      file content

{type} is model, dataset or space; {prefix} is "" for models, "datasets/" or "spaces/". Only
the "main" revision exists. Since preupload always answers "regular", no LFS or Xet upload is
ever asked for (an "lfsFile" commit line is a 400). Errors carry the X-Error-Code header and the
{"error": ...} JSON body that huggingface_hub turns into RepositoryNotFoundError,
RevisionNotFoundError and RemoteEntryNotFoundError. With `token=...` every request must send
`Authorization: Bearer <token>`, else 401 "Invalid credentials in Authorization header".
Nothing is logged: request headers (and so tokens) are never recorded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

MAIN = "main"
MAX_BODY_BYTES = 16 * 1024 * 1024
REQUEST_TIMEOUT_S = 5.0
_TYPE_BY_API_SEGMENT = {"models": "model", "datasets": "dataset", "spaces": "space"}
_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_DEFAULT_NAMESPACE = "standin-user"


def git_blob_sha(content: bytes) -> str:
    """Return the git object id of a blob with this content (the Hub's ETag of a regular file)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class Commit:
    """One commit in a stand-in repo."""

    oid: str
    summary: str
    description: str
    paths: tuple[str, ...]


@dataclass
class Repo:
    """One repo: its files at the head of main, and its commits (oldest first)."""

    repo_type: str
    repo_id: str
    head: str
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[Commit] = field(default_factory=list)


class HttpError(Exception):
    """An error response: status, message, the X-Error-Code huggingface_hub switches on, and
    extra fields of the JSON body."""

    def __init__(
        self,
        status: int,
        message: str,
        error_code: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_code = error_code
        self.extra = extra or {}


def _repo_not_found() -> HttpError:
    return HttpError(404, "Repository not found", "RepoNotFound")


class HubStandIn:
    """The stand-in server: start(), use `.url` as the Hub endpoint, stop()."""

    def __init__(self, token: str | None = None) -> None:
        """Prepare an empty hub; with `token`, every request must present it as a Bearer token."""
        self.token = token
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[tuple[str, str]] = []
        """(method, path) of every request received, in order (headers are never kept)."""
        self.unavailable: set[str] = set()
        """Repo paths whose downloads answer 503, as a Hub having a bad minute."""
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """The endpoint to give huggingface_hub, e.g. http://127.0.0.1:41234."""
        if self._server is None:
            raise RuntimeError("HubStandIn is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HubStandIn:
        """Listen on 127.0.0.1 (a free port) and serve from a daemon thread; return self."""
        if self._server is not None:
            raise RuntimeError("HubStandIn is already started")
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.standin = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=REQUEST_TIMEOUT_S)

    def __enter__(self) -> HubStandIn:
        """Start and return the stand-in."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Stop the stand-in."""
        self.stop()

    # ------------------------------------------------------------------ inspection

    def files(self, repo_id: str, repo_type: str = "dataset") -> dict[str, bytes]:
        """Return a copy of {path: content} at the head of a repo (KeyError if no such repo)."""
        with self._lock:
            return dict(self.repos[(repo_type, repo_id)].files)

    def commits(self, repo_id: str, repo_type: str = "dataset") -> list[Commit]:
        """Return the commits of a repo, oldest first (KeyError if no such repo)."""
        with self._lock:
            return list(self.repos[(repo_type, repo_id)].commits)

    # ------------------------------------------------------------------ API

    def _repo(self, repo_type: str, repo_id: str, revision: str) -> Repo:
        repo = self.repos.get((repo_type, repo_id))
        if repo is None:
            raise _repo_not_found()
        if revision != MAIN:
            raise HttpError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return repo

    def _repo_url(self, repo: Repo) -> str:
        return f"{self.url}/{_URL_PREFIX[repo.repo_type]}{repo.repo_id}"

    def create_repo(self, payload: Any) -> tuple[int, dict[str, Any]]:
        """POST /api/repos/create."""
        if not isinstance(payload, dict) or not isinstance(payload.get("name"), str):
            raise HttpError(400, "create needs a JSON body with a name")
        repo_type = payload.get("type") or "model"
        if repo_type not in _URL_PREFIX:
            raise HttpError(400, f"unknown repo type {repo_type!r}")
        namespace = payload.get("organization") or _DEFAULT_NAMESPACE
        repo_id = f"{namespace}/{payload['name']}"
        with self._lock:
            existing = self.repos.get((repo_type, repo_id))
            if existing is not None:
                # create_repo(exist_ok=True) reads the url from the 409 body, as from a 200.
                url = self._repo_url(existing)
                message = f"You already created this {repo_type} repo"
                raise HttpError(409, message, extra={"url": url})
            head = hashlib.sha1(f"{repo_type}/{repo_id}".encode()).hexdigest()
            repo = Repo(repo_type, repo_id, head)
            self.repos[(repo_type, repo_id)] = repo
            return 200, {"url": self._repo_url(repo), "name": repo_id, "id": head[:24]}

    def repo_info(self, repo_type: str, repo_id: str, revision: str) -> dict[str, Any]:
        """GET /api/{type}s/{repo_id}[/revision/{rev}]."""
        with self._lock:
            repo = self._repo(repo_type, repo_id, revision)
            siblings = [{"rfilename": path} for path in sorted(repo.files)]
            return {"id": repo_id, "sha": repo.head, "private": False, "siblings": siblings}

    def preupload(self, repo_type: str, repo_id: str, revision: str, payload: Any) -> dict:
        """POST /api/{type}s/{repo_id}/preupload/{rev}: every file goes inline ("regular")."""
        files = payload.get("files") if isinstance(payload, dict) else None
        if not isinstance(files, list) or not all(
            isinstance(f, dict) and isinstance(f.get("path"), str) for f in files
        ):
            raise HttpError(400, "preupload needs a JSON body with a files list")
        with self._lock:
            repo = self._repo(repo_type, repo_id, revision)
            answers = []
            for entry in files:
                content = repo.files.get(entry["path"])
                oid = None if content is None else git_blob_sha(content)
                answers.append(
                    {
                        "path": entry["path"],
                        "uploadMode": "regular",
                        "shouldIgnore": False,
                        "oid": oid,
                    }
                )
            return {"files": answers, "commitOid": repo.head}

    def commit(self, repo_type: str, repo_id: str, revision: str, body: bytes) -> dict:
        """POST /api/{type}s/{repo_id}/commit/{rev} with an NDJSON body."""
        try:
            lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        except ValueError:
            raise HttpError(400, "commit body is not NDJSON") from None
        if not lines or lines[0].get("key") != "header":
            raise HttpError(400, "commit body must start with a header line")
        header = lines[0].get("value") or {}
        with self._lock:
            repo = self._repo(repo_type, repo_id, revision)
            files = dict(repo.files)
            touched = []
            for line in lines[1:]:
                key, value = line.get("key"), line.get("value") or {}
                path = value.get("path")
                if not isinstance(path, str) or not path:
                    raise HttpError(400, f"commit line {key!r} has no path")
                if key == "file":
                    if value.get("encoding") != "base64":
                        raise HttpError(400, f"{path}: only base64 file content is supported")
                    files[path] = base64.b64decode(value.get("content", ""), validate=True)
                elif key == "deletedFile":
                    if files.pop(path, None) is None:
                        raise HttpError(404, "A file with this name doesn't exist", "EntryNotFound")
                elif key == "deletedFolder":
                    prefix = path.rstrip("/") + "/"
                    files = {p: c for p, c in files.items() if not p.startswith(prefix)}
                else:
                    raise HttpError(400, f"commit line {key!r} is not supported by the stand-in")
                touched.append(path)
            digest = hashlib.sha1(repo.head.encode())
            for path in sorted(files):
                digest.update(f"{path}\0{git_blob_sha(files[path])}\n".encode())
            digest.update(json.dumps(header, sort_keys=True).encode())
            oid = digest.hexdigest()
            repo.files, repo.head = files, oid
            summary, description = header.get("summary", ""), header.get("description", "")
            repo.commits.append(Commit(oid, summary, description, tuple(touched)))
            return {
                "commitUrl": f"{self._repo_url(repo)}/commit/{oid}",
                "commitOid": oid,
                "pullRequestUrl": None,
                "success": True,
            }

    def resolve(self, repo_type: str, repo_id: str, revision: str, path: str) -> tuple[bytes, str]:
        """Return (content, head commit) of a file at a revision."""
        with self._lock:
            if path in self.unavailable:
                raise HttpError(503, "Service Unavailable")
            repo = self._repo(repo_type, repo_id, revision)
            if path not in repo.files:
                raise HttpError(404, "Entry not found", "EntryNotFound")
            return repo.files[path], repo.head


class _Handler(BaseHTTPRequestHandler):
    """Routes one request (HTTP/1.0: one request per connection) to the HubStandIn."""

    server_version = "HubStandIn/1"
    timeout = REQUEST_TIMEOUT_S  # a stalled client cannot hold a handler thread for long

    @property
    def standin(self) -> HubStandIn:
        return self.server.standin  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing (the stand-in records method and path in `requests` instead)."""

    # ------------------------------------------------------------------ plumbing

    def _segments(self) -> tuple[list[str], dict[str, list[str]]]:
        split = urlsplit(self.path)
        segments = [unquote(s) for s in split.path.split("/") if s]
        return segments, parse_qs(split.query)

    def _body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise HttpError(400, "bad Content-Length") from None
        if length < 0 or length > MAX_BODY_BYTES:
            raise HttpError(413, f"request bodies are limited to {MAX_BODY_BYTES} bytes")
        if self.headers.get("Transfer-Encoding"):
            raise HttpError(400, "chunked request bodies are not supported by the stand-in")
        return self.rfile.read(length) if length else b""

    def _json_body(self) -> Any:
        try:
            return json.loads(self._body() or b"null")
        except ValueError:
            raise HttpError(400, "request body is not JSON") from None

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        head_only: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not head_only:
            self.wfile.write(body)

    def _send_json(self, status: int, document: Any) -> None:
        self._send(status, json.dumps(document).encode())

    def _send_error(self, error: HttpError, head_only: bool) -> None:
        headers = {"X-Error-Message": error.message}
        if error.error_code is not None:
            headers["X-Error-Code"] = error.error_code
        body = json.dumps({**error.extra, "error": error.message}).encode()
        self._send(error.status, body, headers=headers, head_only=head_only)

    def _check_token(self) -> None:
        expected = self.standin.token
        if expected is not None and self.headers.get("Authorization") != f"Bearer {expected}":
            raise HttpError(401, "Invalid credentials in Authorization header")

    def _handle(self, method: str) -> None:
        with self.standin._lock:
            self.standin.requests.append((method, urlsplit(self.path).path))
        head_only = method == "HEAD"
        try:
            self._check_token()
            getattr(self, f"_route_{method.lower()}")(*self._segments(), head_only)
        except HttpError as error:
            self._send_error(error, head_only)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")

    # ------------------------------------------------------------------ routes

    @staticmethod
    def _api_repo(segments: list[str]) -> tuple[str, str, list[str]] | None:
        """Split /api/{type}s/{ns}/{name}/rest... into (repo_type, repo_id, rest)."""
        if len(segments) < 4 or segments[0] != "api" or segments[1] not in _TYPE_BY_API_SEGMENT:
            return None
        return _TYPE_BY_API_SEGMENT[segments[1]], f"{segments[2]}/{segments[3]}", segments[4:]

    def _route_post(self, segments: list[str], query: dict, head_only: bool) -> None:
        if segments == ["api", "repos", "create"]:
            status, document = self.standin.create_repo(self._json_body())
            self._send_json(status, document)
            return
        parsed = self._api_repo(segments)
        if parsed is None or len(parsed[2]) != 2 or parsed[2][0] not in ("preupload", "commit"):
            raise HttpError(404, f"no such endpoint in the stand-in: POST {self.path}")
        if query.get("create_pr"):
            raise HttpError(400, "pull requests are not supported by the stand-in")
        repo_type, repo_id, (action, revision) = parsed
        if action == "preupload":
            document = self.standin.preupload(repo_type, repo_id, revision, self._json_body())
        else:
            document = self.standin.commit(repo_type, repo_id, revision, self._body())
        self._send_json(200, document)

    def _route_get(self, segments: list[str], query: dict, head_only: bool) -> None:
        parsed = self._api_repo(segments)
        if parsed is not None:
            repo_type, repo_id, rest = parsed
            if rest == []:
                revision = MAIN
            elif len(rest) == 2 and rest[0] == "revision":
                revision = rest[1]
            else:
                raise HttpError(404, f"no such endpoint in the stand-in: GET {self.path}")
            self._send_json(200, self.standin.repo_info(repo_type, repo_id, revision))
            return
        self._route_resolve(segments, head_only)

    def _route_head(self, segments: list[str], query: dict, head_only: bool) -> None:
        self._route_resolve(segments, head_only)

    def _route_resolve(self, segments: list[str], head_only: bool) -> None:
        """/{prefix}{ns}/{name}/resolve/{rev}/{path...}"""
        repo_type = "model"
        if segments and segments[0] in ("datasets", "spaces"):
            repo_type, segments = _TYPE_BY_API_SEGMENT[segments[0]], segments[1:]
        if len(segments) < 5 or segments[2] != "resolve":
            raise HttpError(404, f"no such endpoint in the stand-in: {self.command} {self.path}")
        repo_id = f"{segments[0]}/{segments[1]}"
        path = "/".join(segments[4:])
        content, head = self.standin.resolve(repo_type, repo_id, segments[3], path)
        headers = {"X-Repo-Commit": head, "ETag": f'"{git_blob_sha(content)}"'}
        self._send(200, content, "application/octet-stream", headers, head_only)


def allow_requests_to_standin(monkeypatch: Any, tmp_path: Any) -> None:
    """Let huggingface_hub make requests in one test, and only to a stand-in.

    tests/conftest.py sets HF_HUB_OFFLINE=1 before huggingface_hub is imported, and
    huggingface_hub reads it (and HF_HUB_DISABLE_TELEMETRY) into constants at import time, so
    the constants are patched. Telemetry off: building the user agent would otherwise fetch an
    agent registry from huggingface.co. No token from the environment or the machine's login.
    """
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
