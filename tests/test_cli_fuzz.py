"""CLI fuzzing: every subcommand and every flag, read from the argparse parsers.

Each invocation is a valid base (the required flags, with values built from
their types) with one flag given a bad value: a wrong type, a value out of
range, a missing, unreadable or unwritable path, or a file where a folder is
expected (and the reverse). It must end with exit status 2 and one line on
stderr, ``difsched CMD: error: ...``, that names the flag and says what is
accepted; no traceback and nothing written. Commands run in-process with
their ``run`` replaced by a tripwire: a bad value must be refused by the
argument types or the command's ``check``, before any work. A new subcommand
or flag is fuzzed without touching this file, as long as its type comes from
`difsched_jax.cli.types` (else `test_every_flag_has_a_fuzz_strategy` fails).

Permission cases (unreadable, unwritable) run as user nobody (seteuid) when
the tests run as root, who is refused nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from difsched_jax import cli, paths
from difsched_jax.cli import settings as cli_settings
from difsched_jax.cli import types as T
from difsched_jax.evaluate.registry import BUILDERS, FOLDER_KINDS

COMMANDS = cli.build_parser().commands  # name -> parser
MODULES = {m.__name__.rsplit(".", 1)[1].replace("_", "-"): m for m in cli.COMMANDS}
FUZZ = settings(
    max_examples=50,
    deadline=None,
    database=None,  # nothing written, even by hypothesis (some cases run as nobody)
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
NOBODY = 65534
PERMISSION_CASES = {"unreadable", "unwritable", "read-only file", "read-only folder"}


def _actions(parser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]


def _name(action) -> str:
    return action.option_strings[-1] if action.option_strings else action.dest


FLAGS = [(cmd, _name(a)) for cmd, p in COMMANDS.items() for a in _actions(p)]


def _action(cmd: str, name: str) -> argparse.Action:
    return next(a for a in _actions(COMMANDS[cmd]) if _name(a) == name)


# --- the workspace: every kind of path a flag may be given ----------------------


class Workspace:
    """A folder of paths of each kind, writable by nobody, checked for changes."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="difsched-fuzz-")
        r = self.root
        self.dir, self.file = os.path.join(r, "dir"), os.path.join(r, "file")
        self.locked_dir, self.ro_dir = os.path.join(r, "locked_dir"), os.path.join(r, "ro_dir")
        self.locked_file, self.ro_file = os.path.join(r, "locked_file"), os.path.join(r, "ro_file")
        self.cwd, self.data = os.path.join(r, "cwd"), os.path.join(r, "data")  # data: not made
        for d in (self.dir, self.locked_dir, self.ro_dir, self.cwd):
            os.mkdir(d)
        for f in (self.file, self.locked_file, self.ro_file):
            with open(f, "w") as fh:
                fh.write("not what any command reads\n")
        for path, mode in ((r, 0o777), (self.cwd, 0o777), (self.locked_dir, 0), (self.ro_dir, 0o555),
                           (self.locked_file, 0), (self.ro_file, 0o444)):  # fmt: skip
            os.chmod(path, mode)

    def snapshot(self) -> list:
        out = []
        for top, dirs, files in os.walk(self.root):
            for name in dirs + files:
                st_ = os.lstat(os.path.join(top, name))
                out.append((os.path.relpath(os.path.join(top, name), self.root), st_.st_size,
                            stat.S_IMODE(st_.st_mode)))  # fmt: skip
        return sorted(out)

    def remove(self) -> None:
        for path in (self.locked_dir, self.ro_dir, self.locked_file, self.ro_file):
            os.chmod(path, 0o700)
        shutil.rmtree(self.root)

    def good(self, action) -> str | None:
        """A value its type accepts (None: the flag is left out of the base)."""
        kind = action.type
        if action.choices is not None:
            return list(action.choices)[0]
        if isinstance(kind, T.ConfigIndex):
            return str(kind.known[0])
        if isinstance(kind, T.Int):
            return str(kind.lo)
        if isinstance(kind, T.Float):
            return str(kind.lo + 0.5 if kind.lo_open else kind.lo)
        if isinstance(kind, T.Names):
            return kind.known[0]
        if isinstance(kind, T.InDir):
            return self.dir
        if isinstance(kind, T.InFile):
            return self.file
        if isinstance(kind, (T.OutDir, T.OutFile)):
            return os.path.join(self.root, f"new-{action.dest}")
        if isinstance(kind, T.PolicyList):
            return "equal"
        if isinstance(kind, T.HostPort):
            return "127.0.0.1:1234"
        return None

    def paths_for(self, kind) -> dict[str, str]:
        """case -> a path its type must refuse."""
        r, missing = self.root, os.path.join(self.root, "missing", "x")
        under_file = os.path.join(self.file, "sub")
        if isinstance(kind, T.InDir):
            return {"missing": missing, "a file": self.file, "unreadable": self.locked_dir,
                    "empty": "", "under a file": under_file}  # fmt: skip
        if isinstance(kind, T.InFile):
            out = {"missing": missing, "a folder": self.dir, "unreadable": self.locked_file,
                   "empty": ""}  # fmt: skip
            return {**out, "read-only file": self.ro_file} if kind.write else out
        if isinstance(kind, T.OutDir):
            return {"a file": self.file, "under a file": under_file, "empty": "",
                    "unwritable": os.path.join(self.ro_dir, "new"), "read-only folder":
                    self.ro_dir, "unreadable": os.path.join(self.locked_dir, "new")}  # fmt: skip
        if isinstance(kind, T.OutFile):
            return {"a folder": self.dir, "under a file": under_file, "empty": "",
                    "unwritable": os.path.join(self.ro_dir, "new.out"),
                    "read-only file": self.ro_file, "root folder": r}  # fmt: skip
        return {}


