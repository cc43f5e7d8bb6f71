"""Where alerts go: ``observability.alerts.receiver`` and the secret ``alertReceiverSecret``.

The committed stacks are the inputs: prod routes to PagerDuty (refused without a receiver), staging
installs Alertmanager without one and is warned. The exact messages are what a user reads.
"""

from __future__ import annotations

import json
import logging

import pytest
import yaml

from support import ROOT
from support.config import env, problems
from support.render import inputs
from triton_platform.config import ConfigError, load_settings
from triton_platform.config.observability_rules import alert_receiver_warning
from triton_platform.config.stack_file import read_stack_file
from triton_platform.review.render import render_stack, write_render

RELEASE = "kubernetes:helm.sh/v3:Release"
SECRET = "kubernetes:core/v1:Secret"
RECEIVER = "triton-platform:observability.alerts.receiver"
SET_SECRET = "`pulumi config set --secret alertReceiverSecret <value>`"


def _stack(name: str) -> tuple[dict[str, str], frozenset[str]]:
    config, secret_keys = read_stack_file(ROOT / f"Pulumi.{name}.yaml")
    return config, frozenset(secret_keys)


def _with_receiver(config: dict[str, str], receiver: dict | None) -> dict[str, str]:
    observability = json.loads(config["triton-platform:observability"])
    if receiver is None:
        observability["alerts"].pop("receiver", None)
    else:
        observability["alerts"]["receiver"] = receiver
    return {**config, "triton-platform:observability": json.dumps(observability)}


def _refusal(config: dict[str, str], secret_keys: frozenset[str], stack_file: str = "Pulumi.prod.yaml") -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(config, stack_file, secret_keys)
    return str(caught.value)


def test_prod_without_a_receiver_is_refused_naming_the_file_and_the_key():
    config, secret_keys = _stack("prod")
    config = _with_receiver(config, None)
    config.pop("triton-platform:alertReceiverSecret")
    assert _refusal(config, secret_keys - {"triton-platform:alertReceiverSecret"}) == (
        "Invalid configuration in Pulumi.prod.yaml (1 problem):\n"
        f"  - {RECEIVER} = (not set): prod must send alerts to someone, but without a receiver Alertmanager drops "
        "every alert (the chart's null receiver); set observability.alerts.receiver.kind to webhook, slack, "
        f"pagerduty or email, and its credential with {SET_SECRET}"
    )


def test_the_committed_prod_stack_routes_to_pagerduty_with_its_key_a_pulumi_secret():
    config, secret_keys = _stack("prod")
    assert config["triton-platform:alertReceiverSecret"] == "[secret]"
    assert "triton-platform:alertReceiverSecret" in secret_keys
    receiver = load_settings(config, "Pulumi.prod.yaml", secret_keys).observability.alerts.receiver
    assert receiver is not None and receiver.kind == "pagerduty"


def test_the_receivers_secret_must_be_a_pulumi_secret():
    config, secret_keys = _stack("prod")
    config = {**config, "triton-platform:alertReceiverSecret": "0123456789abcdef0123456789abcdef"}
    assert _refusal(config, secret_keys - {"triton-platform:alertReceiverSecret"}).endswith(
        "  - triton-platform:alertReceiverSecret: is stored in plain text; set it with "
        "`pulumi config set --secret alertReceiverSecret`"
    )


def test_a_receiver_and_its_secret_come_together():
    config, secret_keys = _stack("prod")
    without_secret = {k: v for k, v in config.items() if k != "triton-platform:alertReceiverSecret"}
    assert _refusal(without_secret, secret_keys - {"triton-platform:alertReceiverSecret"}).endswith(
        "  - triton-platform:alertReceiverSecret = (not set): is required by observability.alerts.receiver.kind "
        f"pagerduty: the PagerDuty Events API v2 integration (routing) key; set it with {SET_SECRET}"
    )
    staging, staging_secrets = _stack("staging")
    orphan = {**staging, "triton-platform:alertReceiverSecret": "[secret]"}
    assert _refusal(orphan, staging_secrets | {"triton-platform:alertReceiverSecret"}, "Pulumi.staging.yaml").endswith(
        "  - triton-platform:alertReceiverSecret = '[secret]': is read by nothing: observability.alerts.receiver is "
        "not set; set it or remove this key"
    )


OBS = {"enabled": True, "addons": {"prometheusStack": True}}


