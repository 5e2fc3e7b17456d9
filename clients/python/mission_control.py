"""Mission Control from a notebook: one file, Python's standard library only (Python 3.10 or newer).

Copy this file next to your notebook, or put its folder on the path::

    import sys; sys.path.insert(0, '/path/to/mission-control/clients/python')
    import mission_control as mc

    client = mc.Client('http://127.0.0.1:4000')          # the token from $MC_TOKEN
    for job in client.jobs(first=5):
        print(job.id, job.name, job.state)
    preview = client.preview(mc.Launch(project='resnet', cluster='hpc', primary='train', memory='16G'))
    print(preview.script)                                 # exactly what submit() submits
    job = client.submit(preview)
    for update in client.follow([job]):                   # Server-Sent Events until the job ends
        print(update.state)

Everything the server refuses is raised: a token it does not know as `AuthenticationError`, a request the GraphQL
schema refuses as `GraphQLError`, and a typed failure (`ValidationError`, `NotFoundError`, `SlurmError`, ...: the
schema's `... on Error` results) as the exception class of the same name, each with the server's message.
"""

from __future__ import annotations

import dataclasses
import functools
import http.client
import json
import os
import types
import typing
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

__all__ = [
    'Client', 'Launch', 'Job', 'Preflight', 'Preview', 'SweepPreview', 'SweepRunPreview', 'Sweep', 'SweepRun',
    'StateCount', 'MetricPoint', 'MetricSeries', 'Log', 'Project', 'FINAL_STATES',
    'MissionControlError', 'GraphQLError', 'AuthenticationError', 'ForbiddenError', 'ResultError', 'ValidationError',
    'NotFoundError', 'RateLimitedError', 'SlurmError', 'ClusterUnreachableError', 'HostKeyError',
    'CommandTimeoutError', 'HydraConfigError', 'LaunchAlreadySubmittedError', 'SweepAlreadySubmittedError',
    'LaunchNotRecordedError', 'StreamEndedError',
]

#: The job states that never change again (the server's TERMINAL_STATES in server/slurm/state.ts; a unit test keeps
#: the two equal). COMPLETING is not one: the job's exit code may still change.
FINAL_STATES = frozenset({
    'SUBMIT_FAILED', 'COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'PREEMPTED',
})

#: The server pings an open event stream every 12 s; a stream silent for this long is a dead connection.
STREAM_IDLE_SECONDS = 60.0
#: The server returns at most this many jobs a page.
JOBS_PAGE_SIZE = 200


# ---------------------------------------------------------------------------------------------------------------------
# Errors


class MissionControlError(Exception):
    """Anything the server refused or could not do; ``str(error)`` is the server's message."""


class StreamEndedError(MissionControlError):
    """The server closed an event stream before every followed job ended (a restart): follow them again to go on."""


class GraphQLError(MissionControlError):
    """The server refused the request itself (the schema's ``errors``): ``code`` and ``field`` where it gave them."""

    def __init__(self, message: str, code: str | None = None, field: str | None = None, errors: Sequence[Mapping[str, Any]] = ()):
        super().__init__(message)
        self.code = code
        self.field = field
        self.errors = list(errors)


class AuthenticationError(GraphQLError):
    """HTTP 401: no token, or one the server does not know (revoked, mistyped)."""


class ForbiddenError(GraphQLError):
    """The token may not do this: a read-only token asked for a change."""


