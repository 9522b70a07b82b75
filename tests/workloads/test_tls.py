"""HTTPS twins verify the peer: a certificate for another name fails every twin with one line
naming the TLS error; the run's keys are never printed or saved."""

from __future__ import annotations

import json

import pytest

from harness.model.registry import Selection
from harness.run.runner import RunRequest, execute


def test_a_certificate_for_another_name_fails_every_twin_and_no_key_is_saved(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harness.peers.tls.SERVER_NAMES", ("not-this-host.example",))
    request = RunRequest(selection=Selection(("http_fetch",), scenarios=("latency-bound-tls",)),
                         profile="quick")
    result = execute(request)
    failed = [o for o in result.outcomes.values() if o.failed]
    twins = {o.case_id.removeprefix("http_fetch-latency-bound-tls-") for o in failed}
    assert twins == {"requests", "requests-threads", "httpx-threads", "curl-cffi-threads",
                     "pyreqwest-threads", "aiohttp", "curl-cffi-async", "pyreqwest-async"}
    for outcome in failed:
        assert "\n" not in outcome.detail
        assert ("CERTIFICATE_VERIFY_FAILED" in outcome.detail  # OpenSSL through ssl
                or "certificate verify failed" in outcome.detail
                or "CertificateVerifyError" in outcome.detail  # libcurl
                or "invalid peer certificate" in outcome.detail), outcome.detail  # rustls
    assert result.exit_code == 1
    assert result.run is None or "PRIVATE KEY" not in json.dumps(result.run.doc)
