"""The second factor's pure rules: codes, drift, replay's step, recovery codes, the QR code."""

from __future__ import annotations

import re

import pyotp

from webapp.accounts import second_factor as factor
from webapp.accounts.models import Role

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
T = 1_700_000_015.0  # 15 s into a step
STEP = int(T // 30)


def test_the_code_of_now_and_one_step_either_side_match_their_own_step():
    totp = pyotp.TOTP(SECRET)
    assert factor.matching_step(SECRET, totp.at(T), T) == STEP
    assert factor.matching_step(SECRET, totp.at(T - 30), T) == STEP - 1
    assert factor.matching_step(SECRET, totp.at(T + 30), T) == STEP + 1


def test_two_steps_of_drift_is_too_many():
    totp = pyotp.TOTP(SECRET)
    codes_near = {totp.at(T + d * 30) for d in (-1, 0, 1)}
    for far in (-2, 2):
        code = totp.at(T + far * 30)
        if code not in codes_near:  # a coincidence of 6 digits would prove nothing
            assert factor.matching_step(SECRET, code, T) is None


def test_an_accepted_step_is_what_replay_protection_compares():
    # The step answered is what the server keeps; the same code later answers the same step,
    # never a newer one, so `step > last_step` refuses it (the compare-and-set in the service).
    code = pyotp.TOTP(SECRET).at(T)
    assert factor.matching_step(SECRET, code, T + 10) == STEP
    assert factor.matching_step(SECRET, code, T + 30) == STEP  # one step later: still STEP


def test_what_people_type_is_normalised_and_junk_refused():
    code = pyotp.TOTP(SECRET).at(T)
    assert factor.matching_step(SECRET, f" {code[:3]} {code[3:]} ", T) == STEP
    assert factor.matching_step(SECRET, f"{code[:3]}-{code[3:]}", T) == STEP
    for junk in ("", "12345", "1234567", "abcdef", None):
        assert factor.matching_step(SECRET, junk, T) is None
    assert factor.looks_like_totp("123 456") and not factor.looks_like_totp("abcde-fghij")


def test_recovery_codes_are_ten_distinct_unambiguous_codes():
    codes = factor.new_recovery_codes()
    assert len(codes) == 10 and len(set(codes)) == 10
    for code in codes:
        assert re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", code)
        assert not set(code) & set("01ilo")
        assert not factor.looks_like_totp(code)
    assert factor.normalise("ABCDE FGHIJ") == factor.normalise("abcde-fghij") == "abcdefghij"


def test_secrets_are_160_bits_of_base32():
    secret = factor.new_secret()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret) and secret != factor.new_secret()


def test_the_qr_code_is_inline_svg_without_style_attributes_or_the_address_in_text():
    uri = factor.provisioning_uri(SECRET, "morgan@example.test")
    assert uri.startswith("otpauth://totp/Homeward:morgan%40example.test?secret=" + SECRET)
    svg = str(factor.qr_svg(uri))
    assert svg.startswith('<svg role="img" aria-label=') and svg.endswith("</svg>")
    assert "style=" not in svg and "<script" not in svg  # the CSP forbids inline styles
    assert "morgan" not in svg and SECRET not in svg


def test_roles_with_authority_wide_reach_require_it():
    assert factor.required_for(Role.MANAGER) and factor.required_for(Role.ADMIN)
    assert factor.required_for(Role.SENIOR_MANAGER) and factor.required_for(Role.CME)
    for role in (Role.WORKER, Role.SOCIAL_WORKER, Role.IRO, Role.DSL, Role.CARER):
        assert not factor.required_for(role)