@pytest.fixture(scope="module")
def ws():
    w = Workspace()
    yield w
    w.remove()


class Tripwire(AssertionError):
    pass


@pytest.fixture(scope="module")
def fuzzing(ws):
    """Every command's run() replaced by a tripwire; data/ and the working folder in ws."""
    with pytest.MonkeyPatch.context() as mp:
        for module in cli.COMMANDS:

            def tripwire(args, _name=module.__name__):
                raise Tripwire(f"{_name}: validation accepted {vars(args)}")

            mp.setattr(module, "run", tripwire)
        mp.setenv(paths.ENV_VAR, ws.data)
        mp.chdir(ws.cwd)
        for cmd in COMMANDS:  # import what the checks need, as root
            with contextlib.suppress(Tripwire):
                cli.main([cmd, *base_argv(ws, cmd)])
        yield ws


def base_argv(ws: Workspace, cmd: str, skip: str | None = None) -> list[str]:
    """Every required flag (and those required unless --resume) with a good value."""
    parser = COMMANDS[cmd]
    needs = set(parser.get_default("needs") or ())
    argv, positional = [], []
    for action in _actions(parser):
        if _name(action) == skip:
            continue
        if action.option_strings and not (action.required or action.dest in needs):
            continue
        value = ws.good(action)
        assert value is not None, f"{cmd} {_name(action)}: no good value for a required flag"
        if action.option_strings:
            argv.append(f"{_name(action)}={value}")
        else:
            positional.append(value)
    return positional + argv


@contextlib.contextmanager
def as_nobody(case: str):
    """Permission cases as an unprivileged user when running as root."""
    if case not in PERMISSION_CASES or os.geteuid() != 0:
        yield
        return
    try:
        os.setegid(NOBODY)
        os.seteuid(NOBODY)
    except PermissionError:  # root without CAP_SETUID (a user namespace)
        os.setegid(0)
        pytest.skip("cannot drop privileges to try unreadable and unwritable paths")
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def refused(ws, capsys, cmd: str, argv: list[str], names: str, accepted: tuple[str, ...],
            case: str = "") -> str:  # fmt: skip
    """Run; assert exit 2, one line naming `names` and one of `accepted`, nothing written."""
    before = ws.snapshot()
    capsys.readouterr()
    with as_nobody(case):
        rc = cli.main(argv)
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert rc == 2, (argv, rc, err)
    assert len(lines) == 1 and "Traceback" not in err, (argv, err)
    line = lines[0]
    assert line.startswith(f"difsched {cmd}: error: " if cmd else "difsched"), (argv, line)
    assert names in line, (argv, f"does not name {names}", line)
    assert any(a in line for a in accepted), (argv, f"says none of {accepted}", line)
    assert out == "", (argv, out)
    assert ws.snapshot() == before and not os.path.exists(ws.data), (argv, "wrote something")
    return line


# --- bad values by type (the fuzzer's own idea of what each type accepts) --------

INT_TEXT = re.compile(r"\s*[+-]?[0-9]+\s*")


