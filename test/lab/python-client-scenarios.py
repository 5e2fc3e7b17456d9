"""What test/lab/python-client.test.ts asks of clients/python/mission_control.py, run by Debian's python3 against a
server on the lab. `python3 python-client-scenarios.py <scenario>` prints one JSON line of what happened; the test
compares it with what the server says over GraphQL. Environment: MC_URL, MC_TOKEN, MC_PROJECT (the project's name)."""

import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'clients', 'python'))
import mission_control as mc  # noqa: E402

URL = os.environ['MC_URL']
PROJECT = os.environ['MC_PROJECT']


def launch(**parameters):
    return mc.Launch(project=PROJECT, cluster='lab', primary='train', memory='200M', time_limit='5:00', parameters=parameters)


def finite_or_name(value):
    """JSON has no NaN: a non-finite value as Python names it."""
    return value if math.isfinite(value) else repr(value)


def wait_for(read, done, seconds=30):
    """read() again until done(value): an ended job's files are read one last time a few seconds after its end."""
    deadline = time.monotonic() + seconds
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.5)
        value = read()
    return value


def single_launch():
    client = mc.Client(URL)
    preview = client.preview(launch(sleep_seconds=3, epochs=2, nan_at_step=8))
    job = client.submit(preview)
    updates = [[update.id, update.state, update.exit_code] for update in client.follow([job])]
    # Ended before this follow subscribed: yielded once, as it is, and the follow stops.
    again = [[update.id, update.state] for update in client.follow([job.id])]
    series = wait_for(lambda: client.metrics(job, names=['train_loss']), lambda found: found.get('train_loss') and found['train_loss'].total == 10)
    log = client.log(job, tail_bytes=4096)
    # Pages of one job each, to read the first three as one page of three does.
    mc.JOBS_PAGE_SIZE = 1
    paged = [listed.id for listed in client.jobs(first=3)]
    return {
        'preview': {'tag': preview.tag, 'commit': preview.commit, 'script': preview.script, 'warnings': preview.warnings,
                    'preflight': preview.preflight.outcome, 'preflightNodes': preview.preflight.nodes},
        'submitted': {'id': job.id, 'tag': job.tag, 'state': job.state},
        'updates': updates,
        'again': again,
        'job': {'id': job.id, 'final': client.job(job).final, 'endedAt': client.job(job.id).ended_at.timestamp()},
        'trainLoss': {'total': series['train_loss'].total, 'steps': series['train_loss'].steps,
                      'values': [finite_or_name(value) for value in series['train_loss'].values]},
        'log': {'end': log.text[-300:], 'truncated': log.truncated, 'sizeBytes': log.size_bytes},
        'paged': paged,
        'completed': [listed.id for listed in client.jobs(state='COMPLETED', project=PROJECT, first=50)],
        'searched': [listed.id for listed in client.jobs(search='no-such-words-anywhere')],
    }


def sweep():
    client = mc.Client(URL)
    preview = client.preview_sweep(launch(sleep_seconds=1), ['seed=1,2'], throttle=2)
    submitted = client.submit_sweep(preview)
    updates = [[update.id, update.array_index, update.state] for update in client.follow(submitted.tasks)]
    # A task's exit code can come a poll after its end (from accounting once the queue no longer shows it).
    # A task's exit code comes from accounting, asked by the poll after its end: up to a poll interval (the lab's is the
    # default 30 s, with jitter) after the end the queue reported; CI under load once waited past 30 s.
    table = wait_for(lambda: client.sweep(submitted.id), lambda found: found.ended_at is not None and all(run.task.exit_code is not None for run in found.runs), seconds=75)
    curves = wait_for(lambda: client.sweep_metrics(submitted, 'train_loss'), lambda found: len(found) == 2 and all(series.total == 5 for series in found.values()))
    return {
        'preview': {'tag': preview.tag, 'count': preview.count, 'varying': preview.varying, 'throttle': preview.throttle,
                    'runs': [run.overrides for run in preview.runs], 'script': preview.script},
        'submitted': {'id': submitted.id, 'tag': submitted.tag, 'arrayJobId': submitted.array_job_id, 'tasks': [task.id for task in submitted.tasks]},
        'updates': updates,
        'table': {'state': table.state, 'varying': table.varying, 'counts': {count.state: count.count for count in table.counts},
                  'runs': [[run.index, run.values, run.task.state, run.task.exit_code] for run in table.runs]},
        'tasks': [listed.id for listed in client.jobs(sweep=submitted.id)],
        'curves': {index: series.values[-1] for index, series in curves.items()},
    }


def refusal(call):
    """What the call raised, as the test compares it."""
    try:
        call()
    except Exception as error:  # noqa: BLE001 (the test checks the class)
        return {'class': type(error).__name__, 'bases': [base.__name__ for base in type(error).__mro__],
                'message': str(error), 'typename': getattr(error, 'typename', None), 'field': getattr(error, 'field', None),
                'code': getattr(error, 'code', None), 'details': getattr(error, 'details', None)}
    return {'class': None}


def refusals():
    client = mc.Client(URL)
    read_only = mc.Client(URL, token=os.environ['MC_READ_ONLY_TOKEN'])
    preview = read_only.preview(launch())
    return {
        'unknownCluster': refusal(lambda: client.preview(mc.Launch(project=PROJECT, cluster='no-such-cluster'))),
        'badMemory': refusal(lambda: client.preview(mc.Launch(project=PROJECT, cluster='lab', memory='lots'))),
        'unknownJob': refusal(lambda: client.job(987654)),
        'unknownProject': refusal(lambda: client.jobs(project='no-such-project')),
        'badToken': refusal(lambda: mc.Client(URL, token='mc_not-a-token').jobs()),
        'readOnlySubmit': refusal(lambda: read_only.submit(preview)),
        'badQuery': refusal(lambda: client.graphql('{ jobs { nodes { no_such_field } } }')),
        'badFilter': refusal(lambda: client.jobs(search='x' * 501)),
        'secondSubmit': refusal(lambda: [client.submit(preview) for _ in range(2)]),
        'unreachable': refusal(lambda: mc.Client('http://127.0.0.1:1').jobs()),
        'badUrl': refusal(lambda: mc.Client('127.0.0.1:4000')),
        'submitWithoutPreview': refusal(lambda: client.submit(launch())),
        'unknownLaunchField': refusal(lambda: mc.Launch(project=PROJECT, cluster='lab', gpus=2)),
        'overridesAsText': refusal(lambda: mc.Launch(project=PROJECT, cluster='lab', overrides='seed=1')),
        'sweepAsText': refusal(lambda: client.preview_sweep(launch(), 'seed=1,2')),
    }


def revoked():
    """Follows a long job with MC_TOKEN, which the test revokes once the first line is out; then cancels the job
    with MC_SECOND_TOKEN. Prints a line per update as it comes, and the outcome last."""
    job = mc.Client(URL).submit(mc.Client(URL).preview(launch(sleep_seconds=120)))
    print(json.dumps({'following': job.id}), flush=True)
    outcome = refusal(lambda: [print(json.dumps({'update': update.state}), flush=True) for update in mc.Client(URL).follow([job])])
    cancelled = mc.Client(URL, token=os.environ['MC_SECOND_TOKEN']).cancel(job)
    return {'jobId': job.id, 'outcome': outcome, 'cancelled': cancelled.state}


if __name__ == '__main__':
    print(json.dumps({'single-launch': single_launch, 'sweep': sweep, 'refusals': refusals, 'revoked': revoked}[sys.argv[1]]()))
