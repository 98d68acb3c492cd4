"""scripts/security_checks.py: what counts as a finding, what the allow-list lets through, and
that an audit nobody answered is a failure, never "nothing found"."""

from __future__ import annotations

import importlib.util
import sys
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location(
    "security_checks", ROOT / "scripts/security_checks.py"
)
sc = importlib.util.module_from_spec(spec)
sys.modules["security_checks"] = sc  # dataclasses look their module up there
spec.loader.exec_module(sc)

PIP_REPORT = {
    "dependencies": [
        {"name": "flask", "version": "3.1.3", "vulns": []},
        {
            "name": "jinja2",
            "version": "2.10",
            "vulns": [
                {
                    "id": "PYSEC-2019-217",
                    "aliases": ["CVE-2019-10906", "GHSA-462w-v97r-4m45"],
                    "fix_versions": ["2.10.1"],
                    "description": "sandbox escape",
                }
            ],
        },
        {"name": "homeward", "skip_reason": "distribution marked as editable"},
    ]
}
NPM_REPORT = {
    "vulnerabilities": {
        "sass": {"via": ["immutable"]},  # only through another package
        "immutable": {
            "via": [
                {
                    "source": 1103,
                    "name": "immutable",
                    "title": "Prototype Pollution",
                    "url": "https://github.com/advisories/GHSA-wf6x-7x77-mvgw",
                    "severity": "high",
                    "range": "<4.3.8",
                }
            ]
        },
    },
    "metadata": {},
}


def allow(tmp_path, text):
    path = tmp_path / "allow.toml"
    path.write_text(text)
    return sc.load_allowlist(path, today=date(2026, 11, 30))


def test_pip_findings_and_an_alias_in_the_allow_list(tmp_path):
    findings = sc.parse_pip_audit(PIP_REPORT)
    assert [(f.package, f.version) for f in findings] == [("jinja2", "2.10")]
    assert sc.not_allowed(findings, []) == findings
    allowed = allow(
        tmp_path,
        '[[pip]]\nid = "CVE-2019-10906"\npackage = "Jinja2"\nwhy = "sandbox unused"\n'
        "reviewed = 2026-11-01\n",
    )
    assert sc.not_allowed(findings, allowed) == []
    # The same id for another package, or under npm, allows nothing.
    other = allow(
        tmp_path,
        '[[npm]]\nid = "CVE-2019-10906"\npackage = "jinja2"\nwhy = "x"\nreviewed = 2026-11-01\n',
    )
    assert sc.not_allowed(findings, other) == findings


def test_npm_findings_name_each_advisory_once(tmp_path):
    findings = sc.parse_npm_audit(NPM_REPORT)
    assert len(findings) == 1
    assert findings[0].ids == {"1103", "GHSA-wf6x-7x77-mvgw"}
    allowed = allow(
        tmp_path,
        '[[npm]]\nid = "GHSA-wf6x-7x77-mvgw"\npackage = "immutable"\nwhy = "build only"\n'
        "reviewed = 2026-10-01\n",
    )
    assert sc.not_allowed(findings, allowed) == []


def test_unanswered_audits_are_failures_not_clean_bills():
    unanswered = {
        "dependencies": [
            {
                "name": "flask",
                "skip_reason": "Dependency not found on PyPI and could not be audited: flask",
            },
            {"name": "homeward", "skip_reason": "distribution marked as editable"},
        ]
    }
    with pytest.raises(sc.Unreachable, match="NOT audited"):
        sc.parse_pip_audit(unanswered)
    with pytest.raises(sc.Unreachable):
        sc.parse_npm_audit({"error": {"code": "ENOAUDIT", "summary": "405 Method Not Allowed"}})


def test_an_entry_not_reviewed_for_half_a_year_fails(tmp_path):
    with pytest.raises(ValueError, match="more than 180 days ago"):
        allow(tmp_path, '[[pip]]\nid = "X-1"\npackage = "p"\nwhy = "w"\nreviewed = 2026-01-02\n')
    with pytest.raises(ValueError, match="missing why"):
        allow(tmp_path, '[[pip]]\nid = "X-1"\npackage = "p"\nreviewed = 2026-11-02\n')


def test_the_repository_allow_list_is_valid():
    sc.load_allowlist()