def _float_ok(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _float_text(x: float) -> str:
    return repr(float(x))


not_int = st.one_of(
    st.text(max_size=12).filter(lambda s: not INT_TEXT.fullmatch(s)),
    st.sampled_from(["1.5", "1e3", "0x10", "nan", "", "٣", "1 2", "--", "²"]),
)
not_float = st.one_of(
    st.text(max_size=12).filter(lambda s: not _float_ok(s)),
    st.sampled_from(["nan", "inf", "-inf", "", "1,5", "0x1p3"]),
)


def bad_values(action) -> st.SearchStrategy[str] | None:
    kind, choices = action.type, action.choices
    if isinstance(action, argparse._StoreTrueAction):
        return st.text(max_size=8)  # given as --flag=VALUE
    if choices is not None:
        return st.text(max_size=12).filter(lambda s: s not in choices)
    if isinstance(kind, T.ConfigIndex):
        return st.one_of(not_int, st.integers().filter(lambda i: i not in kind.known).map(str))
    if isinstance(kind, T.Int):
        low = st.integers(max_value=kind.lo - 1).map(str)
        high = st.integers(min_value=kind.hi + 1).map(str) if kind.hi is not None else st.nothing()
        return st.one_of(not_int, low, high)
    if isinstance(kind, T.Float):
        floats = dict(allow_nan=False, allow_infinity=False)
        low = st.floats(max_value=kind.lo, **floats).filter(
            lambda x: x < kind.lo or (kind.lo_open and x == kind.lo)
        )
        high = st.nothing()
        if kind.hi is not None:
            high = st.floats(min_value=kind.hi, **floats).filter(
                lambda x: x > kind.hi or (kind.hi_open and x == kind.hi)
            )
        return st.one_of(not_float, low.map(_float_text), high.map(_float_text))
    if isinstance(kind, T.Names):

        def bad(s):
            items = [n.strip() for n in s.split(",") if n.strip()]
            return not items or any(n not in kind.known for n in items)

        mixed = st.text(min_size=1, max_size=6).map(lambda s: f"{kind.known[0]},{s}")
        return st.one_of(st.text(max_size=12), mixed).filter(bad)
    if isinstance(kind, T.HostPort):

        def valid(s):
            host, sep, port = s.rpartition(":")
            return bool(
                sep and host.strip() and re.fullmatch("[0-9]+", port) and 0 < int(port) < 65536
            )

        fixed = st.sampled_from(["nohost", "h:0", "h:65536", ":80", "h:", "h:port", "h:-1"])
        return st.one_of(fixed, st.text(max_size=16).filter(lambda s: not valid(s)))
    if isinstance(kind, T.PolicyList):
        unknown = st.text(min_size=1, max_size=10).filter(
            lambda s: s.strip() and s.strip().partition(":")[0] not in BUILDERS and "," not in s
        )
        builtins = sorted(set(BUILDERS) - set(FOLDER_KINDS))
        with_arg = st.sampled_from(builtins).map(lambda b: f"{b}:x")
        no_folder = st.sampled_from(sorted(FOLDER_KINDS)).flatmap(
            lambda k: st.sampled_from([k, f"{k}:", f"{k}:/nonexistent-fuzz-dir"])
        )
        fixed = st.sampled_from(["", ",", "equal,equal", "oracle, oracle"])
        return st.one_of(unknown, with_arg, no_folder, fixed)
    if isinstance(kind, cli_settings.SetItem):
        no_eq = st.text(max_size=12).filter(
            lambda s: "=" not in s or not s.partition("=")[0].strip()
        )
        not_json = st.text(max_size=8).filter(lambda s: not _json_ok(s)).map(lambda s: f"lr={s}")
        unknown = st.from_regex(r"[a-z_]{1,10}", fullmatch=True).map(lambda s: f"bogus_{s}=1")
        return st.one_of(no_eq, not_json, unknown)
    return None


def _json_ok(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


def accepted_words(action) -> tuple[str, ...]:
    """Words of the error line that say what the flag accepts."""
    kind = action.type
    if isinstance(action, argparse._StoreTrueAction):
        return ("without a value",)
    if action.choices is not None:
        return ("choose from",)
    if isinstance(kind, T.ConfigIndex):
        return ("known:",)
    if isinstance(kind, T.Int):
        return ("must be an integer",)
    if isinstance(kind, T.Float):
        return ("must be a finite number",)
    if isinstance(kind, (T.Names, T.PolicyList)):
        return ("known:", "more than once", "takes no ':'", "needs", "expected")
    if isinstance(kind, T.HostPort):
        return ("HOST:PORT",)
    if isinstance(kind, cli_settings.SetItem):
        return ("KEY=JSON", "is not JSON", "accepted keys:")
    return ("expected",)  # paths: "expected a dataset folder" ...


def edge_values(action) -> list[str]:
    """Just outside the accepted range (hypothesis may not land there)."""
    kind = action.type
    if isinstance(kind, T.ConfigIndex):
        return [str(kind.known[0] - 1), str(kind.known[-1] + 1)]
    if isinstance(kind, T.Int):
        return [str(kind.lo - 1)] + ([] if kind.hi is None else [str(kind.hi + 1)])
    if isinstance(kind, T.Float):
        lo = kind.lo if kind.lo_open else math.nextafter(kind.lo, -math.inf)
        if kind.hi is None:
            return [_float_text(lo)]
        hi = kind.hi if kind.hi_open else math.nextafter(kind.hi, math.inf)
        return [_float_text(lo), _float_text(hi)]
    if action.choices is not None:
        return ["", list(action.choices)[0].upper() + "x"]
    if isinstance(kind, T.Names):
        return ["", ",", f"{kind.known[0]},nope"]
    return []


PATH_TYPES = (T.InDir, T.InFile, T.OutDir, T.OutFile)


def test_every_flag_has_a_fuzz_strategy():
    missing = [f"{cmd} {name}" for cmd, name in FLAGS
               if bad_values(_action(cmd, name)) is None
               and not isinstance(_action(cmd, name).type, PATH_TYPES)]  # fmt: skip
    assert not missing, f"flags without a type from difsched_jax.cli.types: {missing}"
    assert set(COMMANDS) == set(MODULES), "every subcommand is a module of cli.COMMANDS"


@pytest.mark.usefixtures("fuzzing")
class TestFuzz:
    def test_base_invocations_pass_validation(self, ws):
        for cmd in COMMANDS:  # so each case below fails for its one bad flag
            with pytest.raises(Tripwire):
                cli.main([cmd, *base_argv(ws, cmd)])

    @pytest.mark.parametrize("cmd, name", [f for f in FLAGS if not isinstance(
        _action(*f).type, PATH_TYPES)])  # fmt: skip
    @FUZZ
    @given(data=st.data())
    def test_bad_value(self, ws, capsys, cmd, name, data):
        action = _action(cmd, name)
        value = data.draw(bad_values(action), label="value")
        argv = [cmd, *base_argv(ws, cmd, skip=name)]
        if action.option_strings:
            argv.append(f"{name}={value}")
        else:
            argv.insert(1 + [a.dest for a in _actions(COMMANDS[cmd]) if not a.option_strings]
                        .index(action.dest), value)  # fmt: skip
        refused(ws, capsys, cmd, argv, name, accepted_words(action))

    @pytest.mark.parametrize("cmd", sorted(COMMANDS))
    def test_values_just_out_of_range(self, ws, capsys, cmd):
        for action in _actions(COMMANDS[cmd]):
            name = _name(action)
            for value in edge_values(action):
                argv = [cmd, *base_argv(ws, cmd, skip=name), f"{name}={value}"]
                refused(ws, capsys, cmd, argv, name, accepted_words(action))

    @pytest.mark.parametrize("cmd, name", [f for f in FLAGS if isinstance(
        _action(*f).type, PATH_TYPES)])  # fmt: skip
    def test_bad_path(self, ws, capsys, cmd, name):
        action = _action(cmd, name)
        cases = ws.paths_for(action.type)
        assert cases, (cmd, name)
        positionals = [a.dest for a in _actions(COMMANDS[cmd]) if not a.option_strings]
        for case, path in cases.items():
            argv = [cmd, *base_argv(ws, cmd, skip=name)]
            if action.option_strings:
                argv.append(f"{name}={path}")
            else:
                argv.insert(1 + positionals.index(action.dest), path)
            line = refused(ws, capsys, cmd, argv, name, ("expected", "cannot create"), case)
            assert (case in PERMISSION_CASES) == ("permission denied" in line), (case, line)

    @pytest.mark.parametrize("cmd", sorted(COMMANDS))
    def test_missing_required_flag(self, ws, capsys, cmd):
        parser = COMMANDS[cmd]
        needs = set(parser.get_default("needs") or ())
        for action in _actions(parser):
            if action.required or action.dest in needs:
                argv = [cmd, *base_argv(ws, cmd, skip=_name(action))]
                if action.option_strings:
                    refused(ws, capsys, cmd, argv, _name(action), ("required",))
                else:  # the next positional takes its place
                    refused(ws, capsys, cmd, argv, "argument", ("required", "expected"))

    @FUZZ
    @given(
        cmd=st.sampled_from(sorted(COMMANDS)),
        flag=st.from_regex(r"--[a-z][a-z-]{0,12}", fullmatch=True),
    )
    def test_unknown_flag(self, ws, capsys, cmd, flag):
        known = COMMANDS[cmd].accepted_flags()
        if any(k.startswith(flag) for k in [*known, "--help"]):  # a flag or an abbreviation
            return
        line = refused(ws, capsys, cmd, [cmd, *base_argv(ws, cmd), flag], flag, ("accepted:",))
        assert all(k in line for k in known)

    @FUZZ
    @given(name=st.text(max_size=12).filter(lambda s: s not in COMMANDS and not s.startswith("-")))
    def test_unknown_command(self, ws, capsys, name):
        refused(ws, capsys, "", [name], "invalid choice", ("choose from",))

    @pytest.mark.parametrize("cmd", ["train", "train-drl"])
    @settings(max_examples=40, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(data=st.data())
    def test_set_value_of_the_wrong_kind(self, ws, capsys, cmd, data):
        module = MODULES[cmd]
        accepted = module.accepted_settings() if cmd == "train" else module.accepted_settings("ppo")
        key = data.draw(st.sampled_from(sorted(accepted)), label="key")
        value = data.draw(st.sampled_from(WRONG_KINDS[accepted[key].kind]), label="value")
        if value is None and accepted[key].optional:
            return
        argv = [cmd, *base_argv(ws, cmd), f"--set={key}={json.dumps(value)}"]
        refused(ws, capsys, cmd, argv, f"--set {key}", ("expected",))


# values each kind of --set field must refuse (JSON)
_ANY = ["x", 1.5, True, None, [1], {"a": 1}, 7, [1.5], ["a"]]
WRONG_KINDS = {
    "bool": [v for v in _ANY if not isinstance(v, bool)],
    "int": [v for v in _ANY if not (isinstance(v, int) and not isinstance(v, bool))],
    "float": [v for v in _ANY if isinstance(v, (str, bool, list, dict)) or v is None],
    "str": [v for v in _ANY if not isinstance(v, str)],
    "int list": [
        v
        for v in _ANY
        if not (
            isinstance(v, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in v)
        )
    ],  # fmt: skip
    "list": [v for v in _ANY if not isinstance(v, list)],
    "dict": [v for v in _ANY if not isinstance(v, dict)],
}


# --- the cases of issue 14, for real: no tripwire, nothing replaced ----------------


def test_gen_dataset_out_is_an_existing_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(paths.ENV_VAR, str(tmp_path / "data"))
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    rc = cli.main(["gen-dataset", "--dataset-config", "0", "--slices", "2", "--windows", "4",
                   "--no-progress", "--out", str(afile)])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"argument --out: {afile} is a file, not a folder" in err
    assert afile.read_text() == "keep me" and sorted(os.listdir(tmp_path)) == ["afile"]


def test_train_unknown_set_key(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--exp-config", "0", "--dataset", str(tmp_path), "--out", str(out),
            "--set", "bogus_key=1"]  # fmt: skip
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("difsched train: error: --set bogus_key: unknown setting")
    assert "accepted keys:" in err and "updates_per_episode" in err and "beta_max" in err
    assert err.count("\n") == 1 and not out.exists()


def test_a_real_process_gives_one_line(tmp_path):
    """`python -m difsched_jax.cli` as a user runs it: exit 2, one line, no traceback."""
    afile = tmp_path / "afile"
    afile.write_text("")
    proc = subprocess.run(
        [sys.executable, "-m", "difsched_jax.cli", "gen-dataset", "--dataset-config", "0",
         "--out", str(afile)],  # fmt: skip
        capture_output=True, text=True, timeout=120, env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"difsched gen-dataset: error: argument --out: {afile} is a file, not a folder "
        "(expected a dataset folder)"
    ]


@pytest.mark.parametrize("cmd", ["train", "train-drl"])
@pytest.mark.parametrize("text", ["{", '{"bogus_field": 1}', "[]"])
def test_resume_from_damaged_run_settings(tmp_path, capsys, cmd, text):
    (tmp_path / "config.json").write_text(text)
    assert cli.main([cmd, "--resume", "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"difsched {cmd}: error: {tmp_path}/config.json"), err
    assert sorted(os.listdir(tmp_path)) == ["config.json"]
