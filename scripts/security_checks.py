#!/usr/bin/env python3
"""The security checks `make test` runs: ruff's bandit rules, pip-audit over the installed venv
and npm audit over package-lock.json, each finding checked against a reviewed allow-list
(security-allowlist.toml).

Exit 0 only when every check ran AND found nothing that is not allowed. A vulnerability service
that cannot be reached is retried, then reported as a failure: "could not check" is never
"nothing found". Set HOMEWARD_SECURITY_UNREACHABLE=warn to turn only that case into a loud
warning (for a machine that cannot reach the advisory services; see docs/operations/deployment.md).

    .venv/bin/python scripts/security_checks.py [--only ruff|pip|npm]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALLOWLIST = ROOT / "security-allowlist.toml"
TRIES = 3  # a first try and two retries
RETRY_PAUSE = 2.0  # seconds
# An allowed finding must be looked at again at least this often: a "won't affect us" judged a
# year ago may no longer hold (the code, or what the advisory covers, has changed since).
REVIEW_EVERY = timedelta(days=180)


class Unreachable(Exception):
    """The vulnerability service did not answer: nothing was checked."""


@dataclass(frozen=True)
class Finding:
    tool: str
    package: str
    version: str
    ids: frozenset[str]  # the advisory's id and its aliases (CVE, GHSA, PYSEC)
    summary: str

    def describe(self) -> str:
        return f"{self.package} {self.version}: {', '.join(sorted(self.ids))} ({self.summary})"


@dataclass(frozen=True)
class Allowed:
    tool: str
    id: str
    package: str
    why: str
    reviewed: date


# ---------------------------------------------------------------- allow-list


def load_allowlist(path: Path = ALLOWLIST, today: date | None = None) -> list[Allowed]:
    """Every entry, each with id, package, why and reviewed; a malformed or stale entry is an
    error (an allow-list nobody reviews is a way to switch the check off)."""
    today = today or date.today()
    data = tomllib.loads(path.read_text()) if path.exists() else {}
    entries: list[Allowed] = []
    problems: list[str] = []
    for tool in ("pip", "npm"):
        for n, raw in enumerate(data.get(tool, []), 1):
            missing = [k for k in ("id", "package", "why", "reviewed") if not raw.get(k)]
            if missing:
                problems.append(f"[[{tool}]] entry {n}: missing {', '.join(missing)}")
                continue
            reviewed = raw["reviewed"]
            if not isinstance(reviewed, date):
                problems.append(f"[[{tool}]] {raw['id']}: reviewed must be a date (2026-11-30)")
                continue
            if today - reviewed > REVIEW_EVERY:
                problems.append(
                    f"[[{tool}]] {raw['id']} ({raw['package']}): last reviewed {reviewed}, "
                    f"more than {REVIEW_EVERY.days} days ago: review it again (still needed? "
                    "still harmless here?) and update `reviewed`, or remove it"
                )
                continue
            entries.append(Allowed(tool, raw["id"], raw["package"], raw["why"], reviewed))
    if problems:
        raise ValueError("security-allowlist.toml:\n  " + "\n  ".join(problems))
    return entries


def not_allowed(findings: list[Finding], allowed: list[Allowed]) -> list[Finding]:
    def matches(f: Finding, a: Allowed) -> bool:
        return (
            a.tool == f.tool
            and a.package.lower() == f.package.lower()
            and a.id.upper() in {i.upper() for i in f.ids}
        )

    return [f for f in findings if not any(matches(f, a) for a in allowed)]


# ---------------------------------------------------------------- pip-audit


def parse_pip_audit(report: dict) -> list[Finding]:
    """Findings from pip-audit's JSON; Unreachable if PyPI answered for no package.

    pip-audit asks PyPI's JSON API about each installed version; when that API does not answer
    (a proxy, a mirror without it) it reports the package as "not found on PyPI" and skips it,
    and with every package skipped it still says "No known vulnerabilities found".
    """
    deps = report.get("dependencies", [])
    unanswered = [d["name"] for d in deps if "not found on PyPI" in d.get("skip_reason", "") or ""]
    audited = [d for d in deps if "skip_reason" not in d]
    if unanswered:
        raise Unreachable(
            f"PyPI's vulnerability data did not answer for {len(unanswered)} of "
            f"{len(deps)} installed packages (e.g. {', '.join(unanswered[:3])}); "
            "the Python dependencies were NOT audited"
        )
    if not audited:
        raise Unreachable("pip-audit audited no package at all")
    findings = []
    for dep in audited:
        for vuln in dep.get("vulns", []):
            ids = frozenset([vuln["id"], *vuln.get("aliases", [])])
            fix = ", ".join(vuln.get("fix_versions", [])) or "no fixed version yet"
            findings.append(Finding("pip", dep["name"], dep["version"], ids, f"fixed in {fix}"))
    return findings


def pip_audit() -> list[Finding]:
    last = ""
    for attempt in range(1, TRIES + 1):
        done = subprocess.run(  # noqa: S603  (fixed arguments, our own venv's interpreter)
            [
                sys.executable,
                "-m",
                "pip_audit",
                "--format",
                "json",
                "--progress-spinner",
                "off",
                "--skip-editable",  # homeward itself, not a published package
                "--timeout",
                "10",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        # pip-audit exits 1 when it found vulnerabilities: that is an answer, not a failure.
        try:
            return parse_pip_audit(json.loads(done.stdout))
        except json.JSONDecodeError:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        except Unreachable as exc:
            last = str(exc)
        if attempt < TRIES:
            time.sleep(RETRY_PAUSE)
    raise Unreachable(f"pip-audit, {TRIES} tries: {last}")


# ---------------------------------------------------------------- npm audit

GHSA = re.compile(r"GHSA(-[23456789cfghjmpqrvwx]{4}){3}")


def parse_npm_audit(report: dict) -> list[Finding]:
    """Findings from `npm audit --json` (npm 7+): each advisory once, under the package it is
    in (a package that is vulnerable only through another one names no advisory itself)."""
    if "error" in report or "vulnerabilities" not in report:
        detail = report.get("error", {})
        summary = detail.get("summary") if isinstance(detail, dict) else str(detail)
        raise Unreachable(f"npm audit: {summary or 'no vulnerability report returned'}")
    findings = []
    for name, entry in report["vulnerabilities"].items():
        for via in entry.get("via", []):
            if not isinstance(via, dict):
                continue  # "through package X": X's own entry names the advisory
            match = GHSA.search(via.get("url", ""))
            ids = {str(via.get("source", ""))} | ({match[0]} if match else set())
            findings.append(
                Finding(
                    "npm",
                    via.get("name", name),
                    via.get("range", ""),
                    frozenset(i for i in ids if i),
                    f"{via.get('severity', '?')}: {via.get('title', '')}",
                )
            )
    return findings


def npm_audit() -> list[Finding]:
    npm = shutil.which("npm")  # from PATH, as make runs it
    if npm is None:
        raise Unreachable("npm is not installed (make system-deps)")
    last = ""
    for attempt in range(1, TRIES + 1):
        done = subprocess.run(  # noqa: S603  (fixed arguments)
            [npm, "audit", "--json", "--package-lock-only"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        try:
            return parse_npm_audit(json.loads(done.stdout or "{}"))
        except json.JSONDecodeError:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        except Unreachable as exc:
            stderr = [ln for ln in done.stderr.splitlines() if "audit" in ln]
            last = f"{exc}" + (f" ({stderr[0].strip()})" if stderr else "")
        if attempt < TRIES:
            time.sleep(RETRY_PAUSE)
    raise Unreachable(f"npm audit, {TRIES} tries: {last}")


# ---------------------------------------------------------------- ruff (bandit's rules)


def ruff_security() -> int:
    """ruff's S rules (flake8-bandit) over the code, as pyproject.toml selects and ignores them
    (`--select S` on the command line would drop its reasoned ignores); every other exception
    is a `# noqa: S...` with its reason beside it. Returns the number of findings."""
    done = subprocess.run(  # noqa: S603  (fixed arguments)
        [str(Path(sys.executable).parent / "ruff"), "check", "--output-format", "json", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        results = json.loads(done.stdout)
    except json.JSONDecodeError:
        print(done.stdout + done.stderr)
        return 1
    found = [r for r in results if (r.get("code") or "").startswith("S")]
    for r in found:
        where = Path(r["filename"]).relative_to(ROOT)
        print(f"  {where}:{r['location']['row']}: {r['code']} {r['message']}")
    return len(found)


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["ruff", "pip", "npm"])
    args = parser.parse_args(argv)
    on_unreachable = os.environ.get("HOMEWARD_SECURITY_UNREACHABLE", "fail")
    started = time.monotonic()

    try:
        allowed = load_allowlist()
    except ValueError as exc:
        print(f"SECURITY CHECKS FAILED: {exc}")
        return 1

    failed = False
    if args.only in (None, "ruff"):
        if ruff_security():
            print("SECURITY CHECKS FAILED: ruff's security rules (S) found the above.")
            failed = True
        else:
            print("ruff security rules: clean")

    for tool, run in (("pip", pip_audit), ("npm", npm_audit)):
        if args.only not in (None, tool):
            continue
        try:
            findings = run()
        except Unreachable as exc:
            if on_unreachable == "warn":
                print(f"WARNING, {tool} dependencies NOT AUDITED: {exc}")
                continue
            print(
                f"SECURITY CHECKS FAILED: {exc}.\n"
                "  The advisory service could not be reached, so nothing was checked. Check the "
                "network, or (only where the service is known to be unreachable) set "
                "HOMEWARD_SECURITY_UNREACHABLE=warn."
            )
            failed = True
            continue
        unlisted = not_allowed(findings, allowed)
        kept = len(findings) - len(unlisted)
        if unlisted:
            failed = True
            print(f"SECURITY CHECKS FAILED: {len(unlisted)} {tool} advisories not allowed:")
            for f in unlisted:
                print(f"  {f.describe()}")
            print(
                "  Upgrade the package, or (only when it cannot affect Homeward) add an entry "
                f"to security-allowlist.toml under [[{tool}]] with id, package, why, reviewed."
            )
        else:
            print(f"{tool} audit: no advisories outside the allow-list ({kept} allowed)")

    print(f"security checks took {time.monotonic() - started:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
