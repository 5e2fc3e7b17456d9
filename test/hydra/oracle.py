"""Real Hydra 1.3.2 as the oracle our Hydra reader is compared against (test/hydra/oracle.ts is its client).

Run with Debian's /usr/bin/python3 and PYTHONPATH=<vendored hydra-core-1.3.2>. Requests are JSON objects, one per
line on stdin, each answered by one JSON line on stdout (so one process serves a whole suite):

  {"id": 1, "op": "compose", "config_dir": "/abs/conf", "config_name": "train", "overrides": ["model=vit"],
   "sys_path": ["/abs/app"], "entry": "/abs/app/my_app.py", "version_base": "1.3"}
    -> {"id": 1, "ok": true, "config": {...}, "choices": {"model": "vit", ...}}
     | {"id": 1, "ok": false, "error": "<Hydra's message>", "error_type": "MissingConfigException"}
  {"id": 2, "op": "parse", "overrides": ["a=1", "a=choice()"]}
    -> {"id": 2, "ok": true, "results": [{"override": "a=1", "ok": true, "key": "a", ...}, {"ok": false, "error": ...}]}

  {"id": 3, "op": "sweep", "overrides": ["seed=1,2", "model=glob(*)"], "params": {"lr": "0.1,0.2"},
   "group_options": {"model": ["resnet", "vit"]}}
    -> {"id": 3, "ok": true, "runs": [["lr=0.1", "seed=1", "model=resnet"], ...]}  (BasicSweeper's runs, nothing launched)
     | {"id": 3, "ok": false, "error": "BasicSweeper does not support sweep type : INTERVAL_SWEEP", ...}

One-shot use from a shell: `oracle.py compose <config_dir> <config_name> [override...]`, `oracle.py parse <override...>`.
"""
import copy
import io
import json
import math
import os
import runpy
import sys
import traceback
import warnings
from contextlib import redirect_stdout

# Hydra and OmegaConf print deprecation notes (version_base=None) that are not what a comparison is about.
warnings.simplefilter("ignore")

from omegaconf import OmegaConf  # noqa: E402

import hydra  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.core.config_store import ConfigStore  # noqa: E402
from hydra.core.global_hydra import GlobalHydra  # noqa: E402
from hydra.core.override_parser.overrides_parser import OverridesParser  # noqa: E402

_UNSET = object()

# Plugin discovery registers the basic launcher's and sweeper's configs in the ConfigStore once per process; it is done
# before the snapshot below so that restoring the snapshot keeps them.
from hydra.core.plugins import Plugins  # noqa: E402

Plugins.instance()

# The ConfigStore is a process-wide singleton: an entry script's registrations (structured configs) are dropped
# before the next request, so one app's schemas never leak into another app's composition.
# hydra-colorlog (a plugin many projects name in their hydra/ defaults, lightning-hydra-template among them) is not
# vendored; it only configures logging, which is in Hydra's own node, never in the app's config, so empty stand-ins
# let those projects compose.
for _group in ("hydra/job_logging", "hydra/hydra_logging"):
    ConfigStore.instance().store(group=_group, name="colorlog", node={}, provider="oracle stand-in for hydra-colorlog")
_STORE_AT_START = copy.deepcopy(ConfigStore.instance().repo)

_PARSER = OverridesParser.create()


