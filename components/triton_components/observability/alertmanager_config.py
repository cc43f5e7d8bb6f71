"""Where Alertmanager sends alerts: one receiver (webhook, Slack, PagerDuty or email) and the routing
tree around it, as the ``alertmanager.config`` value of kube-prometheus-stack.

Without it the chart routes every alert to its ``null`` receiver: alerts fire and nobody hears.

The receiver's credential (a webhook URL carries its token, Slack's incoming-webhook URL, PagerDuty's
routing key, the SMTP password) never enters the Helm values: ``MonitoringAddons`` keeps it in a
Kubernetes Secret that the operator mounts into Alertmanager (``alertmanagerSpec.secrets``), and the
config names the file (Alertmanager's ``*_file`` fields: webhook ``url_file`` from 0.26, Slack
``api_url_file`` from 0.22, PagerDuty ``routing_key_file``, email ``auth_password_file``; the pinned
chart ships 0.34). So the rendered config is reviewable in full and the credential stays a Pulumi
secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, NotRequired, TypedDict, get_args

import pulumi

AlertReceiverKind = Literal["webhook", "slack", "pagerduty", "email"]
ALERT_RECEIVER_KINDS: tuple[str, ...] = get_args(AlertReceiverKind)
#: What the credential is, per kind (for messages and docs).
CREDENTIAL_MEANING = {
    "webhook": "the webhook URL (it usually carries a token)",
    "slack": "the Slack incoming-webhook URL",
    "pagerduty": "the PagerDuty Events API v2 integration (routing) key",
    "email": "the SMTP password of email_auth_username",
}
#: The Secret holding the credential, in the monitoring namespace, and where the operator mounts it
#: (``/etc/alertmanager/secrets/<secret>/<key>``).
RECEIVER_SECRET_NAME = "alertmanager-receiver"
RECEIVER_SECRET_KEY = "credential"
CREDENTIAL_FILE = f"/etc/alertmanager/secrets/{RECEIVER_SECRET_NAME}/{RECEIVER_SECRET_KEY}"
#: Name of the receiver in the routing tree.
RECEIVER_NAME = "platform"
#: Alerts that exist to be silent: the always-firing heartbeat and the info-level inhibitor of
#: kube-prometheus-stack's own rules.
SILENT_ALERTS = ("Watchdog", "InfoInhibitor")
#: How long a still-firing alert waits before it is sent again. The chart's 12 h lets an unfixed
#: prod problem go quiet for half a day; 4 h reminds each on-call shift.
REPEAT_INTERVAL = "4h"
EMAIL_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+$")
HOST_PORT = re.compile(r"^[A-Za-z0-9.-]+:[0-9]{1,5}$")


class AlertReceiverArgs(TypedDict):
    """Where every alert goes (the root route of Alertmanager)."""

    kind: AlertReceiverKind
    """``webhook``, ``slack``, ``pagerduty`` or ``email``. Required."""
    credential: NotRequired[pulumi.Input[str] | None]
    """The receiver's secret, kept as a Pulumi secret in a Kubernetes Secret: see ``CREDENTIAL_MEANING``.
    Required, except for ``email`` without ``email_auth_username``. Default: none."""
    slack_channel: NotRequired[str]
    """``slack``: the channel to post in (``#ml-oncall``). Default: the incoming webhook's own channel."""
    email_to: NotRequired[str]
    """``email``: the address alerts go to. Required for ``email``."""
    email_from: NotRequired[str]
    """``email``: the sender address. Required for ``email``."""
    email_smarthost: NotRequired[str]
    """``email``: the SMTP server as ``host:port`` (TLS is required). Required for ``email``."""
    email_auth_username: NotRequired[str]
    """``email``: the SMTP user; ``credential`` is then its password. Default: no SMTP authentication."""


def validate_receiver(receiver: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming the input, the bad value and what is accepted."""
    kind = receiver.get("kind")
    if kind not in ALERT_RECEIVER_KINDS:
        raise ValueError(f"alert_receiver kind {kind!r} must be one of {', '.join(ALERT_RECEIVER_KINDS)}")
    email_keys = ("email_to", "email_from", "email_smarthost", "email_auth_username")
    foreign = [k for k in ("slack_channel", *email_keys) if k in receiver and not k.startswith(f"{kind}_")]
    if foreign:
        raise ValueError(f"alert_receiver {', '.join(foreign)} do not apply to kind {kind!r}; remove them")
    if kind == "email":
        missing = [k for k in email_keys[:3] if not receiver.get(k)]
        if missing:
            raise ValueError(f"alert_receiver kind 'email' needs {', '.join(missing)}")
        for key in ("email_to", "email_from"):
            if not EMAIL_ADDRESS.match(receiver[key]):
                raise ValueError(f"alert_receiver {key} {receiver[key]!r} must be an email address")
        if not HOST_PORT.match(receiver["email_smarthost"]):
            raise ValueError(f"alert_receiver email_smarthost {receiver['email_smarthost']!r} must be host:port")
    if needs_credential(receiver) and receiver.get("credential") is None:
        raise ValueError(f"alert_receiver kind {kind!r} needs credential: {CREDENTIAL_MEANING[kind]}")
    if not needs_credential(receiver) and receiver.get("credential") is not None:
        raise ValueError("alert_receiver credential is set for email without email_auth_username; set both or neither")


def needs_credential(receiver: Mapping[str, Any]) -> bool:
    return receiver.get("kind") != "email" or "email_auth_username" in receiver


def _receiver_config(receiver: Mapping[str, Any]) -> dict[str, Any]:
    kind = receiver["kind"]
    if kind == "webhook":
        return {"webhook_configs": [{"url_file": CREDENTIAL_FILE, "send_resolved": True}]}
    if kind == "slack":
        slack: dict[str, Any] = {"api_url_file": CREDENTIAL_FILE, "send_resolved": True}
        if "slack_channel" in receiver:
            slack["channel"] = receiver["slack_channel"]
        return {"slack_configs": [slack]}
    if kind == "pagerduty":
        return {"pagerduty_configs": [{"routing_key_file": CREDENTIAL_FILE, "send_resolved": True}]}
    email: dict[str, Any] = {
        "to": receiver["email_to"],
        "from": receiver["email_from"],
        "smarthost": receiver["email_smarthost"],
        "require_tls": True,
        "send_resolved": True,
    }
    if "email_auth_username" in receiver:
        email["auth_username"] = receiver["email_auth_username"]
        email["auth_password_file"] = CREDENTIAL_FILE
    return {"email_configs": [email]}


def alertmanager_config(receiver: Mapping[str, Any]) -> dict[str, Any]:
    """The whole Alertmanager configuration (Helm merges maps but replaces lists, so every list the
    chart sets by default is given here in full and the render shows what Alertmanager loads)."""
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": RECEIVER_NAME,
            "group_by": ["namespace", "alertname"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": REPEAT_INTERVAL,
            "routes": [{"receiver": "null", "matchers": [f'alertname = "{name}"']} for name in SILENT_ALERTS],
        },
        "receivers": [{"name": "null"}, {"name": RECEIVER_NAME, **_receiver_config(receiver)}],
        # The chart's defaults: a critical alert silences the warning/info of the same alert.
        "inhibit_rules": [
            {
                "source_matchers": ["severity = critical"],
                "target_matchers": ["severity =~ warning|info"],
                "equal": ["namespace", "alertname"],
            },
            {
                "source_matchers": ["severity = warning"],
                "target_matchers": ["severity = info"],
                "equal": ["namespace", "alertname"],
            },
            {
                "source_matchers": ["alertname = InfoInhibitor"],
                "target_matchers": ["severity = info"],
                "equal": ["namespace"],
            },
            {"target_matchers": ["alertname = InfoInhibitor"]},
        ],
        "templates": ["/etc/alertmanager/config/*.tmpl"],
    }