class ResultError(MissionControlError):
    """A typed failure the schema returns as a result (``... on Error``), raised as the class of its ``__typename``.

    ``typename`` is the GraphQL type, ``field`` the input it concerns (where the error names one), ``details`` the
    error's other fields in snake_case (``retry_after_seconds``, ``job_id``, ``stderr``...).
    """

    _by_typename: dict[str, type[ResultError]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        ResultError._by_typename[cls.__name__] = cls

    def __init__(self, message: str, typename: str | None = None, field: str | None = None, details: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.typename = typename or type(self).__name__
        self.field = field
        self.details = dict(details or {})

    @classmethod
    def from_result(cls, result: Mapping[str, Any]) -> ResultError:
        """The exception for an error result: its ``__typename``'s class, or ResultError for a type this file lacks."""
        typename = result.get('__typename', 'Error')
        details = {_snake(key): value for key, value in result.items() if key not in ('__typename', 'message', 'field')}
        error_class = cls._by_typename.get(typename, ResultError)
        return error_class(result.get('message', typename), typename, result.get('field'), details)


class ValidationError(ResultError):
    """A value was refused; ``field`` names it (``memory``, ``cluster``, ``parameters.optimizer.lr``)."""


class NotFoundError(ResultError):
    """No job, sweep, project or cluster by that id or name."""


class RateLimitedError(ResultError):
    """Asked again too soon for something that runs a command on the cluster; ``details['retry_after_seconds']``."""


class SlurmError(ResultError):
    """A SLURM command failed; ``details`` has its ``command``, ``exit_code`` and ``stderr``."""


class ClusterUnreachableError(ResultError):
    """The cluster's login node could not be reached."""


class HostKeyError(ResultError):
    """The cluster's host key is unknown or changed."""


class CommandTimeoutError(ResultError):
    """A command on the cluster took too long."""


class HydraConfigError(ResultError):
    """The project's Hydra configuration could not be read; ``details`` has ``file`` and ``line``."""


class LaunchAlreadySubmittedError(ValidationError):
    """This preview's tag was submitted already; ``details['job_id']`` is that job: nothing was submitted again."""


class SweepAlreadySubmittedError(ValidationError):
    """This sweep preview's tag was submitted already; ``details['sweep_id']`` is that sweep."""


class LaunchNotRecordedError(ResultError):
    """SLURM took the launch but the server could not save it yet; it is adopted by its tag later, never run twice."""


# ---------------------------------------------------------------------------------------------------------------------
# Results: dataclasses whose fields (in snake_case) are the GraphQL fields they are read from (in camelCase). The
# selection sets are written from the same fields, so what is asked and what is read cannot drift apart. A field
# marked _LOCAL is filled by this client, not read from the server.

_LOCAL = {'local': True}


@dataclasses.dataclass(frozen=True)
class Job:
    """One launch of a project on a cluster (a sweep's task is one too: ``sweep_id`` and ``array_index``)."""

    id: int
    tag: str
    name: str
    state: str
    cluster: str
    project_id: int
    description: str
    commit_sha: str
    slurm_job_id: str | None
    slurm_state: str | None
    reason: str | None
    waiting_for: str | None
    exit_code: int | None
    node_list: str | None
    submit_error: str | None
    sweep_id: int | None
    array_index: int | None
    created_at: datetime
    submitted_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    elapsed_seconds: int | None

    @property
    def final(self) -> bool:
        """Whether the state can no longer change (see FINAL_STATES)."""
        return self.state in FINAL_STATES


@dataclasses.dataclass(frozen=True)
class Preflight:
    """SLURM's own verdict on the previewed directives (``sbatch --test-only``; nothing queued)."""

    outcome: str
    """ACCEPTED, REFUSED, or NOT_ASKED (unreachable, or too many previews a minute: never an error)."""
    message: str
    field: str | None
    estimated_start_at: datetime | None
    nodes: str | None
    partition: str | None


@dataclasses.dataclass(frozen=True)
class Preview:
    """Exactly the script ``submit(preview)`` submits, with its tag, commit, warnings and SLURM's verdict."""

    script: str
    tag: str
    commit: str
    warnings: list[str]
    preflight: Preflight
    input: dict[str, Any] = dataclasses.field(default_factory=dict, metadata=_LOCAL)
    """The JobInput this preview was computed from, as sent: submit() sends it again with ``commit`` and ``tag``."""


@dataclasses.dataclass(frozen=True)
class SweepRunPreview:
    index: int
    overrides: list[str]
    """The run's sweep values (``seed=1``, ``model=vit``)."""
    words: list[str]
    """Exactly what its task appends to the command."""


@dataclasses.dataclass(frozen=True)
class SweepPreview:
    """A sweep's runs in Hydra's order and the one script its tasks run; ``submit_sweep(preview)`` submits it."""

    tag: str
    commit: str
    script: str
    count: int
    keys: list[str]
    varying: list[str]
    limit: int
    throttle: int
    warnings: list[str]
    preflight: Preflight
    runs: list[SweepRunPreview]
    input: dict[str, Any] = dataclasses.field(default_factory=dict, metadata=_LOCAL)
    """The SweepInput this preview was computed from, as sent."""


@dataclasses.dataclass(frozen=True)
class StateCount:
    state: str
    count: int


@dataclasses.dataclass(frozen=True)
class SweepRun:
    """One row of a sweep's table: its values of ``Sweep.varying`` and its current task."""

    index: int
    overrides: list[str]
    values: list[str]
    task: Job | None


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A Hydra multirun launched as one SLURM job array; ``runs`` is its table."""

    id: int
    tag: str
    name: str
    state: str
    """SUBMITTING, PENDING, RUNNING, then COMPLETED, COMPLETED_WITH_FAILURES, FAILED or CANCELLED."""
    cluster: str
    project_id: int
    size: int
    throttle: int
    retries: int
    array_job_id: str | None
    definition: list[str]
    varying: list[str]
    counts: list[StateCount]
    created_at: datetime
    ended_at: datetime | None
    runs: list[SweepRun]

    @property
    def tasks(self) -> list[Job]:
        """The current task of every run, by index: ``client.follow(sweep.tasks)`` follows them to their ends."""
        return [run.task for run in self.runs if run.task is not None]


@dataclasses.dataclass(frozen=True)
class MetricPoint:
    step: float
    value: float
    """NaN and infinities are Python's own (float('nan'), float('inf')): JSON has none, the server spells them."""
    non_finite: str | None
    time: datetime

    def __post_init__(self) -> None:
        if self.value is None and self.non_finite:
            object.__setattr__(self, 'value', float(self.non_finite))


@dataclasses.dataclass(frozen=True)
class MetricSeries:
    """One metric of a job, downsampled by the server to at most max_points (its lowest and highest kept)."""

    name: str
    total: int
    """Points the run wrote; ``points`` may hold fewer."""
    min: float | None
    max: float | None
    points: list[MetricPoint]

    @property
    def steps(self) -> list[float]:
        return [point.step for point in self.points]

    @property
    def values(self) -> list[float]:
        return [point.value for point in self.points]


@dataclasses.dataclass(frozen=True)
class Log:
    """The end of a job's output file (ANSI stripped)."""

    text: str
    truncated: bool
    """Only the end of the file was read."""
    size_bytes: int | None
    wandb_url: str | None


@dataclasses.dataclass(frozen=True)
class Project:
    id: int
    name: str
    local_path: str
    branch: str | None
    head_sha: str
    dirty: bool
    pushed: bool


# ---------------------------------------------------------------------------------------------------------------------
# What to launch


@dataclasses.dataclass(frozen=True)
class Launch:
    """The settings of a launch (the schema's JobInput, in snake_case). None and empty leave the server's default.

    ``parameters`` maps a config key to its value (``{'optimizer.lr': 0.01}``; ``'+key'`` adds a key the config
    lacks, as Hydra's ``+key=value``); ``groups`` maps a config group to its option (``{'model': 'vit'}``), a list of
    options for a list-valued group, or None to turn an optional group off. ``depends_on`` takes mappings such as
    ``{'kind': 'AFTEROK', 'sweep_id': 4}`` and ``resume`` one such as ``{'max_restarts': 3, 'override': '+resume=true'}``.
    """

    project: int | str
    """The project's id, or its name."""
    cluster: str
    primary: str | None = None
    parameters: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    groups: Mapping[str, str | Sequence[str] | None] = dataclasses.field(default_factory=dict)
    overrides: Sequence[str] = ()
    raw_overrides: str | None = None
    memory: str | None = None
    time_limit: str | None = None
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    nodes: int | None = None
    cpus_per_task: int | None = None
    gpus_per_node: int | None = None
    gpu_type: str | None = None
    name: str | None = None
    description: str | None = None
    depends_on: Sequence[Mapping[str, Any]] = ()
    resume: Mapping[str, Any] | None = None
    allow_unpushed: bool | None = None
    parent_job_id: int | None = None

    def __post_init__(self) -> None:
        for name in ('parameters', 'groups'):
            if not isinstance(getattr(self, name), Mapping):
                raise TypeError(f'Launch.{name} maps a config key to its value, not {type(getattr(self, name)).__name__}')
        _check_list('Launch.overrides', self.overrides, 'one override each (["seed=1"]); a line of them goes in raw_overrides')
        _check_list('Launch.depends_on', self.depends_on, "one mapping each ([{'kind': 'AFTEROK', 'job_id': 7}])")


def _check_list(name: str, value: Any, each: str) -> None:
    """A list given where a list belongs: a string or a mapping there would be read item by item, wrongly."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise TypeError(f'{name} is a list, {each}; not {type(value).__name__}')


#: Launch fields written in the schema's own shape by Client._job_input, not copied as they are.
_LAUNCH_MAPS = frozenset({'project', 'parameters', 'groups', 'depends_on', 'resume'})


# ---------------------------------------------------------------------------------------------------------------------
# Reading GraphQL JSON into the dataclasses above


def _camel(name: str) -> str:
    head, *rest = name.split('_')
    return head + ''.join(word.title() for word in rest)


def _snake(name: str) -> str:
    return ''.join('_' + char.lower() if char.isupper() else char for char in name)


def _camel_keys(value: Mapping[str, Any]) -> dict[str, Any]:
    return {_camel(key): item for key, item in value.items()}


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unwrap(hint: Any) -> tuple[Any, bool]:
    """The type inside an optional or a list, and whether it was a list."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _unwrap(next(arg for arg in typing.get_args(hint) if arg is not type(None)))
    if origin is list:
        return typing.get_args(hint)[0], True
    return hint, False


def _server_fields(cls: type) -> list[dataclasses.Field[Any]]:
    return [field for field in dataclasses.fields(cls) if not field.metadata.get('local')]


def _selection(cls: type) -> str:
    """The GraphQL selection set of a result dataclass: its fields in camelCase, nested dataclasses in braces."""
    hints = _hints(cls)
    parts = []
    for field in _server_fields(cls):
        inner, _ = _unwrap(hints[field.name])
        nested = f' {{ {_selection(inner)} }}' if dataclasses.is_dataclass(inner) else ''
        parts.append(_camel(field.name) + nested)
    return ' '.join(parts)


def _read(hint: Any, value: Any) -> Any:
    """A value of a result type (a dataclass, a list or an optional of one, a datetime) from the server's JSON."""
    if value is None:
        return None
    inner, is_list = _unwrap(hint)
    if is_list:
        return [_read(inner, item) for item in value]
    if dataclasses.is_dataclass(inner):
        hints = _hints(inner)
        return inner(**{field.name: _read(hints[field.name], value.get(_camel(field.name))) for field in _server_fields(inner)})
    if inner is datetime:
        # Python before 3.11 does not read the trailing Z.
        return datetime.fromisoformat(value.replace('Z', '+00:00'))
    return value


def _success(result: Mapping[str, Any]) -> Any:
    """The ``data`` of a result union's success type, or the error result raised as its exception."""
    if result.get('__typename', '').endswith('Success'):
        return result['data']
    raise ResultError.from_result(result)


# ---------------------------------------------------------------------------------------------------------------------
# The documents. A result union is asked for its __typename, its success's data and its errors' fields; a fragment
# may only name an error type its union has (the unit suite validates every document against schema/schema.graphql).

JOB = _selection(Job)
SWEEP = _selection(Sweep)

JOBS_QUERY = f"""query($filter: JobFilter, $first: Int, $after: String) {{
  jobs(filter: $filter, first: $first, after: $after) {{ nodes {{ {JOB} }} pageInfo {{ hasNextPage endCursor }} }} }}"""

JOB_QUERY = f"""query($id: Int!) {{ job(id: $id) {{ __typename ... on QueryJobSuccess {{ data {{ {JOB} }} }}
  ... on Error {{ message }} }} }}"""

PROJECTS_QUERY = f'query {{ projects {{ {_selection(Project)} }} }}'

LAUNCH_ERRORS = '... on Error { message } ... on ValidationError { field } ... on HydraConfigError { file line } ... on SlurmError { command exitCode stderr }'

PREVIEW_QUERY = f"""query($input: JobInput!) {{ previewScript(input: $input) {{ __typename
  ... on QueryPreviewScriptSuccess {{ data {{ {_selection(Preview)} }} }} {LAUNCH_ERRORS} }} }}"""

SUBMIT_MUTATION = f"""mutation($input: JobInput!, $tag: String) {{ submitJob(input: $input, tag: $tag) {{ __typename
  ... on MutationSubmitJobSuccess {{ data {{ {JOB} }} }} {LAUNCH_ERRORS}
  ... on LaunchAlreadySubmittedError {{ field jobId tag }} ... on LaunchNotRecordedError {{ jobId slurmJobId tag }} }} }}"""

PREVIEW_SWEEP_QUERY = f"""query($input: SweepInput!) {{ previewSweep(input: $input) {{ __typename
  ... on QueryPreviewSweepSuccess {{ data {{ {_selection(SweepPreview)} }} }} {LAUNCH_ERRORS} }} }}"""

SUBMIT_SWEEP_MUTATION = f"""mutation($input: SweepInput!, $tag: String) {{ submitSweep(input: $input, tag: $tag) {{ __typename
  ... on MutationSubmitSweepSuccess {{ data {{ {SWEEP} }} }} {LAUNCH_ERRORS}
  ... on SweepAlreadySubmittedError {{ field sweepId tag }} ... on LaunchNotRecordedError {{ jobId slurmJobId tag }} }} }}"""

SWEEP_QUERY = f"""query($id: Int!) {{ sweep(id: $id) {{ __typename ... on QuerySweepSuccess {{ data {{ {SWEEP} }} }}
  ... on Error {{ message }} }} }}"""

METRICS_QUERY = f"""query($id: Int!, $names: [String!], $maxPoints: Int) {{ job(id: $id) {{ __typename
  ... on QueryJobSuccess {{ data {{ metrics(names: $names, maxPoints: $maxPoints) {{ {_selection(MetricSeries)} }} }} }}
  ... on Error {{ message }} }} }}"""

SWEEP_METRICS_QUERY = f"""query($id: Int!, $name: String!, $maxPoints: Int) {{ sweep(id: $id) {{ __typename
  ... on QuerySweepSuccess {{ data {{ metrics(name: $name, maxPoints: $maxPoints) {{ index series {{ {_selection(MetricSeries)} }} }} }} }}
  ... on Error {{ message }} }} }}"""

LOG_QUERY = f"""query($id: Int!, $tailBytes: ByteOffset, $collapseProgress: Boolean) {{ job(id: $id) {{ __typename
  ... on QueryJobSuccess {{ data {{ log(tailBytes: $tailBytes, collapseProgress: $collapseProgress) {{ __typename
    ... on JobLogSuccess {{ data {{ {_selection(Log)} }} }} ... on Error {{ message }} ... on RateLimitedError {{ retryAfterSeconds }}
    ... on SlurmError {{ command exitCode stderr }} }} }} }}
  ... on Error {{ message }} }} }}"""

CANCEL_MUTATION = f"""mutation($id: Int!) {{ cancelJob(id: $id) {{ __typename ... on MutationCancelJobSuccess {{ data {{ {JOB} }} }}
  ... on Error {{ message }} ... on ValidationError {{ field }} ... on SlurmError {{ command exitCode stderr }} }} }}"""

FOLLOW_SUBSCRIPTION = f'subscription($ids: [Int!]) {{ jobUpdated(jobIds: $ids) {{ {JOB} }} }}'


# ---------------------------------------------------------------------------------------------------------------------
# The client


def _id(item: int | Job | Sweep) -> int:
    """The id of a job or sweep given as itself or as its id."""
    return item.id if isinstance(item, (Job, Sweep)) else item


def _graphql_error(errors: Sequence[Mapping[str, Any]]) -> GraphQLError:
    extensions = errors[0].get('extensions') or {}
    code = extensions.get('code')
    error_class = {'UNAUTHENTICATED': AuthenticationError, 'FORBIDDEN': ForbiddenError}.get(code, GraphQLError)
    message = '; '.join(str(error.get('message')) for error in errors)
    return error_class(message, code, extensions.get('field'), errors)


def _data(payload: Mapping[str, Any]) -> dict[str, Any]:
    if payload.get('errors'):
        raise _graphql_error(payload['errors'])
    return payload['data']


class Client:
    """A Mission Control server, spoken to as GraphQL over HTTP (queries) and Server-Sent Events (follow)."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0):
        """``url``: the server's address (``http://127.0.0.1:4000``, or its ``/graphql`` endpoint). ``token``: an API
        token (``npm run token -- create --name notebook``), by default ``$MC_TOKEN``; None sends none (a server on
        loopback that opted out of tokens). ``timeout``: seconds a request may take."""
        if not isinstance(url, str) or not url.startswith(('http://', 'https://')):
            raise ValueError(f'url must start with http:// or https:// (got {url!r})')
        base = url.rstrip('/')
        self.url = base if base.endswith('/graphql') else base + '/graphql'
        token = token if token is not None else os.environ.get('MC_TOKEN')
        self._auth = {'authorization': f'Bearer {token}'} if token else {}
        self.timeout = timeout

    def __repr__(self) -> str:
        return f'Client({self.url!r})'

    # -- transport --

    def _request(self, query: str, variables: Mapping[str, Any], accept: str) -> urllib.request.Request:
        body = json.dumps({'query': query, 'variables': dict(variables)}).encode()
        return urllib.request.Request(self.url, body, {'content-type': 'application/json', 'accept': accept, **self._auth})

    def _open(self, request: urllib.request.Request, timeout: float) -> Any:
        """The open response, or the server's refusal raised: 401 as AuthenticationError, GraphQL errors as such."""
        try:
            return urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as error:
            text = error.read().decode('utf-8', 'replace')
            try:
                errors = json.loads(text).get('errors')
            except (ValueError, AttributeError):
                errors = None
            if errors:
                refusal = _graphql_error(errors)
                raise (AuthenticationError(str(refusal), refusal.code, refusal.field, errors) if error.code == 401 else refusal) from None
            refusal_class = AuthenticationError if error.code == 401 else MissionControlError
            raise refusal_class(f'HTTP {error.code} from {self.url}: {text.strip()[:300]}') from None
        except urllib.error.URLError as error:
            raise MissionControlError(f'cannot reach {self.url}: {error.reason}') from None

    def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        """Any GraphQL query or mutation of schema/schema.graphql; returns its ``data``, raises its ``errors``."""
        with self._open(self._request(query, variables, 'application/json'), self.timeout) as response:
            return _data(json.load(response))

    def _subscribe(self, query: str, variables: Mapping[str, Any]) -> Any:
        """Opens a subscription as Server-Sent Events; it returns once the server has answered with the stream."""
        return self._open(self._request(query, variables, 'text/event-stream'), STREAM_IDLE_SECONDS)

    @staticmethod
    def _lines(stream: Any) -> Iterator[bytes]:
        try:
            yield from stream
        except (OSError, http.client.HTTPException) as error:
            # A socket timeout is an OSError too: the server pings every 12 s, so silence means the connection died.
            raise StreamEndedError(f'the event stream from {stream.url} broke off: {error}') from None

    @staticmethod
    def _events(stream: Any) -> Iterator[dict[str, Any]]:
        """Each event's ``data``, its errors raised, until the server completes the stream or closes it."""
        event, data = None, []
        for raw in Client._lines(stream):
            line = raw.decode('utf-8').rstrip('\r\n')
            if line.startswith(':'):
                continue  # a ping that keeps the connection open
            if line:
                name, _, value = line.partition(':')
                value = value[1:] if value.startswith(' ') else value
                if name == 'event':
                    event = value
                elif name == 'data':
                    data.append(value)
                continue
            if event == 'complete':
                return
            if data:
                yield _data(json.loads('\n'.join(data)))
            event, data = None, []

    # -- reading --

    def _project_id(self, project: int | str) -> int:
        if isinstance(project, bool) or not isinstance(project, (int, str)):
            raise TypeError(f'project must be a project id (int) or name (str), not {project!r}')
        if isinstance(project, int):
            return project
        projects = self.projects()
        matches = [known.id for known in projects if known.name == project]
        if not matches:
            names = ', '.join(known.name for known in projects) or 'none'
            raise NotFoundError(f'no project named "{project}" (projects: {names})')
        return matches[0]

    def projects(self) -> list[Project]:
        """The projects you launch from."""
        return [_read(Project, project) for project in self.graphql(PROJECTS_QUERY)['projects']]

    def jobs(self, state: str | Iterable[str] | None = None, cluster: str | None = None, project: int | str | None = None,
             search: str | None = None, sweep: int | Sweep | None = None, archived: bool | None = None,
             first: int = 50) -> list[Job]:
        """Jobs newest first, at most ``first``. ``state``: one JobState or several (``'RUNNING'``,
        ``['FAILED', 'TIMEOUT']``); ``search``: words in the name or description; ``sweep``: that sweep's tasks
        (every attempt); otherwise single launches. ``archived``: None for both."""
        states = [state] if isinstance(state, str) else list(state) if state is not None else None
        project_id = self._project_id(project) if project is not None else None
        sweep_id = _id(sweep) if sweep is not None else None
        given = {'states': states, 'cluster': cluster, 'projectId': project_id, 'search': search, 'sweepId': sweep_id, 'archived': archived}
        filter_ = {key: value for key, value in given.items() if value is not None}
        found: list[Job] = []
        after = None
        while len(found) < first:
            page = self.graphql(JOBS_QUERY, filter=filter_, first=min(first - len(found), JOBS_PAGE_SIZE), after=after)['jobs']
            found += [_read(Job, job) for job in page['nodes']]
            if not page['pageInfo']['hasNextPage']:
                break
            after = page['pageInfo']['endCursor']
        return found

    def job(self, job: int | Job) -> Job:
        """One job as it is now; NotFoundError when there is none by that id."""
        return _read(Job, _success(self.graphql(JOB_QUERY, id=_id(job))['job']))

    def metrics(self, job: int | Job, names: Sequence[str] | None = None, max_points: int = 500) -> dict[str, MetricSeries]:
        """The job's metric series by name (all when ``names`` is None), each at most ``max_points`` (2 to 5000).
        An ended job's files are read one last time within a few seconds of its end."""
        data = _success(self.graphql(METRICS_QUERY, id=_id(job), names=list(names) if names is not None else None, maxPoints=max_points)['job'])
        return {series['name']: _read(MetricSeries, series) for series in data['metrics']}

    def log(self, job: int | Job, tail_bytes: int = 65536, collapse_progress: bool = True) -> Log:
        """The end of the job's output, at most ``tail_bytes`` (1 kB to 4 MiB); progress bars collapsed to their
        last state unless asked otherwise. Each read runs a command on the cluster: RateLimitedError when too often."""
        data = _success(self.graphql(LOG_QUERY, id=_id(job), tailBytes=tail_bytes, collapseProgress=collapse_progress)['job'])
        return _read(Log, _success(data['log']))

    def sweep(self, sweep: int | Sweep) -> Sweep:
        """A sweep and its table: ``runs`` (each run's values of ``varying`` and its current task), ``counts``."""
        return _read(Sweep, _success(self.graphql(SWEEP_QUERY, id=_id(sweep))['sweep']))

    def sweep_metrics(self, sweep: int | Sweep, name: str, max_points: int = 200) -> dict[int, MetricSeries]:
        """One metric of every current task of a sweep, by run index (runs that wrote none are left out)."""
        data = _success(self.graphql(SWEEP_METRICS_QUERY, id=_id(sweep), name=name, maxPoints=max_points)['sweep'])
        return {entry['index']: _read(MetricSeries, entry['series']) for entry in data['metrics']}

    # -- launching --

    def _job_input(self, launch: Launch) -> dict[str, Any]:
        """The schema's JobInput for a launch: snake_case to camelCase, the maps to the schema's lists."""
        if not isinstance(launch, Launch):
            raise TypeError(f'expected a mission_control.Launch, not {type(launch).__name__}')
        job_input: dict[str, Any] = {'projectId': self._project_id(launch.project)}
        for field in dataclasses.fields(Launch):
            value = getattr(launch, field.name)
            if field.name in _LAUNCH_MAPS or value is None or (isinstance(value, (tuple, list)) and not value):
                continue
            job_input[_camel(field.name)] = list(value) if isinstance(value, tuple) else value
        if launch.parameters:
            job_input['parameters'] = [{'path': path.removeprefix('+'), 'value': value, 'add': path.startswith('+')} for path, value in launch.parameters.items()]
        if launch.groups:
            job_input['groups'] = [
                {'group': group, 'options': list(choice)} if isinstance(choice, (list, tuple)) else {'group': group, 'option': choice}
                for group, choice in launch.groups.items()
            ]
        if launch.depends_on:
            job_input['dependsOn'] = [_camel_keys(dependency) for dependency in launch.depends_on]
        if launch.resume is not None:
            job_input['resume'] = _camel_keys(launch.resume)
        return job_input

    def preview(self, launch: Launch) -> Preview:
        """The exact script a launch would submit, the commit it runs, warnings, and SLURM's preflight verdict.
        A refused value raises ValidationError naming its field; nothing is submitted."""
        job_input = self._job_input(launch)
        data = _success(self.graphql(PREVIEW_QUERY, input=job_input)['previewScript'])
        return dataclasses.replace(_read(Preview, data), input=job_input)

    def submit(self, preview: Preview) -> Job:
        """Submits exactly what ``preview`` showed: its input, on its commit (refused with ValidationError on
        ``commit`` when the repository's HEAD moved since), under its tag (a second submit of the same preview
        raises LaunchAlreadySubmittedError naming the job)."""
        if not isinstance(preview, Preview):
            raise TypeError(f'submit takes the Preview that preview() returned, not {type(preview).__name__}')
        result = self.graphql(SUBMIT_MUTATION, input={**preview.input, 'commit': preview.commit}, tag=preview.tag)['submitJob']
        return _read(Job, _success(result))

    def preview_sweep(self, launch: Launch, sweep: Sequence[str], throttle: int | None = None) -> SweepPreview:
        """A sweep's runs as Hydra's basic sweeper expands ``sweep`` (``['seed=1,2,3', 'model=resnet,vit']``), each
        checked as a single launch would be, and the one script its tasks run. ``throttle``: tasks at once."""
        _check_list('sweep', sweep, "one sweep override each (['seed=1,2,3', 'model=resnet,vit'])")
        sweep_input = {'job': self._job_input(launch), 'sweep': list(sweep), **({'throttle': throttle} if throttle is not None else {})}
        data = _success(self.graphql(PREVIEW_SWEEP_QUERY, input=sweep_input)['previewSweep'])
        return dataclasses.replace(_read(SweepPreview, data), input=sweep_input)

    def submit_sweep(self, preview: SweepPreview) -> Sweep:
        """Submits exactly what ``preview`` showed, as ONE SLURM job array."""
        if not isinstance(preview, SweepPreview):
            raise TypeError(f'submit_sweep takes the SweepPreview that preview_sweep() returned, not {type(preview).__name__}')
        sweep_input = {**preview.input, 'job': {**preview.input['job'], 'commit': preview.commit}}
        return _read(Sweep, _success(self.graphql(SUBMIT_SWEEP_MUTATION, input=sweep_input, tag=preview.tag)['submitSweep']))

    def cancel(self, job: int | Job) -> Job:
        """Cancels the job (scancel); returns it as it is then."""
        return _read(Job, _success(self.graphql(CANCEL_MUTATION, id=_id(job))['cancelJob']))

    # -- following --

    def follow(self, jobs: Iterable[int | Job]) -> Iterator[Job]:
        """Yields each job as it is now, then every change of it as it happens (Server-Sent Events), and stops once
        every job is in a final state. A job that ended before the call is yielded once, final. Raises
        StreamEndedError when the server closes the stream first (a restart): calling follow again picks up."""
        ids = list(dict.fromkeys(_id(job) for job in jobs))
        if not ids:
            return
        ended: set[int] = set()
        with self._subscribe(FOLLOW_SUBSCRIPTION, {'ids': ids}) as stream:
            # Subscribed first, then read once: an end that happened before the subscription is not announced again,
            # and one after it is not missed.
            for job_id in ids:
                job = self.job(job_id)
                yield job
                if job.final:
                    ended.add(job.id)
            if len(ended) == len(ids):
                return
            for data in self._events(stream):
                job = _read(Job, data['jobUpdated'])
                # An update sent before the read above may arrive after it: a job seen final stays final.
                if job.id in ended:
                    continue
                yield job
                if job.final:
                    ended.add(job.id)
                    if len(ended) == len(ids):
                        return
        raise StreamEndedError(f'the server closed the event stream before jobs {sorted(set(ids) - ended)} ended; follow them again to go on')