def _json_safe(value):
    """Sweeps, globs and quoted strings become something JSON can carry; plain values stay as they are."""
    if isinstance(value, float) and not math.isfinite(value):
        # JSON has no NaN or infinity; Python's json writes them as bare words no JSON parser reads.
        return {"float": repr(value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    return {"repr": repr(value), "python_type": type(value).__name__}


def _reset_store():
    ConfigStore.instance().repo = copy.deepcopy(_STORE_AT_START)


def compose_request(request):
    config_dir = os.path.abspath(request["config_dir"])
    config_name = request.get("config_name")
    overrides = list(request.get("overrides") or [])
    version_base = request.get("version_base", _UNSET)
    if version_base is _UNSET:
        version_base = "1.3"
    _reset_store()
    added = [p for p in (request.get("sys_path") or []) if p not in sys.path]
    sys.path[0:0] = added
    try:
        entry = request.get("entry")
        if entry:
            # Imported, not run: `if __name__ == "__main__"` keeps @hydra.main from starting, while module-level
            # ConfigStore registrations (the app's structured configs) take place as they do when the app runs.
            runpy.run_path(entry, run_name="__hydra_oracle__")
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=config_dir, version_base=version_base, job_name="oracle"):
            cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
            choices = OmegaConf.to_container(cfg.hydra.runtime.choices, resolve=False)
            # What return_hydra_config=False would give: the app's config without Hydra's own node.
            with_hydra = OmegaConf.to_container(cfg, resolve=False)
            with_hydra.pop("hydra", None)
            # The choices leave out multi-valued group defaults (`site: [fb, google]`); the final defaults list has them.
            from hydra.types import RunMode

            loader = GlobalHydra.instance().config_loader()
            defaults = [
                {"config_path": d.config_path, "package": d.package, "parent": d.parent, "override_key": d.override_key, "is_self": d.is_self, "primary": d.primary}
                for d in loader.compute_defaults_list(config_name, overrides, RunMode.RUN).defaults
            ]
        return {"ok": True, "config": _json_safe(with_hydra), "choices": _json_safe(choices), "defaults": defaults}
    except Exception as error:  # Hydra's refusal is the answer, not a failure of the oracle
        return {"ok": False, "error": str(error), "error_type": type(error).__name__}
    finally:
        GlobalHydra.instance().clear()
        for p in added:
            if p in sys.path:
                sys.path.remove(p)


def parse_one(text):
    try:
        [override] = _PARSER.parse_overrides([text])
    except Exception as error:
        return {"override": text, "ok": False, "error": str(error), "error_type": type(error).__name__}
    try:
        value = override.value()
    except Exception:  # a deletion without a value
        value = None
    if override.is_sweep_override():
        value_text = str(value) if value is not None else None
    else:
        try:
            value_text = override.get_value_element_as_str() if value is not None else None
        except Exception:
            value_text = None
    return {
        "override": text,
        "ok": True,
        "key": override.key_or_group,
        "package": override.package,
        "override_type": override.type.name,  # CHANGE, ADD (+), FORCE_ADD (++), DEL (~)
        "value_type": override.value_type.name if override.value_type is not None else None,  # ELEMENT, CHOICE_SWEEP, ...
        "value": _json_safe(value),
        "value_python_type": type(value).__name__,
        "value_text": value_text,
        "is_sweep": override.is_sweep_override(),
    }


def parse_request(request):
    return {"ok": True, "results": [parse_one(text) for text in request.get("overrides") or []]}


class _GroupOptions:
    """The one ConfigLoader method a glob() sweep calls: the options of a config group, as the request lists them."""

    def __init__(self, options):
        self.options = options or {}

    def get_group_options(self, group_name, results_filter=None, config_name=None, overrides=None):
        return list(self.options.get(group_name, []))


def sweep_request(request):
    """What BasicSweeper.sweep computes before launching: params first, then the arguments, split into runs."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    sweeper = BasicSweeper(max_batch_size=None, params=request.get("params") or None)
    arguments = sweeper._parse_config() + list(request.get("overrides") or [])
    try:
        parser = OverridesParser.create(config_loader=_GroupOptions(request.get("group_options")))
        overrides = parser.parse_overrides(arguments)
        [runs] = BasicSweeper.split_arguments(overrides, None)
    except Exception as error:
        return {"ok": False, "error": str(error), "error_type": type(error).__name__}
    return {"ok": True, "runs": runs}


def handle(request):
    op = request.get("op")
    if op == "compose":
        return compose_request(request)
    if op == "parse":
        return parse_request(request)
    if op == "sweep":
        return sweep_request(request)
    if op == "version":
        return {"ok": True, "hydra": hydra.__version__, "omegaconf": __import__("omegaconf").__version__, "python": sys.version.split()[0]}
    return {"ok": False, "error": f"unknown op {op!r}; expected compose, parse, sweep or version", "error_type": "OracleError"}


def answer(request, out):
    # Anything the app or Hydra prints goes to stderr: stdout carries the protocol only.
    with redirect_stdout(sys.stderr):
        try:
            reply = handle(request)
        except Exception as error:
            reply = {"ok": False, "error": f"oracle failure: {error}", "error_type": "OracleError", "trace": traceback.format_exc()}
    if isinstance(request, dict) and "id" in request:
        reply["id"] = request["id"]
    out.write(json.dumps(reply) + "\n")
    out.flush()


def main(argv):
    out = sys.stdout
    if len(argv) >= 2 and argv[1] == "compose":
        if len(argv) < 4:
            sys.exit("usage: oracle.py compose <config_dir> <config_name> [override...]")
        answer({"op": "compose", "config_dir": argv[2], "config_name": argv[3], "overrides": argv[4:]}, out)
        return
    if len(argv) >= 2 and argv[1] == "parse":
        answer({"op": "parse", "overrides": argv[2:]}, out)
        return
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            request = json.loads(line)
        except ValueError as error:
            out.write(json.dumps({"ok": False, "error": f"not JSON: {error}", "error_type": "OracleError"}) + "\n")
            out.flush()
            continue
        answer(request, out)


if __name__ == "__main__":
    main(sys.argv)