@pytest.mark.parametrize(
    ("observability", "secret", "expected"),
    [
        (
            {**OBS, "alerts": {"receiver": {"kind": "email"}}},
            False,
            [
                f"{RECEIVER}.emailTo = (not set): is required for kind email: an email address",
                f"{RECEIVER}.emailFrom = (not set): is required for kind email: an email address",
                f"{RECEIVER}.emailSmarthost = (not set): is required for kind email: the SMTP server as host:port, "
                "e.g. smtp.example.com:587",
            ],
        ),
        (
            {
                **OBS,
                "alerts": {
                    "receiver": {
                        "kind": "email",
                        "emailTo": "oncall",
                        "emailFrom": "am@acme.test",
                        "emailSmarthost": "smtp.acme.test",
                    }
                },
            },
            False,
            [
                f"{RECEIVER}.emailTo = 'oncall': must be an email address",
                f"{RECEIVER}.emailSmarthost = 'smtp.acme.test': must be the SMTP server as host:port, e.g. smtp.example.com:587",
            ],
        ),
        (
            {**OBS, "alerts": {"receiver": {"kind": "webhook", "slackChannel": "#ml"}}},
            True,
            [
                f"{RECEIVER}.slackChannel = '#ml': applies only to kind slack, not webhook; remove it",
            ],
        ),
        (
            {
                **OBS,
                "alerts": {
                    "receiver": {
                        "kind": "email",
                        "emailTo": "oncall@acme.test",
                        "emailFrom": "am@acme.test",
                        "emailSmarthost": "smtp.acme.test:587",
                    }
                },
            },
            True,
            [
                "triton-platform:alertReceiverSecret = '[secret]': is read only as the SMTP password of "
                "observability.alerts.receiver.emailAuthUsername, which is not set; set that or remove this key",
            ],
        ),
        (
            {
                "enabled": True,
                "addons": {"prometheusStack": True, "alertmanager": False},
                "alerts": {"receiver": {"kind": "slack"}},
            },
            True,
            [
                f"{RECEIVER}.kind = 'slack': has no effect: this stack installs no Alertmanager (it needs "
                "observability.enabled, addons.prometheusStack and addons.alertmanager true); configure your own "
                "Alertmanager or remove the receiver",
            ],
        ),
        (
            {**OBS, "alerts": {"receiver": {"kind": "opsgenie"}}},
            False,
            [
                f"{RECEIVER}.kind = 'opsgenie': Input should be 'webhook', 'slack', 'pagerduty' or 'email'",
            ],
        ),
    ],
    ids=["email-incomplete", "email-malformed", "foreign-field", "unneeded-secret", "no-alertmanager", "unknown-kind"],
)
def test_bad_receivers_get_one_line_each(observability, secret, expected):
    config = env("dev", triton={"modelRepository": "gs://models/repo"}, observability=observability)
    secret_keys: frozenset[str] = frozenset()
    if secret:
        config["triton-platform:alertReceiverSecret"] = "[secret]"
        secret_keys = frozenset({"triton-platform:alertReceiverSecret"})
    with pytest.raises(ConfigError) as caught:
        load_settings(config, "Pulumi.test.yaml", secret_keys)
    assert caught.value.problems == expected


def test_an_email_receiver_without_smtp_auth_needs_no_secret():
    receiver = {
        "kind": "email",
        "emailTo": "oncall@acme.test",
        "emailFrom": "am@acme.test",
        "emailSmarthost": "smtp.acme.test:25",
    }
    config = env(
        "dev", triton={"modelRepository": "gs://models/repo"}, observability={**OBS, "alerts": {"receiver": receiver}}
    )
    assert load_settings(config, "Pulumi.test.yaml").observability.alerts.receiver.email_to == "oncall@acme.test"
    assert problems(
        env(
            "dev",
            triton={"modelRepository": "gs://models/repo"},
            observability={**OBS, "alerts": {"receiver": {**receiver, "emailAuthUsername": "am"}}},
        )
    ) == [
        "triton-platform:alertReceiverSecret = (not set): is required by observability.alerts.receiver.kind email: "
        f"the SMTP password of email_auth_username; set it with {SET_SECRET}"
    ]


def test_staging_without_a_receiver_is_warned_when_it_renders(caplog):
    config, secret_keys = _stack("staging")
    settings = load_settings(config, "Pulumi.staging.yaml", secret_keys)
    warning = (
        f"Pulumi.staging.yaml: {RECEIVER} is not set, so Alertmanager drops every alert (the chart's null receiver); "
        "prod refuses this. To receive them, set observability.alerts.receiver.kind to webhook, slack, pagerduty or "
        f"email, and {SET_SECRET}."
    )
    assert alert_receiver_warning(settings, "Pulumi.staging.yaml") == warning
    with caplog.at_level(logging.WARNING):
        render_stack(ROOT, "staging")
    assert warning in caplog.messages
    with caplog.at_level(logging.WARNING):
        caplog.clear()
        render_stack(ROOT, "prod")
    assert not [m for m in caplog.messages if "alerts.receiver" in m]


def test_the_prod_render_routes_every_alert_to_pagerduty_and_keeps_the_key_out_of_the_files(tmp_path):
    render = render_stack(ROOT, "prod")
    values = inputs(render, RELEASE, "monitoring-addons-prometheus-stack")["values"]["alertmanager"]
    key_file = "/etc/alertmanager/secrets/alertmanager-receiver/credential"
    assert values["alertmanagerSpec"]["secrets"] == ["alertmanager-receiver"]
    config = values["config"]
    assert config["route"]["receiver"] == "platform"
    assert [r["receiver"] for r in config["route"]["routes"]] == ["null", "null"]  # Watchdog, InfoInhibitor only
    assert config["receivers"][1] == {
        "name": "platform",
        "pagerduty_configs": [{"routing_key_file": key_file, "send_resolved": True}],
    }
    secret = inputs(render, SECRET, "monitoring-addons-alertmanager-receiver")
    assert secret["metadata"] == {**secret["metadata"], "name": "alertmanager-receiver", "namespace": "monitoring"}
    assert secret["stringData"] == {"credential": "[secret]"}
    out = write_render(render, tmp_path)
    written = "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert "alertmanager-receiver" in written and "[secret]" in written
    ciphertext = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"][
        "triton-platform:alertReceiverSecret"
    ]["secure"]
    assert ciphertext not in written
